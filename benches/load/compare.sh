#!/usr/bin/env bash
# The load comparison of issue 12: `sso serve` (release build, embedded store, every
# acknowledged login durable) against a PHP peer of the same three flows (plain PHP scripts
# under nginx + php-fpm from Debian: 4 static workers, opcache, file sessions; see php/), the
# same wrk load against both in one run, loopback only, bounded in time:
#   /signin.php                     every request a distinct valid signed link
#   api.php singlesignon + _ssot    mint a token, open /admin/main.php?_ssot= with it
#   /sso/0 + /sso/login             mint a one-time URL (400 Platform-Keys, round robin, so
#                                   each key stays under its 50/s limit), open it
# Prints req/s, p50, p99 per flow and server, and the ratio; exits non-zero if any answer was
# not a success (a refused login, an error page, a 4xx/5xx, a socket error).
#   bash benches/load/compare.sh [SECONDS per flow and server (default 5)] [CONNECTIONS (default 32)]
# Needs wrk, nginx-light, php-fpm (Debian), python3. PHP_SESSIONS=DIR puts the peer's session
# files under DIR (default: the run's work directory, on the same disk as `sso`'s store).
#
# With PEER_SSO=/path/to/another/sso the peer is that build of `sso` instead of PHP, on the
# same data, same load, same run: how issue 16 checks that the local server's build profile
# costs no throughput against the Lambda profile's fat-LTO build of the same code:
#   cargo build --profile lambda -p sso-cli --bin sso
#   PEER_SSO=target/lambda/sso bash benches/load/compare.sh 5 32
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/load/settle.sh
secs="${1:-5}"; conns="${2:-32}"; threads=2; nkeys=400
peer_sso="${PEER_SSO:-}"; peer=php
[ -n "$peer_sso" ] && { peer_sso=$(realpath "$peer_sso"); peer=peer; }
tools="wrk python3 curl"; [ -z "$peer_sso" ] && tools="$tools nginx"
for tool in $tools; do
  command -v "$tool" >/dev/null || { echo "compare: install $tool (apt-get install wrk nginx-light php-fpm)" >&2; exit 1; }
done
if [ -z "$peer_sso" ]; then
  fpm=$(command -v php-fpm || ls /usr/sbin/php-fpm* 2>/dev/null | head -1)
  [ -x "$fpm" ] || { echo "compare: install php-fpm" >&2; exit 1; }
fi
cargo build --release -q -p sso-cli --bin sso
sso="${CARGO_TARGET_DIR:-$PWD/target}/release/sso"
[ -z "$peer_sso" ] || [ -x "$peer_sso" ] || { echo "compare: PEER_SSO=$peer_sso is not an executable" >&2; exit 1; }
work=$(mktemp -d)
pids=()
sessions=""
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work" ${sessions:+"$sessions"}; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done; echo "compare: nothing listens on $1" >&2; exit 1; }

# ---- sso serve: the demo directory plus bench users and keys -------------------------------
{
  cat crates/sso-store/import/demo.toml
  for i in $(seq 0 127); do
    printf '\n[[helpdesk_user]]\ntenants = ["demoaws"]\nusername = "joe%d"\nid = %d\npassword = "acjoe123"\n' "$i" $((100 + i))
  done
  for i in $(seq 0 $((nkeys - 1))); do
    printf '\n[[platform_key]]\ntenants = ["demoaws"]\nkey_id = "bench-%d"\npartner = "bench-%d"\nkey = "bench-%d-platform-key"\nallow_list = ["127.0.0.1/32"]\n' "$i" "$i" "$i"
  done
} > "$work/bench.toml"
# start_sso BINARY NAME: a server of that build on its own copy of the directory; sets port.
start_sso() {
  "$1" import --data "$work/data-$2" "$work/bench.toml" >/dev/null
  port=$(free_port)
  SSO_LOG=warn,sso_store=info "$1" serve --data "$work/data-$2" --single-tenant demoaws \
    --listen "127.0.0.1:$port" 2>"$work/$2.log" &
  pids+=($!)
}
start_sso "$sso" sso; sso_port=$port

php_port=""
if [ -n "$peer_sso" ]; then
  start_sso "$peer_sso" peer; php_port=$port
else
# ---- the PHP peer --------------------------------------------------------------------------
php_port=$(free_port)
# The peer's session (and token) files: in the work directory by default, on the disk
# `sso` writes to; PHP_SESSIONS=/dev/shm puts them on tmpfs instead. Creating a file is a
# large part of what the peer does (on tmpfs it answers /signin.php 1.6-1.9x faster here),
# and on ext4 without a journal it costs far more in a directory whose block group holds
# many recently freed inodes (earlier runs' session files): the peer then answers a tenth of
# what it does otherwise. So file creation is timed there and on tmpfs first, and a run
# where it is more than 4 times slower says that its peer is not a fair one.
sessions=$(mktemp -d -p "${PHP_SESSIONS:-$work}")
mkdir -p "$sessions/sessions" "$sessions/tokens" "$work/php/nginx"
slow_fs=$(python3 - "$sessions" <<'PY'
import os, sys, tempfile, time
def create_us(parent):
    d = tempfile.mkdtemp(dir=parent)
    t = time.perf_counter()
    for i in range(300):
        with open(os.path.join(d, f"sess_{i}"), "w") as f:
            f.write("x" * 64)
    took = (time.perf_counter() - t) / 300 * 1e6
    for i in range(300):
        os.unlink(os.path.join(d, f"sess_{i}"))
    os.rmdir(d)
    return took
here = create_us(sys.argv[1])
shm = create_us("/dev/shm") if os.path.isdir("/dev/shm") else None
line = f"compare: creating a file where the PHP peer keeps its sessions ({sys.argv[1]}) takes {here:.0f} us"
if shm:
    line += f", on tmpfs {shm:.0f} us"
print(line, file=sys.stderr)
print(f"{here / shm:.1f}" if shm and here > 4 * shm else "")
PY
)
[ -z "$slow_fs" ] || echo "compare: that is ${slow_fs}x slower than on tmpfs: the PHP peer's figures will be its file system's (see docs/performance.md); use another TMPDIR or PHP_SESSIONS" >&2
cat > "$work/php/fpm.conf" <<CONF
[global]
pid = $work/php/fpm.pid
error_log = $work/php/fpm.log
daemonize = no
[peer]
listen = $work/php/fpm.sock
pm = static
pm.max_children = 4
clear_env = no
php_admin_value[session.save_path] = $sessions/sessions
php_admin_value[opcache.enable] = 1
php_admin_value[opcache.validate_timestamps] = 0
CONF
# As root, nginx's workers would drop to nobody and could not reach the socket in this
# private directory; the peer runs as whoever runs the script.
nginx_user=""; [ "$(id -u)" -eq 0 ] && nginx_user="user root;"
cat > "$work/php/nginx.conf" <<CONF
$nginx_user
daemon off;
worker_processes 2;
pid $work/php/nginx.pid;
error_log $work/php/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/php/nginx/body;
  fastcgi_temp_path $work/php/nginx/fastcgi;
  proxy_temp_path $work/php/nginx/proxy;
  uwsgi_temp_path $work/php/nginx/uwsgi;
  scgi_temp_path $work/php/nginx/scgi;
  server {
    listen 127.0.0.1:$php_port;
    root $PWD/benches/load/php;
    location = /sso/0 { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME \$document_root/sso0.php; fastcgi_pass unix:$work/php/fpm.sock; }
    location = /sso/login { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME \$document_root/ssologin.php; fastcgi_pass unix:$work/php/fpm.sock; }
    location ~ \.php\$ { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name; fastcgi_pass unix:$work/php/fpm.sock; }
  }
}
CONF
as_root=(); [ "$(id -u)" -eq 0 ] && as_root=(-R)
PEER_TOKENS="$sessions/tokens" "$fpm" --nodaemonize "${as_root[@]}" -y "$work/php/fpm.conf" &
pids+=($!)
nginx -p "$work/php" -c "$work/php/nginx.conf" &
pids+=($!)
fi
wait_port "$sso_port"; wait_port "$php_port"

# ---- distinct valid links: 3 clients x 2 vendors x one per second of the last 10 hours -----
python3 - "$work/links.txt" "$work/smoke.txt" <<'PY'
import hashlib, sys, time
now = int(time.time())
vendors = {"1001": "vendorpass", "1002": "vendorpass2"}
with open(sys.argv[2], "w") as f:  # links the load does not use
    for i in (1, 2):
        tok = hashlib.md5(("1234" + str(now - i) + "vendorpass").encode()).hexdigest()
        f.write(f"/signin.php?clientID=1234&vendorid=1001&timestamp={now - i}&token={tok}\n")
with open(sys.argv[1], "w") as f:
    for i in range(5, 35000):
        for client in ("1234", "5678", "5679"):
            for vendor, password in vendors.items():
                ts = str(now - i)
                tok = hashlib.md5((client + ts + password).encode()).hexdigest()
                f.write(f"/signin.php?clientID={client}&vendorid={vendor}&timestamp={ts}&token={tok}\n")
PY

# One link by hand on each server first: a broken set-up says why, not just "0 logins".
# Then each bench user's credentials once, as a partner's first call would: the steady state
# measured is the one where a burst has paid Argon2id once (the verified-credentials cache).
ADMIN_MD5=$(printf test123 | md5sum | cut -c1-32); JOE_MD5=$(printf acjoe123 | md5sum | cut -c1-32)
for port in "$sso_port" "$php_port"; do
  link=$(sed -n 1p "$work/smoke.txt"); [ "$port" = "$php_port" ] && link=$(sed -n 2p "$work/smoke.txt")
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: demoaws.localhost:$port" "http://127.0.0.1:$port$link")
  if [ "$code" != 302 ]; then
    echo "compare: a valid link on port $port answered $code, not 302" >&2
    tail -n 5 "$work/php/fpm.log" "$work/php/nginx/error.log" >&2 2>/dev/null || true
    exit 1
  fi
  for i in $(seq 0 127); do
    curl -s -o /dev/null -H "Host: demoaws.localhost:$port" "http://127.0.0.1:$port/api.php?api_user=admin&api_pass_h=$ADMIN_MD5&api_output=json&api_action=singlesignon&sso_addr=127.0.0.1&sso_user=joe$i&sso_pass=$JOE_MD5&sso_duration=30"
  done
done

if [ -n "${COMPARE_HOLD:-}" ]; then
  echo "compare: holding: sso on $sso_port, php on $php_port, work $work"; sleep "$COMPARE_HOLD"
fi
export LINKS="$work/links.txt" THREADS=$threads NKEYS=$nkeys
export ADMIN_MD5 JOE_MD5
status=0
declare -A rps
ms() { # wrk latency ("812.00us", "1.20ms", "2.01s") in milliseconds
  python3 -c 'import sys,re; v=sys.argv[1]; m=re.match(r"([\d.]+)(us|ms|s)",v); print("%.2f" % (float(m[1])*{"us":0.001,"ms":1,"s":1000}[m[2]]))' "$1"
}
printf '%-34s %-6s %10s %9s %9s  %s\n' "flow ($conns connections, ${secs}s)" server "req/s" "p50 ms" "p99 ms" answers
for flow in signin helpdesk callcenter; do
  for server in sso "$peer"; do
    port=$sso_port; [ "$server" = "$peer" ] && port=$php_port
    # A PHP run that spent a tenth of its time stalled on the disk (ext4 still writing back or
    # discarding what the run before left, under the peer's session files: 800 req/s instead
    # of 6 000) is measuring the disk, not the peer: it is run once more after the machine
    # settled again. (`sso` waits on its log's fdatasync by design: its stalls are its cost.)
    for attempt in 1 2; do
      sync; settle   # the previous run's deferred work is not this one's to pay for
      io0=$(io_stalled)
      out=$(FLOW=$flow wrk -t$threads -c"$conns" -d"${secs}s" --latency -s benches/load/flow.lua \
        -H "Host: demoaws.localhost:$port" "http://127.0.0.1:$port/")
      stalled=$(( ($(io_stalled) - io0) / (secs * 10000) ))   # per cent of the run
      [ "$server" = php ] && [ "$stalled" -ge 10 ] || break
      [ "$attempt" = 1 ] && echo "compare: $server stalled on I/O ${stalled}% of its $flow run; running it again" >&2
    done
    r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    answers=$(grep '^flow:' <<<"$out" | sed 's/^flow: //')
    [ "$server" = php ] && [ "$stalled" -ge 10 ] && answers="$answers (stalled on I/O ${stalled}% of the run)"
    rps[$flow.$server]=$r
    case $flow in signin) name="GET /signin.php";; helpdesk) name="api.php singlesignon + _ssot";; *) name="/sso/0 + /sso/login";; esac
    printf '%-34s %-6s %10s %9s %9s  %s\n' "$name" "$server" "$r" "$p50" "$p99" "$answers"
    if ! grep -q 'other answers 0, socket errors 0' <<<"$answers"; then
      status=1
      grep '^first other answer' <<<"$out" | sed 's/^/    /' || true
    fi
  done
done
echo
for flow in signin helpdesk callcenter; do
  python3 -c 'import sys; print("%-11s sso / %s = %.2fx" % (sys.argv[1], sys.argv[4], float(sys.argv[2]) / float(sys.argv[3])))' \
    "$flow" "${rps[$flow.sso]}" "${rps[$flow.$peer]}" "$peer"
done
[ -z "${slow_fs:-}" ] || echo "NOT COMPARABLE: the PHP peer's session files were created ${slow_fs}x slower than on tmpfs (a file system in a slow state flatters sso)"
# The embedded store's batch sizes over the run (its writer logs them every 10 s).
sleep 11
for log in "$work/sso.log" ${peer_sso:+"$work/peer.log"}; do
python3 - "$log" <<'PY'
import json, os, sys
ops = commits = largest = syncs = checkpoints = 0
longest_checkpoint = 0.0
name = os.path.basename(sys.argv[1]).removesuffix(".log")
for line in open(sys.argv[1]):
    try:
        fields = json.loads(line).get("fields", {})
    except ValueError:
        continue
    if fields.get("message") == "store writer batches":
        ops += fields["ops"]; commits += fields["commits"]; largest = max(largest, fields["largest_batch"])
        syncs += fields.get("syncs", 0); checkpoints += fields.get("checkpoints", 0)
        longest_checkpoint = max(longest_checkpoint, float(fields.get("longest_checkpoint_ms", 0)))
if commits:
    summary = f"{name} store writer: {ops} writes in {commits} commits (mean batch {ops / commits:.1f}, largest {largest})"
    if syncs:  # a build with the write-ahead log
        summary += (f", made durable by {syncs} log syncs ({commits / syncs:.1f} commits each)"
                    f" and {checkpoints} checkpoints (longest {longest_checkpoint:.1f} ms)")
    print(summary)
else:
    print(f"{name} store writer: no batch statistics logged")
PY
done
[ "$status" -eq 0 ] || echo "compare: some answers were not successes (see 'other answers' above)" >&2
exit "$status"
