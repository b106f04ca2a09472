#!/usr/bin/env bash
# start_script_primary.sh FIND_PRIMARY START_SCRIPT: the chart's role decision outside
# Kubernetes. find-primary.sh (the init container's command, redis-cli) asks fake Sentinels on
# 127.0.0.1 and must write the first real answer, skipping a closed port and a nil reply, and
# leave the file alone when nobody answers; start-mayfly.sh (with a stand-in binary) must follow
# that file, start as the primary when it names the pod itself, and fall back to "pod 0 is the
# primary" only without it.
set -euo pipefail
find_primary="$1" start="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$(mktemp -d)"
pids=()
cleanup() {
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
command -v redis-cli >/dev/null || fail "redis-cli not installed (Debian: redis-tools)"

domain=mayfly-headless.cache.svc.cluster.local
p_nil=16394 p_answer=16395 p_closed=16396
python3 "$here/fake_resp_server.py" "$p_nil" +PONG nil >"$dir/s1" & pids+=($!)
python3 "$here/fake_resp_server.py" "$p_answer" +PONG "mayfly-2.${domain}:6379" >"$dir/s2" & pids+=($!)
for _ in $(seq 50); do grep -q ready "$dir/s1" && grep -q ready "$dir/s2" && break; sleep 0.1; done

export POD_NAMESPACE=cache HEADLESS_SERVICE=mayfly-headless CLUSTER_DOMAIN=cluster.local
export STATEFULSET_NAME=mayfly SENTINEL_MASTER_SET=mymaster TLS_ENABLED=false SENTINEL_PASSWORD=secret
file="$dir/discovery/primary"
mkdir "$dir/discovery"

# The pod's own Sentinel (listed first) is skipped: this one would answer with pod 0.
POD_NAME=mayfly-0 SENTINEL_ADDRS="mayfly-0.${domain}:26379 127.0.0.1:$p_closed 127.0.0.1:$p_nil 127.0.0.1:$p_answer" \
  bash "$find_primary" "$file" 2>"$dir/log" || fail "find-primary.sh exited non-zero: $(cat "$dir/log")"
[[ "$(cat "$file")" == "mayfly-2.${domain} 6379" ]] || fail "wrong answer written: $(cat "$file")"

# Nobody answers: the last answer stays.
POD_NAME=mayfly-0 SENTINEL_ADDRS="127.0.0.1:$p_closed 127.0.0.1:$p_nil" bash "$find_primary" "$file" 2>/dev/null
[[ "$(cat "$file")" == "mayfly-2.${domain} 6379" ]] || fail "file changed without an answer"
# ...and at first start there is no file at all.
POD_NAME=mayfly-0 SENTINEL_ADDRS="127.0.0.1:$p_closed" bash "$find_primary" "$dir/discovery/none" 2>/dev/null
[[ ! -e "$dir/discovery/none" ]] || fail "a file was written without an answer"

# The start script's decision, Mayfly replaced by a binary that records its flag file.
printf '#!/bin/bash\ncp "${1#--flagfile=}" "%s/flags"\n' "$dir" >"$dir/mayfly"
chmod +x "$dir/mayfly"
role_of() { # POD PRIMARY_FILE -> the --replicaof line, or "primary"
  rm -rf "$dir/data" && mkdir "$dir/data"
  POD_NAME="$1" PRIMARY_FILE="$2" MAYFLY_PORT=6379 MAYFLY_DIR="$dir/data" MAYFLY_BIN="$dir/mayfly" \
    SENTINEL_ENABLED=true bash "$start" 2>/dev/null
  grep -- '^--replicaof=' "$dir/flags" || echo primary
}
[[ "$(role_of mayfly-0 "$file")" == "--replicaof=mayfly-2.${domain}:6379" ]] \
  || fail "restarted pod 0 did not follow the primary Sentinel reports"
[[ "$(role_of mayfly-2 "$file")" == primary ]] || fail "the reported primary did not start as the primary"
[[ "$(role_of mayfly-0 "$dir/discovery/none")" == primary ]] || fail "pod 0 without an answer"
[[ "$(role_of mayfly-1 "$dir/discovery/none")" == "--replicaof=mayfly-0.${domain}:6379" ]] \
  || fail "pod 1 without an answer"
echo "find-primary.sh and start-mayfly.sh follow Sentinel's primary"
