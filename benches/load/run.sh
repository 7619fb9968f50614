#!/usr/bin/env bash
# Load test of a running server, loopback only, bounded in time: starts a release `sso serve
# --demo` on a free port (embedded store in a temporary directory), drives it with wrk, prints
# requests/second and latency for each endpoint, then stops it.
#   bash benches/load/run.sh [seconds per endpoint (default 10)] [connections (default 16)]
# Needs wrk (Debian package `wrk`).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-10}"; conns="${2:-16}"
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q -p sso-cli --bin sso
data=$(mktemp -d); port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SSO_LOG=warn ./target/release/sso serve --demo --single-tenant demoaws --listen "127.0.0.1:$port" --data "$data" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
joe=$(printf acjoe123 | md5sum | cut -c1-32); admin=$(printf test123 | md5sum | cut -c1-32)
lua=$(mktemp --suffix=.lua)
cat > "$lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"username":"agent1","fullname":"Agent One","department_id":1,"campaign_id":"1,2"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Platform-Key"] = "demo-platform-key"
LUA
run() { echo "== $1"; shift; wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" | grep -E 'Requests/sec|Latency  |50%|99%|Non-2xx'; }
run "GET /healthz" "$base/healthz"
run "GET /api.php singlesignon (mints a token: 2-3 writes)" "$base/api.php?api_user=admin&api_pass_h=$admin&api_output=json&api_action=singlesignon&sso_addr=127.0.0.1&sso_user=joe&sso_pass=$joe&sso_duration=30"
run "POST /sso/0 (rate limited to 50/s per key: mostly 429 answers)" -s "$lua" "$base/sso/0"
rm -f "$lua"
