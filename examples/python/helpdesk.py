"""API-issued token SSO: api.php singlesignon (XML output), then the user's browser opens
/admin/main.php?_ssot=TOKEN. Usage: python3 helpdesk.py [BASE_URL]"""
import hashlib
import urllib.parse
import xml.etree.ElementTree as ET

from sso_http import base_url, fail, request


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


base = base_url()
r = request(f"{base}/api.php", form={
    "api_user": "admin", "api_pass_h": md5("test123"),  # the demo account (DEMO.md)
    "api_output": "xml", "api_action": "singlesignon",
    "sso_addr": "127.0.0.1", "sso_user": "joe", "sso_pass": md5("acjoe123"), "sso_duration": "30",
})
answer = ET.fromstring(r["body"])
if answer.findtext("result_code") != "1":
    fail(f"helpdesk: api.php refused: {answer.findtext('result_message')}")
print("helpdesk: api.php issued a token")
opened = request(f"{base}/admin/main.php?_ssot={urllib.parse.quote(answer.findtext('token'))}")
if opened["status"] != 302 or opened["location"] != "/admin/main.php" or not opened["cookie"]:
    fail(f"helpdesk: _ssot link refused (HTTP {opened['status']}, to {opened['location']})")
print(f"helpdesk: _ssot link signed in (HTTP {opened['status']}, to {opened['location']})")
