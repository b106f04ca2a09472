#!/usr/bin/env bash
# ioredis's Cluster (a pinned release installed into a private npm prefix) against a Mayfly
# started with --cluster_mode=emulated. CI runs it after the cargo tests (the binary is built).
#   tests/clients/ioredis-cluster.sh [path/to/mayfly]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/debug/mayfly}
[ -x "$bin" ] || cargo build --quiet --manifest-path "$root/Cargo.toml" --bin mayfly
version=5.4.1
prefix=${MAYFLY_NODE_PREFIX:-$root/target/node-ioredis}
# Reinstall only when the pinned version is not already there, so CI reruns skip npm.
if ! node -e "process.exit(require('$prefix/node_modules/ioredis/package.json').version === '$version' ? 0 : 1)" 2>/dev/null; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "ioredis@$version" >/dev/null
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --bind 127.0.0.1 --port "$port" --proactor_threads 2 --cluster_mode emulated --dbfilename= --loglevel warning &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
NODE_PATH="$prefix/node_modules" node "$root/tests/clients/ioredis_cluster.js" "$port"
