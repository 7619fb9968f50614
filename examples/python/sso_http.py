"""What every Python example shares: the gateway's origin, and one request (standard library
only) that reports the status, the Location and whether a cookie was set. Redirects are not
followed: a partner hands them to the browser."""
import http.client
import json
import os
import sys
import urllib.parse


def base_url():
    return (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SSO_BASE_URL", "http://demoaws.localhost:8080")).rstrip("/")


def request(url, form=None, headers=None, json_body=None):
    u = urllib.parse.urlsplit(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    # RFC 6761: *.localhost is loopback (browsers do this; many resolvers do not).
    connect_to = "127.0.0.1" if u.hostname.endswith(".localhost") else u.hostname
    cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    conn = cls(connect_to, port, timeout=30)
    headers = dict(headers or {})
    headers["Host"] = u.netloc
    body, method = None, "GET"
    if form is not None:
        body, method = urllib.parse.urlencode(form), "POST"
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        body, method = json.dumps(json_body), "POST"
        headers["Content-Type"] = "application/json"
    path = u.path + ("?" + u.query if u.query else "")
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
    except OSError as e:
        fail(f"request to {url} failed: {e}")
    return {"status": resp.status, "location": resp.getheader("Location", ""),
            "cookie": resp.getheader("Set-Cookie") is not None, "body": resp.read().decode()}


def fail(what):
    print(what, file=sys.stderr)
    sys.exit(1)
