#!/usr/bin/env bash
# Soak test, loopback only, bounded in time: builds the release `sso`, starts `sso serve --demo`
# on a free port over a fresh embedded data directory, and drives it with wrk for SECONDS
# (default 300, at most 3600) with mixed traffic: signed links (valid distinct ones, bad
# signatures, missing parameters, replays), help-desk api.php (good and bad credentials,
# every output format), call-center /sso/0 (good, bad key, bad JSON; the per-key limit
# answers 429), /sso/login with bogus tokens, portal pops with a live agent session, home
# pages and health checks. Each minute it prints requests, 5xx answers, p99 latency, the
# server's RSS and the data file's size.
#   bash benches/load/soak.sh [SECONDS] [CONNECTIONS (default 8)]
# Exits non-zero on any 5xx, on RSS growing more than 20 % after the first minute, or on
# unbounded data growth: more than 4 KiB of data file per request, or a last minute that
# grows the file more than twice as fast as the second one did.
# Needs wrk (Debian package `wrk`) and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-300}"; conns="${2:-8}"
[[ "$secs" =~ ^[0-9]+$ ]] && (( secs >= 10 && secs <= 3600 )) || { echo "SECONDS: 10..3600" >&2; exit 2; }
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p sso-cli --bin sso
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SSO_LOG=warn ./target/release/sso serve --demo --listen "127.0.0.1:$port" --data "$work/data" \
  2> "$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

# The request mix, one request per line: METHOD \t HOST \t PATH \t HEADERS (k:v|k:v) \t BODY.
python3 - "$work/mix.tsv" "$port" "$secs" <<'PY'
import hashlib, http.client, re, sys, time
out, port, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
# A portal session for agent1 (CSRF form), for the pops.
def req(method, host, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Host": f"{host}:{port}"}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    return r, data
r, page = req("GET", "my.localhost", "/login/21")
csrf = re.search(r'name="csrf" value="([0-9a-f]{32})"', page).group(1)
cookies = "; ".join(c.split(";")[0] for k, c in r.getheaders() if k.lower() == "set-cookie")
r, _ = req("POST", "my.localhost", "/login/21", f"user=agent1&password=agentpass&csrf={csrf}",
           {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies})
portal = "; ".join(c.split(";")[0] for k, c in r.getheaders() if k.lower() == "set-cookie")
assert portal, "portal sign-in failed"
now = int(time.time())
admin, joe = md5("test123"), md5("acjoe123")
lines = []
def add(method, host, path, headers="", body=""):
    lines.append("\t".join([method, host, path, headers, body]))
good_cc = '{"username":"agent1","fullname":"Agent One","department_id":1,"campaign_id":"1,2"}'
cc_h = "Content-Type:application/json|Platform-Key:demo-platform-key"
# Enough distinct valid links for the whole run at a few hundred logins a second.
for i in range(max(20000, secs * 400)):
    ts = str(now - i)
    tenant = "demoaws" if i % 2 else "sandboxdemo"
    add("GET", tenant, f"/signin.php?clientID=1234&vendorid=1001&timestamp={ts}&token={md5('1234' + ts + 'vendorpass')}")
    if i % 10 == 0:
        add("GET", tenant, f"/signin.php?clientID=1234&vendorid=1001&timestamp={ts}&token={'0' * 32}")
        add("GET", tenant, "/signin.php?clientID=1234&vendorid=1001")
        add("POST", tenant, "/signin.php", "Content-Type:application/x-www-form-urlencoded",
            f"email=dup%40example.com&vendorid=1002&timestamp={ts}&token={md5('dup@example.com' + ts + 'vendorpass2')}")
        for fmt in ("json", "xml", "serialize"):
            add("GET", tenant, f"/api.php?api_user=admin&api_pass_h={admin}&api_output={fmt}&api_action=singlesignon&sso_addr=127.0.0.1&sso_user=joe&sso_pass={joe}&sso_duration=30")
        add("GET", tenant, f"/api.php?api_user=admin&api_pass_h={admin}&api_output=json&api_action=singlesignon&sso_addr=127.0.0.1&sso_user=joe&sso_pass={'f' * 32}&sso_duration=30")
        add("GET", tenant, "/api.php?api_output=json&api_action=nosuch")
        add("POST", tenant, "/sso/0", cc_h, good_cc)
        add("POST", tenant, "/sso/0", "Content-Type:application/json|Platform-Key:wrong", good_cc)
        add("POST", tenant, "/sso/0", cc_h, '{"username":')
        add("GET", tenant, "/sso/login?token=" + "ab" * 16)
        add("GET", "my.localhost", "/pop?group_id=21&client_subdomain=" + tenant, "Cookie:" + portal)
        add("GET", "my.localhost", "/pop?group_id=21&client_subdomain=nosuch", "Cookie:" + portal)
        add("GET", tenant, "/")
        add("GET", tenant, "/healthz")
        add("GET", "nosuchtenant", "/signin.php")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
PY

cat > "$work/mix.lua" <<'LUA'
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  reqs = {}
  local n, nthreads = 0, tonumber(os.getenv("SOAK_THREADS"))
  local port = os.getenv("SOAK_PORT")
  for line in io.lines(os.getenv("SOAK_MIX")) do
    if n % nthreads == id then
      local m, host, path, hdrs, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local h = { Host = (host:find("%.") and host or host .. ".localhost") .. ":" .. port }
      for k, v in hdrs:gmatch("([^:|]+):([^|]*)") do h[k] = v end
      table.insert(reqs, wrk.format(m, path, h, body ~= "" and body or nil))
    end
    n = n + 1
  end
  i = tonumber(os.getenv("SOAK_OFFSET")) % #reqs
  fives = 0
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
function response(status, headers, body)
  if status >= 500 then fives = fives + 1 end
end
function done(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do f = f + t:get("fives") end
  io.write(string.format("SOAK %d %d %d %d\n", summary.requests, f,
    latency:percentile(99), summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
size() { du -sk "$work/data" | cut -f1; }
total=0; fives=0; offset=0; minute=0; rss1=""; size1=""; grow2=""; prev=$(size); fail=0
printf '%-6s %10s %6s %9s %9s %10s\n' minute requests 5xx p99_ms rss_kib data_kib
left=$secs
while (( left > 0 )); do
  d=$(( left < 60 ? left : 60 )); left=$(( left - d )); minute=$(( minute + 1 ))
  line=$(SOAK_MIX="$work/mix.tsv" SOAK_PORT=$port SOAK_THREADS=2 SOAK_OFFSET=$offset \
    wrk -t2 -c"$conns" -d"${d}s" -s "$work/mix.lua" "http://127.0.0.1:$port/" | grep '^SOAK ')
  read -r _ n f p99 sockerr <<<"$line"
  total=$(( total + n )); fives=$(( fives + f )); offset=$(( offset + n / 2 ))
  r=$(rss); s=$(size)
  printf '%-6s %10s %6s %9.1f %9s %10s\n' "$minute" "$n" "$f" "$(echo "$p99 / 1000" | bc -l)" "$r" "$s"
  (( sockerr == 0 )) || echo "  socket errors this minute: $sockerr"
  [[ -z "$rss1" ]] && rss1=$r && size1=$s
  (( minute == 2 )) && grow2=$(( s - prev ))
  last_grow=$(( s - prev )); prev=$s
done
echo "total requests: $total, 5xx: $fives, RSS after minute 1: ${rss1} KiB, at the end: ${r} KiB, data: ${s} KiB"
(( fives == 0 )) || { echo "FAIL: $fives answers were 5xx" >&2; fail=1; }
(( r * 100 <= rss1 * 120 )) || { echo "FAIL: RSS grew more than 20 % after the first minute" >&2; fail=1; }
(( s * 1024 <= total * 4096 + 1048576 )) || { echo "FAIL: data file over 4 KiB per request" >&2; fail=1; }
if [[ -n "$grow2" && $minute -gt 2 ]] && (( last_grow > 2 * grow2 + 1024 )); then
  echo "FAIL: data growth accelerating ($last_grow KiB in the last minute, $grow2 KiB in the second)" >&2; fail=1
fi
grep -q '"level":"ERROR"' "$work/server.log" && { echo "server ERROR lines:" >&2; grep '"level":"ERROR"' "$work/server.log" | head -5 >&2; }
exit $fail
