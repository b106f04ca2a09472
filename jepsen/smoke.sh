#!/usr/bin/env bash
# Jepsen smoke test for CI: four short fault-injection runs against a release Mayfly, each of
# which must end VALID. Builds what it needs into the repository's target directory (or
# $CARGO_TARGET_DIR). About 80 s of runs after the build.
#
# Why these four:
#   1. register (GET/SET NX/XX/DEL) under SIGSTOP/SIGCONT: a single node must stay linearizable
#      whatever a frozen process does to its clients' timeouts.
#   2. counter (INCRBY/GET) under kill -9 with --durability none: a restart on the same
#      --dir without a snapshot loses everything, which is the promise of a cache; what must hold
#      is that every process lifetime is linearizable from an empty store and nothing of an
#      earlier lifetime comes back. (With --durability full the same run is INVALID: data-loss.)
#   3. mset (MSET/MGET over keys on different shards) under the proxy's network faults (one-way
#      both ways, reset, delay, blackhole): cross-shard multi-key commands must stay atomic.
#   4. set (SADD/SMEMBERS) on a primary and one replica under failover (the replica falls behind,
#      the primary is killed or cut off, the replica is promoted, the old primary rejoins as its
#      replica), with --wait yes: no write WAIT confirmed may be lost, and both nodes must hold
#      identical data once replication has caught up.
# Each run plans 3 faults from the seed (with the default seed: three pauses; three kills;
# one-way replies, one-way requests, reset; three failovers by partition).
# Longer runs with every fault: see jepsen/README.md.
# Environment: SMOKE_SEED (default 42), SMOKE_TIME (seconds per run, default 20),
# JEPSEN_STORE (where results go, default jepsen/store).
set -euo pipefail
cd "$(dirname "$0")/.."

seed="${SMOKE_SEED:-42}"
secs="${SMOKE_TIME:-20}"
store="${JEPSEN_STORE:-$PWD/jepsen/store}"
start=$(date +%s)

cargo build --release -p mayfly --bin mayfly -p mayfly-jepsen --bin jepsen
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
jepsen="$target/release/jepsen"
mayfly="$target/release/mayfly"
server=("$mayfly" --port '{PORT}' --bind 127.0.0.1 --proactor_threads 2 --loglevel warning --dir '{DIR}')

failed=0
run() {
  echo
  echo "=== jepsen run $*"
  local rc=0
  "$jepsen" run --seed "$seed" --time "$secs" --store "$store" "$@" -- "${server[@]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "=== FAILED (exit $rc): jepsen run $*"
    failed=1
  fi
}

run --workload register --nemesis pause
run --workload counter --nemesis kill --durability none
run --workload mset --nemesis partition
run --workload set --nemesis failover --replicas 1 --wait yes

echo
echo "jepsen smoke: $(( $(date +%s) - start )) s in total"
if [ "$failed" -ne 0 ]; then
  echo "jepsen smoke: FAILED"
  exit 1
fi
echo "jepsen smoke: all runs VALID"
