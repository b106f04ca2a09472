#!/usr/bin/env bash
# The cost of TLS: redis-benchmark SET/GET (-P 16) against Mayfly and redis-server, each plain and
# with TLS, in the same run; prints requests/s and the ratios. Certificates come from openssl.
#   benches/tls.sh        # N=1000000 P=16 CLIENTS=50 THREADS=2 REPEAT=1 REDIS_IO_THREADS=2
# Both servers get 2 threads: Mayfly --proactor_threads 2, Redis --io-threads 2 (reads too;
# REDIS_IO_THREADS=1 for classic single-threaded Redis); redis-benchmark runs THREADS threads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-1000000} pipe=${P:-16} clients=${CLIENTS:-50} threads=${THREADS:-2} repeat=${REPEAT:-1}
redis_io=${REDIS_IO_THREADS:-2}
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --manifest-path "$root/Cargo.toml" --bin mayfly
mayfly="$target/release/mayfly"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A CA and a server certificate for 127.0.0.1 (no client certificates: this measures the
# channel, not client authentication).
(
  cd "$work"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -out ca.crt -days 2 -subj "/CN=bench CA"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout node.key \
    -out node.csr -subj "/CN=node"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >node.ext
  openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out node.crt -days 2 \
    -extfile node.ext
) 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME TLS(yes|no): sets $port once the server answers PING
start() {
  local name=$1 tls=$2
  port=$(free_port)
  local cli=(redis-cli -p "$port")
  [[ $tls == yes ]] && cli+=(--tls --cacert "$work/ca.crt")
  if [[ $name == mayfly ]]; then
    local args=(--bind 127.0.0.1 --port "$port" --proactor_threads 2 --loglevel warning --dbfilename=)
    [[ $tls == yes ]] && args+=(--tls "--tls_cert_file=$work/node.crt" "--tls_key_file=$work/node.key")
    "$mayfly" "${args[@]}" >/dev/null 2>"$work/$name-$tls.log" &
  else
    local args=(--bind 127.0.0.1 --save '' --appendonly no --io-threads "$redis_io" --io-threads-do-reads yes --dir "$work")
    if [[ $tls == yes ]]; then
      args+=(--port 0 --tls-port "$port" --tls-cert-file "$work/node.crt" --tls-key-file "$work/node.key"
        --tls-ca-cert-file "$work/ca.crt" --tls-auth-clients no)
    else
      args+=(--port "$port")
    fi
    redis-server "${args[@]}" >"$work/$name-$tls.log" 2>&1 &
  fi
  pids+=($!)
  for _ in $(seq 100); do
    [[ $("${cli[@]}" PING 2>/dev/null) == PONG ]] && return
    sleep 0.1
  done
  echo "$name (tls=$tls) did not start" >&2
  exit 1
}

# bench PORT TLS -> "set_rps get_rps"
bench() {
  local port=$1 tls=$2
  local b=(redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -P "$pipe" -n "$n" -c "$clients" --threads "$threads" -q)
  [[ $tls == yes ]] && b+=(--tls --cacert "$work/ca.crt")
  "${b[@]}" 2>/dev/null | tr '\r' '\n' | awk '/^SET:/ {s=$2} /^GET:/ {g=$2} END {print s, g}'
}

declare -A rps
for round in $(seq "$repeat"); do
  for name in redis-server mayfly; do
    for tls in no yes; do
      start "$name" "$tls"
      read -r s g < <(bench "$port" "$tls")
      kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
      echo "round $round  $name tls=$tls  SET $s/s  GET $g/s"
      rps[$name-$tls-set]="${rps[$name-$tls-set]:-} $s"
      rps[$name-$tls-get]="${rps[$name-$tls-get]:-} $g"
    done
  done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "median requests/s over $repeat round(s): -n $n -P $pipe -c $clients, mayfly 2 threads, redis io-threads $redis_io, $threads benchmark threads"
for op in set get; do
  ms=$(median <<<"${rps[mayfly-yes-$op]}") mp=$(median <<<"${rps[mayfly-no-$op]}")
  rs=$(median <<<"${rps[redis-server-yes-$op]}") rp=$(median <<<"${rps[redis-server-no-$op]}")
  awk -v op="${op^^}" -v ms="$ms" -v mp="$mp" -v rs="$rs" -v rp="$rp" 'BEGIN {
    printf "  %s  mayfly tls %.0f plain %.0f (tls/plain %.2f) | redis tls %.0f plain %.0f (tls/plain %.2f) | mayfly/redis with tls %.2fx, plain %.2fx\n",
      op, ms, mp, ms/mp, rs, rp, rs/rp, ms/rs, mp/rp }'
done
