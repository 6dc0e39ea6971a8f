# Shared by bench/mwi/run, bench/mwi/ab and bench/mwi/resync-ab (sourced, from the
# repository's root, with `run` a temporary folder and `ctl` a release mwictl): the ports,
# mwid started and stopped on a data folder, and the directory they all measure on.
# `mwid_args` (an array, empty unless set) is added to every mwid started.
name=${0#*bench/}
free() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free); sip=$(free); gw=$(free)
pid=
start() {  # BINARY DATA
  "$1" --data "$2" --http "127.0.0.1:$http" --sip-udp "127.0.0.1:$sip" --sip-tcp "127.0.0.1:$sip" --log-level warning \
    --mwi-refresh-interval 0 --mwi-health-interval 0 ${mwid_args[@]+"${mwid_args[@]}"} >> "$run/mwid.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && return; sleep 0.1; done
  echo "bench/$name: $1 did not start:" >&2; tail "$run/mwid.log" >&2; exit 1
}
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; pid=; }
# A directory of N mailboxes behind gateway pbx1 (127.0.0.1:$gw, UDP): made through the
# API with BINARY, the mailboxes added through SQL with mwid stopped (bench/mwi/populate.py).
# Leaves MWID_URL and MWID_TOKEN exported for the mwid that runs on DATA.
directory() {  # BINARY DATA N
  rm -rf "$2"
  start "$1" "$2"
  export MWID_URL=http://127.0.0.1:$http MWID_TOKEN; MWID_TOKEN=$(cat "$2/admin.token")
  "$ctl" dialplan new Bench --number-of-digits-in-extension 7 >/dev/null
  "$ctl" policy new Default --dial-plan Bench >/dev/null
  "$ctl" gateway new pbx1 --address 127.0.0.1 --port "$gw" --transport udp --dial-plans Bench >/dev/null
  stop
  python3 bench/mwi/populate.py "$2/mwid.sqlite" "$3" >/dev/null
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # clock ticks
written() { awk '/^write_bytes/ {print $2}' "/proc/$1/io"; }
notifies() { curl -s "http://127.0.0.1:$http/metrics" | awk '/^mwid_mwi_notifies_total/ { s += $2 } END { printf "%d", s }'; }
