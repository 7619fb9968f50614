#!/usr/bin/env bash
# Two builds of `sso` side by side, alternating, for changes too small for one compare.sh run
# to tell from this machine's noise: ROUNDS rounds of each flow, each round SECONDS of the same
# wrk load on this tree's release build, then on PEER_BINARY (each on its own copy of the
# bench directory, signed links split so that every round has links of its own), then the
# median of the rounds' ratios. A background job slows both builds of a round alike, so the
# ratio holds steadier than the req/s. It also prints each server's CPU time (user + system, of
# the whole process) per request, which a busy neighbour disturbs far less than the req/s, and
# the median ratio of that. Loopback only; exits non-zero on any answer that is not a success
# (a run that outran its links included).
#   bash benches/load/ab.sh PEER_BINARY [ROUNDS (default 3)] [SECONDS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/../.."
. benches/load/settle.sh
peer="${1:?usage: bash benches/load/ab.sh PEER_BINARY [ROUNDS] [SECONDS]}"
rounds="${2:-3}"; secs="${3:-3}"
[ -x "$peer" ] || { echo "ab: $peer is not an executable" >&2; exit 1; }
held=$(mktemp)
# compare.sh sets both servers up, then holds them; its process group is ended at exit.
setsid env COMPARE_HOLD=86400 PEER_SSO="$peer" bash benches/load/compare.sh 1 32 >"$held" 2>&1 &
group=$!
work=""
finish() {
  kill -- -"$group" 2>/dev/null || true
  wait "$group" 2>/dev/null || true
  [ -n "$work" ] && rm -rf "$work"
  rm -f "$held"
}
trap finish EXIT
for _ in $(seq 1800); do
  grep -q "compare: holding" "$held" && break
  kill -0 "$group" 2>/dev/null || { cat "$held" >&2; exit 1; }
  sleep 1
done
line=$(grep -h "compare: holding" "$held") || { echo "ab: servers did not come up" >&2; exit 1; }
a=$(sed -E 's/.*sso on ([0-9]+),.*/\1/' <<<"$line")
b=$(sed -E 's/.*php on ([0-9]+),.*/\1/' <<<"$line")
work=$(sed -E 's/.*work (.*)/\1/' <<<"$line")
per_round=$(( $(wc -l < "$work/links.txt") / rounds ))
split -l "$per_round" -a 3 -d "$work/links.txt" "$work/round."
export THREADS=2 NKEYS=400
ADMIN_MD5=$(printf test123 | md5sum | cut -c1-32); JOE_MD5=$(printf acjoe123 | md5sum | cut -c1-32)
export ADMIN_MD5 JOE_MD5
status=0
results="$work/ab.txt"
# The pid of whatever listens on port $1, and its CPU time so far in clock ticks.
pid_on() { ss -Hltnp "sport = :$1" | sed -nE 's/.*pid=([0-9]+).*/\1/p' | head -1; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pids=([$a]=$(pid_on "$a") [$b]=$(pid_on "$b"))
hz=$(getconf CLK_TCK)
for flow in ${FLOWS:-signin helpdesk callcenter}; do
  for r in $(seq 0 $((rounds - 1))); do
    for side in this peer; do
      port=$a; [ "$side" = peer ] && port=$b
      sync; settle
      before=$(ticks "${pids[$port]}")
      out=$(LINKS=$(printf '%s/round.%03d' "$work" "$r") FLOW=$flow \
        wrk -t2 -c32 -d"${secs}s" --latency -s benches/load/flow.lua \
        -H "Host: demoaws.localhost:$port" "http://127.0.0.1:$port/")
      used=$(( $(ticks "${pids[$port]}") - before ))
      rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
      p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
      requests=$(awk '/requests in/ {print $1}' <<<"$out")
      cpu=$(( used * 1000000 / hz / (requests > 0 ? requests : 1) ))
      answers=$(grep '^flow:' <<<"$out" | sed 's/^flow: //')
      printf '%-10s round %d %-4s %10s req/s  p99 %8s  cpu %4d us/req  %s\n' "$flow" "$r" "$side" "$rps" "$p99" "$cpu" "$answers"
      echo "$flow $r $side $rps $cpu" >>"$results"
      if ! grep -q 'other answers 0, socket errors 0' <<<"$answers"; then
        status=1
        grep -E '^(first other answer|ran out)' <<<"$out" | sed 's/^/    /' || true
      fi
    done
  done
done
echo
python3 - "$results" "$peer" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    flow, _, side, rps, cpu = line.split()
    runs[flow][side].append(float(rps))
    runs[flow][side + " cpu"].append(float(cpu))
for flow, sides in runs.items():
    ratios = [a / b for a, b in zip(sides["this"], sides["peer"])]
    print(f"{flow:<10} this / {sys.argv[2]}: median {statistics.median(ratios):.2f}x "
          f"(rounds {' '.join(f'{r:.2f}' for r in ratios)}; median req/s "
          f"{statistics.median(sides['this']):.0f} vs {statistics.median(sides['peer']):.0f})")
    cpu = [b / a for a, b in zip(sides["this cpu"], sides["peer cpu"]) if a > 0]
    if cpu:
        print(f"{flow:<10} CPU per request, {sys.argv[2]} / this: median {statistics.median(cpu):.2f}x "
              f"(rounds {' '.join(f'{r:.2f}' for r in cpu)}; median "
              f"{statistics.median(sides['this cpu']):.0f} vs {statistics.median(sides['peer cpu']):.0f} us)")
PY
[ "$status" -eq 0 ] || echo "ab: some answers were not successes (see above)" >&2
exit "$status"
