#!/usr/bin/env bash
# Call-center SSO as a call-center platform does it: POST /sso/0 with the Platform-Key, then
# send the agent's browser to the one-time `url`. Usage: callcenter.sh [BASE_URL]
set -euo pipefail
base="${1:-${SSO_BASE_URL:-http://demoaws.localhost:8080}}"
key=demo-platform-key                                   # the demo Platform-Key (DEMO.md)
host_port="${base#*://}"; host_port="${host_port%%/*}"; host="${host_port%%:*}"; port="${host_port##*:}"
resolve=(); [[ "$host" == *.localhost ]] && resolve=(--resolve "$host:$port:127.0.0.1")

answer=$(curl -sS "${resolve[@]}" --noproxy '*' "$base/sso/0" -H 'Content-Type: application/json' \
  -H "Platform-Key: $key" -d '{"username":"agent1","fullname":"Agent One","department_id":1}')
url=""
[[ "$answer" == *'"success":1'* ]] && url=$(printf '%s' "$answer" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
if [[ -z "$url" ]]; then echo "callcenter: /sso/0 refused: $answer" >&2; exit 1; fi
echo "callcenter: /sso/0 created a login URL"
opened=$(curl -sS "${resolve[@]}" --noproxy '*' -o /dev/null -D - "$url")
status=$(printf '%s' "$opened" | head -n1 | cut -d' ' -f2)
if [[ "$status" == 302 ]] && printf '%s' "$opened" | grep -qi '^set-cookie:'; then
  echo "callcenter: login URL signed the agent in (HTTP $status)"
else
  echo "callcenter: login URL refused (HTTP $status)" >&2; exit 1
fi
