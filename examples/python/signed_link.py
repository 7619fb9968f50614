"""Signed-link SSO as a vendor does it: md5(clientID . timestamp . password), then the browser
goes to /signin.php. Usage: python3 signed_link.py [BASE_URL]"""
import hashlib
import time
import urllib.parse

from sso_http import base_url, fail, request

VENDOR, CLIENT, PASSWORD = "1001", "1234", "vendorpass"  # the demo vendor (DEMO.md)

timestamp = str(int(time.time()))
token = hashlib.md5((CLIENT + timestamp + PASSWORD).encode()).hexdigest()
query = urllib.parse.urlencode({"clientID": CLIENT, "vendorid": VENDOR, "timestamp": timestamp, "token": token})
r = request(f"{base_url()}/signin.php?{query}")
if r["status"] != 302 or "errorID=" in r["location"] or not r["cookie"]:
    fail(f"signed-link: refused (HTTP {r['status']}, to {r['location']})")
print(f"signed-link: signed in (HTTP {r['status']}, session cookie set, to {r['location']})")
