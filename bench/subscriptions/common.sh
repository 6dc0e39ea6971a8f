# Shared by bench/subscriptions/run and bench/subscriptions/window-ab (sourced, from the
# repository's root, with `count` set): installs and builds what they need, makes a data
# folder of `count` mailboxes with SIP password "secret" and no gateway (only subscribers
# are told), and gives the functions that start mwid and drive the crowds of phones
# (bench/tools/subscribe-load.c).
name=${0#*bench/}
scripts/deps run
need=(); command -v gdb >/dev/null || need+=(gdb); command -v curl >/dev/null || need+=(curl)
command -v cc >/dev/null || need+=(gcc); [ -e /usr/include/openssl/evp.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "bench/$name: needs ${need[*]}" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
# One product per build: given several --product flags, swift build builds only the last.
(cd Benchmarks && rm -f .build/release.yaml && for product in mwid mwictl; do swift build -c release --product "$product" 2>&1 | tail -1; done)
# The data folder is made by $template_bin when the script sets it (bench/subscriptions/ab:
# its first binary, so that binaries of older schemas can be compared), else by this build.
bin=${template_bin:-Benchmarks/.build/release/mwid}; ctl=Benchmarks/.build/release/mwictl
run=$(mktemp -d /tmp/mwid-bench-subs-XXXXXX)
# The crowd, in C: SubscribeBench (Swift, the project's SIP library) spent 100-110 µs of
# CPU per subscription, a third of the two cores at the rates measured.
crowd=$run/subscribe-load
cc -O2 -o "$crowd" bench/tools/subscribe-load.c -lcrypto
free() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free); sip=$(free)
args=(--data "$run/data" --http "127.0.0.1:$http" --sip-udp "127.0.0.1:$sip" --sip-tcp "127.0.0.1:$sip" --log-level warning
      --mwi-refresh-interval 0 --mwi-health-interval 0 --sip-request-rate 1000000 --sip-request-burst 1000000
      --subscriptions-total 10000000)
pid=; crowds=()
start() {  # [MWID_FLAG…]
  "$bin" "${args[@]}" "$@" >> "$run/mwid.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && return; sleep 0.1; done
  echo "bench/$name: mwid did not start" >&2; tail "$run/mwid.log" >&2; exit 1
}
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; pid=; }
cleanup() { for c in "${crowds[@]}"; do kill "$c" 2>/dev/null || true; done; stop; }
trap cleanup EXIT

start
export MWID_URL=http://127.0.0.1:$http MWID_TOKEN; MWID_TOKEN=$(cat "$run/data/admin.token")
"$ctl" dialplan new Bench --number-of-digits-in-extension 7 >/dev/null
"$ctl" policy new Default --dial-plan Bench >/dev/null
stop
python3 bench/mwi/populate.py "$run/data/mwid.sqlite" "$count" >/dev/null

# A crowd reads commands on a FIFO: mark, report, quit. With order=shuffled (set by the
# script) its phones subscribe to their extensions in a scattered order, not one by one.
launch() {  # NAME COUNT FIRST
  mkfifo "$run/$1.in"
  "$crowd" subscribe "$sip" "$2" 500 "$3" ${order:-} < "$run/$1.in" >> "$run/$1.out" 2>&1 &  # appends: report truncates it
  crowds+=($!)
  exec {fd}> "$run/$1.in"
  eval "fd_$1=$fd"
  until grep -q subscribed "$run/$1.out"; do kill -0 "${crowds[-1]}" 2>/dev/null || { cat "$run/$1.out" >&2; exit 1; }; sleep 0.2; done
  grep subscribed "$run/$1.out" >&2
}
mark() { echo mark >&"$fd_a"; echo mark >&"$fd_b"; }
refresh_all() {
  curl -sf -X POST -H "Authorization: Bearer $MWID_TOKEN" -H 'Content-Type: application/json' -d '{"all":true}' \
    "http://127.0.0.1:$http/api/v1/mwi/refresh" >/dev/null
}
report() { : > "$run/$1.out"; echo report >&"$2"; until grep -aq notifies "$run/$1.out"; do sleep 0.05; done; grep -a notifies "$run/$1.out"; }
# Waits (60 s at most) until LIVE phones of crowds a and b have had a NOTIFY since the
# mark; prints "phones/s seconds NOTIFYs phones": from the first NOTIFY to the last
# phone's first one, and every NOTIFY received, retransmissions included.
told() {  # LIVE
  local ra rb got
  for _ in $(seq 120); do
    ra=$(report a "$fd_a"); rb=$(report b "$fd_b")
    got=$(( $(echo "$ra" | awk '{print $8}') + $(echo "$rb" | awk '{print $8}') ))
    [ "$got" -ge "$1" ] && break
    sleep 0.5
  done
  python3 -c "
a='$ra'.split(); b='$rb'.split()
first=min(int(a[3]), int(b[3])); last=max(int(a[9]), int(b[9])); phones=int(a[7])+int(b[7]); n=int(a[1])+int(b[1])
print(f'{phones/((last-first)/1e9):.0f} {(last-first)/1e9:.2f} {n} {phones}')"
}
