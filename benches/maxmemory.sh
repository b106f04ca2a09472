#!/usr/bin/env bash
# Precision of maxmemory under a write load far beyond it: starts the release binary with
# --maxmemory=400mb --maxmemory-policy=allkeys-lru --proactor_threads 2, writes ~2 GB of 1 KB
# values with redis-benchmark, samples INFO used_memory and the process RSS every 100 ms, and
# prints the peaks against maxmemory (targets: used_memory <= maxmemory + 2%, RSS <= 1.25x).
#   benches/maxmemory.sh                 # MAXMEMORY=400mb REQUESTS=2000000 PORT=7391 BIN=...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v redis-benchmark >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server redis-tools; }
maxmemory=${MAXMEMORY:-400mb}
requests=${REQUESTS:-2000000}
port=${PORT:-$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")}
bin=${BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --manifest-path "$root/Cargo.toml" --bin mayfly
    bin=${CARGO_TARGET_DIR:-$root/target}/release/mayfly
fi
"$bin" --port "$port" --bind 127.0.0.1 --maxmemory="$maxmemory" --maxmemory-policy=allkeys-lru \
    --proactor_threads 2 --loglevel warning --dbfilename= &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
kill -0 $pid
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
limit=$(redis-cli -p "$port" config get maxmemory | tail -1)
samples=$(mktemp)
(
    while kill -0 "$pid" 2>/dev/null; do
        used=$(redis-cli -p "$port" info memory 2>/dev/null | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}')
        rss=$(( $(awk '{print $2}' /proc/$pid/statm 2>/dev/null || echo 0) * 4096 ))
        echo "${used:-0} $rss" >>"$samples"
        sleep 0.1
    done
) &
sampler=$!
start=$(date +%s.%N)
redis-benchmark -p "$port" -t set -d 1000 -r 10000000 -n "$requests" -P 16 -c 50 -q 2>&1 | tr '\r' '\n' | tail -1
end=$(date +%s.%N)
sleep 0.5
info=$(redis-cli -p "$port" info all | tr -d '\r')
kill "$sampler" 2>/dev/null || true
alive=yes; kill -0 "$pid" 2>/dev/null || alive=no
python3 - "$samples" "$limit" "$start" "$end" "$alive" <<PY
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
limit = int(sys.argv[2]); secs = float(sys.argv[4]) - float(sys.argv[3])
used = max(r[0] for r in rows); rss = max(r[1] for r in rows)
info = dict(l.split(":", 1) for l in """$info""".splitlines() if ":" in l)
print(f"RESULT script=maxmemory maxmemory={limit} samples={len(rows)} seconds={secs:.1f} "
      f"peak_used_memory={used} peak_used_ratio={used/limit:.4f} peak_rss={rss} peak_rss_ratio={rss/limit:.4f} "
      f"evicted_keys={info.get('evicted_keys')} keys={info.get('db0','').split(',')[0]} alive={sys.argv[5]}")
ok = used <= limit * 1.02 and rss <= limit * 1.25 and sys.argv[5] == "yes"
print("targets (used <= 1.02x, rss <= 1.25x):", "MET" if ok else "MISSED")
PY
rm -f "$samples"
