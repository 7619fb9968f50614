#!/usr/bin/env bash
# API-issued token SSO as a help-desk host does it: ask api.php for a one-time token for a
# user, then open /admin/main.php?_ssot=TOKEN as that user's browser. Usage: helpdesk.sh [BASE_URL]
set -euo pipefail
base="${1:-${SSO_BASE_URL:-http://demoaws.localhost:8080}}"
api_user=admin api_pass=test123 user=joe user_pass=acjoe123   # the demo account (DEMO.md)
host_port="${base#*://}"; host_port="${host_port%%/*}"; host="${host_port%%:*}"; port="${host_port##*:}"
resolve=(); [[ "$host" == *.localhost ]] && resolve=(--resolve "$host:$port:127.0.0.1")
md5() { printf '%s' "$1" | md5sum | cut -c1-32; }

answer=$(curl -sS "${resolve[@]}" --noproxy '*' "$base/api.php" \
  --data-urlencode "api_user=$api_user" --data-urlencode "api_pass_h=$(md5 "$api_pass")" \
  -d api_output=json -d api_action=singlesignon -d sso_addr=127.0.0.1 \
  --data-urlencode "sso_user=$user" --data-urlencode "sso_pass=$(md5 "$user_pass")" -d sso_duration=30)
token=""
[[ "$answer" == *'"result_code":1'* ]] && token=$(printf '%s' "$answer" | sed -n 's/.*"token":"\([0-9a-f]*\)".*/\1/p')
if [[ -z "$token" ]]; then echo "helpdesk: api.php refused: $answer" >&2; exit 1; fi
echo "helpdesk: api.php issued a token"
opened=$(curl -sS "${resolve[@]}" --noproxy '*' -o /dev/null -D - "$base/admin/main.php?_ssot=$token")
status=$(printf '%s' "$opened" | head -n1 | cut -d' ' -f2)
location=$(printf '%s' "$opened" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
if [[ "$status" == 302 && "$location" == /admin/main.php ]] && printf '%s' "$opened" | grep -qi '^set-cookie:'; then
  echo "helpdesk: _ssot link signed in (HTTP $status, to $location)"
else
  echo "helpdesk: _ssot link refused (HTTP $status, to $location)" >&2; exit 1
fi
