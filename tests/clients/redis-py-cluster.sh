#!/usr/bin/env bash
# redis-py's RedisCluster (a pinned release in a private venv) against a Mayfly started with
# --cluster_mode=emulated. CI runs it after the cargo tests (the binary is already built).
#   tests/clients/redis-py-cluster.sh [path/to/mayfly]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/debug/mayfly}
[ -x "$bin" ] || cargo build --quiet --manifest-path "$root/Cargo.toml" --bin mayfly
venv=${MAYFLY_PY_VENV:-$root/target/py-venv}
if ! "$venv/bin/python" -c 'import redis' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'redis==5.0.8'
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --bind 127.0.0.1 --port "$port" --proactor_threads 2 --cluster_mode emulated --dbfilename= --loglevel warning &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
"$venv/bin/python" "$root/tests/clients/redis_py_cluster.py" "$port"
