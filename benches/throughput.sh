#!/usr/bin/env bash
# Throughput of Mayfly against redis-server, measured in the same run with the shared benchmark
# kit, printed as ratios (Mayfly / Redis) per test and pipeline depth.
#   benches/throughput.sh            # REPEAT, CLIENTS, ... pass through to the kit
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kit=${BENCH_KIT:-$root/../shared/bench}
command -v redis-benchmark >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server redis-tools; }
cargo build --release --manifest-path "$root/Cargo.toml" --bin mayfly
out=$(mktemp -d)
"$kit/throughput.sh" redis-server --port {PORT} --bind 127.0.0.1 --save '' --appendonly no | tee "$out/redis.txt"
"$kit/throughput.sh" "$root/target/release/mayfly" --port {PORT} --bind 127.0.0.1 --proactor_threads 2 --loglevel warning | tee "$out/mayfly.txt"
python3 - "$out/redis.txt" "$out/mayfly.txt" <<'PY'
import re, sys
def load(path):
    # RESULT lines look like: RESULT script=throughput key=value ...; keep numeric rps fields.
    res = {}
    for line in open(path):
        if line.startswith("RESULT"):
            for k, v in re.findall(r"(\S+)=(\S+)", line):
                try: res[k] = float(v)
                except ValueError: pass
    return res
r, m = load(sys.argv[1]), load(sys.argv[2])
print("\nratio = mayfly / redis-server (same machine, same run)")
for k in sorted(r):
    if k in m and r[k] and re.search(r"_p\d+$", k):
        print(f"  {k:32s} {m[k]/r[k]:6.2f}x   (mayfly {m[k]:.0f}, redis {r[k]:.0f})")
PY
rm -rf "$out"
