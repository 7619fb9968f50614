"""Call-center SSO: POST /sso/0 with the Platform-Key, then the agent's browser opens `url`.
Usage: python3 callcenter.py [BASE_URL]"""
import json

from sso_http import base_url, fail, request

r = request(f"{base_url()}/sso/0", headers={"Platform-Key": "demo-platform-key"},  # DEMO.md's key
            json_body={"username": "agent1", "fullname": "Agent One", "department_id": 1})
answer = json.loads(r["body"])
if answer.get("success") != 1:
    fail(f"callcenter: /sso/0 refused: HTTP {r['status']} {answer.get('descriptor')} {answer.get('message')}")
print("callcenter: /sso/0 created a login URL")
opened = request(answer["url"])
if opened["status"] != 302 or not opened["cookie"]:
    fail(f"callcenter: login URL refused (HTTP {opened['status']})")
print(f"callcenter: login URL signed the agent in (HTTP {opened['status']})")
