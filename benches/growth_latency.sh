#!/usr/bin/env bash
# Latency of a steady SET load while the key count grows from 0 to about 5M, Mayfly beside
# redis-server in the same run. The load is open loop (requests leave at their scheduled times
# whether or not earlier replies came back, so a stall shows as queueing): RATE SETs a second of
# VALUE_SIZE-byte values to keys drawn uniformly from KEYSPACE, for DURATION seconds. With the
# defaults (10M key names, 7M requests) the server ends with about 5.0M keys, most SETs creating
# one. Reports p99 / p99.9 / max from the write of each request ("lat") and from its scheduled
# time ("co", no coordinated omission), the keys held at the end, the commands the server's
# SLOWLOG caught over 1 ms, and the load average (this 2-core machine is shared: repeat).
#   benches/growth_latency.sh   # RATE=50000 DURATION=140 KEYSPACE=10000000 CONNS=50 VALUE_SIZE=32
#                               # BIN=target/release/mayfly REDIS=redis-server ONLY=mayfly|redis THREADS=2
# The load generator is ratelat.c from the shared benchmark kit (KIT=../shared/bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rate=${RATE:-50000}
duration=${DURATION:-140}
keyspace=${KEYSPACE:-10000000}
conns=${CONNS:-50}
value_size=${VALUE_SIZE:-32}
redis=${REDIS:-redis-server}
only=${ONLY:-}
threads=${THREADS:-2}
kit=${KIT:-$root/../shared/bench}
bin=${BIN:-}
[ -f "$kit/ratelat.c" ] || { echo "no $kit/ratelat.c (set KIT)" >&2; exit 1; }
if [ -z "$bin" ]; then
    cargo build --release --manifest-path "$root/Cargo.toml" --bin mayfly
    bin=${CARGO_TARGET_DIR:-$root/target}/release/mayfly
fi
bin=$(realpath "$bin") # servers start in a scratch directory
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
gcc -O2 -o "$work/ratelat" "$kit/ratelat.c"
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/'; }
# slow_commands PORT: how many commands the server itself logged as taking over 1 ms (up to 1024)
# and the longest, in us: tells stalls inside the server from the machine's scheduling noise.
slow_commands() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
s.sendall(b"*3\r\n$7\r\nSLOWLOG\r\n$3\r\nGET\r\n$4\r\n1024\r\n")
def read():
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"*":
        return [read() for _ in range(int(rest))]
    if kind == b"$":
        return f.read(int(rest) + 2)[:-2]
    return int(rest) if kind == b":" else rest
entries = read()
print(f"slow_cmds={len(entries)} slowest_cmd_us={max((e[2] for e in entries), default=0)}")
PY
}

# run NAME CMD... : starts the server ({PORT} is replaced) in an empty directory, drives the
# load, reads the key count, stops it; prints one line of key=value figures.
run() {
    local name=$1 port out keys before
    shift
    port=$(free_port)
    (cd "$work" && exec "${@//\{PORT\}/$port}") >"$work/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" config set slowlog-log-slower-than 1000 >/dev/null
    redis-cli -p "$port" config set slowlog-max-len 1024 >/dev/null
    before=$(loadavg)
    out=$(timeout $((duration + 60)) "$work/ratelat" "$port" "$rate" "$duration" "$conns" "$keyspace" "$value_size" 0)
    keys=$(redis-cli -p "$port" dbsize | tr -dc '0-9')
    slow=$(slow_commands "$port")
    kill "$pid" && wait "$pid" 2>/dev/null || true
    pid=
    declare -A kv=()
    for f in $out; do kv[${f%%=*}]="${f#*=}"; done
    echo "$name keys=$keys achieved=${kv[achieved_rate]} errors=${kv[errors]} p99_us=${kv[p99_us]}" \
        "p999_us=${kv[p999_us]} max_us=${kv[max_us]} co_p99_us=${kv[co_p99_us]} co_p999_us=${kv[co_p999_us]}" \
        "$slow load_before=$before load_after=$(loadavg)"
}

if [ "$only" != mayfly ]; then
    run redis "$redis" --port {PORT} --bind 127.0.0.1 --save '' --appendonly no
fi
if [ "$only" != redis ]; then
    run mayfly "$bin" --port {PORT} --bind 127.0.0.1 --proactor_threads "$threads" --dbfilename= --loglevel warning
fi
echo "(open loop: ${rate} SET/s for ${duration}s over ${conns} connections, ${value_size}-byte values," \
    "keys uniform over ${keyspace}; target: mayfly p99.9 < 10000 us)"
