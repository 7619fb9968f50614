# Sourced by the load scripts. `settle` waits (at most 60 s) until this machine is quiet: over
# half a second, the CPUs at least 90% idle and tasks stalled on I/O less than 1% of the time
# (/proc/pressure/io). A server that leaves work behind when its run ends (a checkpoint still
# being written, the kernel writing back or discarding its blocks) would otherwise do it
# during the next server's run and slow that one down, flattering itself.
settle() {
  local t a b idle total io0 io1
  for t in $(seq 120); do
    read -r -a a < /proc/stat
    io0=$(io_stalled)
    sleep 0.5
    read -r -a b < /proc/stat
    io1=$(io_stalled)
    # /proc/stat's cpu line: user nice system idle iowait irq softirq steal; iowait is busy.
    idle=$(( b[4] - a[4] ))
    total=$(( b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7] + b[8] - a[1] - a[2] - a[3] - a[4] - a[5] - a[6] - a[7] - a[8] ))
    # io1 - io0 is in microseconds of the 500 000 elapsed: under 1% is under 5 000.
    [ "$total" -gt 0 ] && [ $(( idle * 100 / total )) -ge 90 ] && [ $(( io1 - io0 )) -lt 5000 ] && return 0
  done
  echo "settle: the machine stayed busy for 60 s; measuring anyway" >&2
}
# Microseconds some task has been stalled on I/O since boot (0 where the kernel has no PSI).
io_stalled() {
  local line
  line=$(grep '^some' /proc/pressure/io 2>/dev/null) || { echo 0; return; }
  echo "${line##*total=}"
}
