#!/usr/bin/env bash
# Signed-link SSO as a vendor does it: sign clientID . timestamp . password with md5, send the
# browser to /signin.php, and see where it lands. Usage: signed_link.sh [BASE_URL]
set -euo pipefail
base="${1:-${SSO_BASE_URL:-http://demoaws.localhost:8080}}"
vendor=1001 client=1234 password=vendorpass           # the demo vendor (DEMO.md)
host_port="${base#*://}"; host_port="${host_port%%/*}"; host="${host_port%%:*}"; port="${host_port##*:}"
resolve=(); [[ "$host" == *.localhost ]] && resolve=(--resolve "$host:$port:127.0.0.1")  # RFC 6761

ts=$(date +%s)
token=$(printf '%s' "${client}${ts}${password}" | md5sum | cut -c1-32)
link="$base/signin.php?clientID=$client&vendorid=$vendor&timestamp=$ts&token=$token"
answer=$(curl -sS "${resolve[@]}" --noproxy '*' -o /dev/null -D - "$link")
status=$(printf '%s' "$answer" | head -n1 | cut -d' ' -f2)
location=$(printf '%s' "$answer" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
if [[ "$status" == 302 && "$location" != *errorID=* ]] && printf '%s' "$answer" | grep -qi '^set-cookie:'; then
  echo "signed-link: signed in (HTTP $status, session cookie set, to $location)"
else
  echo "signed-link: refused (HTTP $status, to $location)" >&2; exit 1
fi
