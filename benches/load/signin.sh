#!/usr/bin/env bash
# Load test of /signin.php (signed-link logins: each one redeems a distinct link and creates a
# session, durable writes to the embedded store), loopback only, bounded in time. For each
# `sso` binary given, starts `sso serve --demo` on a fresh data directory, drives it with wrk
# for SECS seconds with CONNS connections, every request a distinct valid link, and prints
# requests/second and latency.
#   bash benches/load/signin.sh SECS CONNS /path/to/sso [/path/to/other/sso ...]
# Needs wrk (Debian package `wrk`) and python3.
set -euo pipefail
secs="$1"; conns="$2"; shift 2
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Distinct links, one second further back each (the demo vendor accepts 10 hours back).
python3 - "$work/links.txt" <<'PY'
import hashlib, sys, time
now = int(time.time())
with open(sys.argv[1], "w") as f:
    for i in range(30000):
        ts = str(now - i)
        tok = hashlib.md5(("1234" + ts + "vendorpass").encode()).hexdigest()
        f.write(f"/signin.php?clientID=1234&vendorid=1001&timestamp={ts}&token={tok}\n")
PY
cat > "$work/links.lua" <<'LUA'
local threads = {}
local counter = 1
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  links = {}
  local n = 0
  for line in io.lines(os.getenv("SSO_LINKS")) do
    n = n + 1
    if n % 2 == id - 1 then table.insert(links, line) end
  end
  i = 0
  errs = 0
end
function response(status, headers, body)
  local loc = headers["Location"] or headers["location"] or ""
  if status ~= 302 or string.find(loc, "errorID") then errs = errs + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("errs") end
  print("  refused or failed logins: " .. total)
end
function request()
  i = i + 1
  return wrk.format("GET", links[i], { Host = wrk.headers["Host"] })
end
LUA
for bin in "$@"; do
  data="$work/data"; rm -rf "$data"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  SSO_LOG=warn "$bin" serve --demo --single-tenant demoaws --listen "127.0.0.1:$port" --data "$data" &
  pid=$!
  for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  echo "== $bin: GET /signin.php, ${conns} connections, ${secs}s"
  SSO_LINKS="$work/links.txt" wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/links.lua" \
    -H "Host: demoaws.localhost:$port" "http://127.0.0.1:$port/" \
    | grep -E 'Requests/sec|Latency  |50%|99%|requests in|refused'
  kill $pid; wait $pid 2>/dev/null || true
done
