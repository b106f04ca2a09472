#!/usr/bin/env bash
# Hit ratio under allkeys-lru, Mayfly beside redis-server in the same run: a read-mostly
# cache-aside load (GET, SET on a miss) with Zipfian popularity over KEYS keys, memory for
# about a tenth of them. Both servers get the same maxmemory in bytes, so a server that stores
# keys more compactly holds more of them. Reports keyspace_hits / (hits + misses) after warm-up.
#   benches/hitratio.sh      # KEYS=2000000 SKEW=0.99 MAXMEMORY=40mb WARMUP=2000000 MEASURE=2000000
#                            # VALUE_SIZE=100 BIN=target/release/mayfly REDIS=redis-server
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
keys=${KEYS:-2000000}
skew=${SKEW:-0.99}
maxmemory=${MAXMEMORY:-40mb}
warmup=${WARMUP:-2000000}
measure=${MEASURE:-2000000}
value_size=${VALUE_SIZE:-100}
redis=${REDIS:-redis-server}
bin=${BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --manifest-path "$root/Cargo.toml" --bin mayfly
    bin=${CARGO_TARGET_DIR:-$root/target}/release/mayfly
fi
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

# run NAME CMD... : starts the server ({PORT} is replaced), drives the load, stops it.
run() {
    local name=$1 port
    shift
    port=$(free_port)
    (cd "$work" && exec "${@//\{PORT\}/$port}") >"$work/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    local out
    out=$(python3 "$root/benches/zipf_cache.py" "$port" --keys "$keys" --skew "$skew" \
        --warmup "$warmup" --measure "$measure" --value-size "$value_size")
    kill "$pid" && wait "$pid" 2>/dev/null || true
    pid=
    echo "$name $out"
}

redis_line=$(run redis "$redis" --port {PORT} --bind 127.0.0.1 --save '' --appendonly no \
    --maxmemory "$maxmemory" --maxmemory-policy allkeys-lru)
echo "$redis_line"
mayfly_line=$(run mayfly "$bin" --port {PORT} --bind 127.0.0.1 --maxmemory="$maxmemory" \
    --maxmemory-policy=allkeys-lru --proactor_threads 2 --dbfilename= --loglevel warning)
echo "$mayfly_line"
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
r=$(field "$redis_line" hit_ratio)
m=$(field "$mayfly_line" hit_ratio)
echo "RESULT script=hitratio keys=$keys skew=$skew maxmemory=$maxmemory redis_hit_ratio=$r mayfly_hit_ratio=$m" \
    "redis_keys_held=$(field "$redis_line" keys_held) mayfly_keys_held=$(field "$mayfly_line" keys_held)"
awk -v r="$r" -v m="$m" 'BEGIN { print "target (mayfly >= redis):", (m >= r ? "MET" : "MISSED") }'
