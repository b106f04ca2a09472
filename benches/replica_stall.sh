#!/usr/bin/env bash
# A stalled replica must not slow its primary down (issue 6): primary throughput with a healthy
# replica, then with that replica SIGSTOPped until its output buffer limit cuts it off, then
# SIGCONT, resync and convergence. Prints the throughput ratio stalled/healthy and what happened
# to the link. Redis in the same roles runs first, as the reference.
#   benches/replica_stall.sh            # N (requests per phase), LIMIT (replica buffer limit)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-2000000}
LIMIT=${LIMIT:-"replica 32mb 8mb 5"}
command -v redis-benchmark >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server redis-tools; }
cargo build --release --manifest-path "$root/Cargo.toml" --bin mayfly
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] && echo "logs kept in $work" || rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start"; exit 1; }
field() { redis-cli -p "$1" info replication | tr -d '\r' | sed -n "s/^$2://p"; }
rps() { # SET load on port $1: requests per second
    redis-benchmark -p "$1" -t set -n "$N" -r 1000000 -d 64 -P 16 -c 50 --threads 2 -q 2>/dev/null |
        tr '\r' '\n' | sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -1
}

run() { # name, primary command..., then "--", replica command...
    local name=$1; shift
    local pp rp; pp=$(free_port); rp=$(free_port)
    local pcmd=() rcmd=(); while [ "$1" != "--" ]; do pcmd+=("${1//\{PORT\}/$pp}"); shift; done; shift
    for a in "$@"; do a=${a//\{PORT\}/$rp}; rcmd+=("${a//\{PRIMARY\}/$pp}"); done
    (cd "$work" && exec "${pcmd[@]}" >"$work/$name-primary.log" 2>&1) & pids+=($!)
    wait_up "$pp"
    redis-cli -p "$pp" config set client-output-buffer-limit "$LIMIT" >/dev/null
    (cd "$work" && exec "${rcmd[@]}" >"$work/$name-replica.log" 2>&1) & local rpid=$!; pids+=($rpid)
    wait_up "$rp"
    for _ in $(seq 400); do [ "$(field "$rp" master_link_status)" = up ] && break; sleep 0.05; done
    local healthy; healthy=$(rps "$pp")
    kill -STOP "$rpid"
    local stalled; stalled=$(rps "$pp")
    local slaves_during; slaves_during=$(field "$pp" connected_slaves)
    kill -CONT "$rpid"
    local t0=$SECONDS converged=no
    for _ in $(seq 1200); do
        if [ "$(field "$rp" master_link_status)" = up ] &&
            [ "$(field "$rp" master_repl_offset)" = "$(field "$pp" master_repl_offset)" ] &&
            [ "$(redis-cli -p "$rp" dbsize)" = "$(redis-cli -p "$pp" dbsize)" ]; then converged=yes; break; fi
        sleep 0.1
    done
    local full; full=$(redis-cli -p "$pp" info stats | tr -d '\r' | sed -n 's/^sync_full://p')
    echo "$name: healthy ${healthy} SET/s, replica stopped ${stalled} SET/s (ratio $(python3 -c "print(f'{$stalled/$healthy:.2f}')")), replicas connected after the stall ${slaves_during}, full syncs ${full}, converged after SIGCONT: ${converged} in $((SECONDS - t0))s, keys $(redis-cli -p "$pp" dbsize)"
    grep -hiE 'output buffer|closing.*replica|lost|limit' "$work/$name-primary.log" | head -3 | sed 's/^/    primary log: /'
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    pids=()
    sleep 0.5
}

[ -n "${SKIP_REDIS:-}" ] || run redis redis-server --port {PORT} --bind 127.0.0.1 --save '' --appendonly no -- \
    redis-server --port {PORT} --bind 127.0.0.1 --save '' --appendonly no --replicaof 127.0.0.1 {PRIMARY}
run mayfly "$root/target/release/mayfly" --port {PORT} --bind 127.0.0.1 --proactor_threads 2 --dbfilename= -- \
    "$root/target/release/mayfly" --port {PORT} --bind 127.0.0.1 --proactor_threads 1 --dbfilename= --replicaof 127.0.0.1:{PRIMARY}
