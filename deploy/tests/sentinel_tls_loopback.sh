#!/usr/bin/env bash
# sentinel_tls_loopback.sh MAYFLY_BINARY: the chart's TLS start logic outside Kubernetes, with
# real processes on 127.0.0.1. A Mayfly TLS primary ("pod 0") and replica ("pod 1"), three real
# redis-sentinel processes with the chart's TLS and auth settings (port 0, tls-port,
# tls-replication, tls-auth-clients yes, requirepass). Pod 0 is killed and Sentinel promotes pod
# 1; then the chart's own scripts, taken from the auth-tls golden render, run as they would when
# pod 0 comes back: find-primary.sh (the init container's command) asks the Sentinels over TLS,
# and start-mayfly.sh starts the real binary from its answer. Pod 0 must come back as a replica
# of the new primary, not as a second primary.
# Needs openssl, redis-sentinel and redis-cli (Debian: redis-sentinel, redis-tools), and the
# venv check.sh installs (PY overrides its python). Not part of check.sh: it needs the binary
# (cargo build --release). Ports 17001-17002 and 17101-17103.
set -euo pipefail
mayfly="$(realpath "${1:?usage: sentinel_tls_loopback.sh MAYFLY_BINARY}")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PY:-${MAYFLY_DEPLOY_CACHE:-${HOME:-/root}/.cache/mayfly-deploy}/venv/bin/python}"
dir="$(mktemp -d)"
pids=()
cleanup() {
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  tail -n 5 "$dir"/*.log 2>/dev/null
  exit 1
}
password=loopback-secret
p0=17001 p1=17002 sentinels=(17101 17102 17103)

# The chart's scripts as rendered for the auth-tls values.
mkdir "$dir/render"
cp "$here/golden/auth-tls.yaml" "$dir/render/"
"$PY" "$here/chart_test.py" extract "$dir/render" "$dir/scripts" >/dev/null

# A CA and one certificate for 127.0.0.1 (server and client use), as cert-manager would write.
(
  cd "$dir"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -out ca.crt -days 1 -subj "/CN=loopback CA"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout tls.key \
    -out tls.csr -subj /CN=node
  printf 'keyUsage=digitalSignature\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n%s\n' \
    'extendedKeyUsage=serverAuth,clientAuth' >tls.ext
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 1 \
    -extfile tls.ext
) >/dev/null 2>&1 || fail "openssl"
tls_flags=(--tls "--tls_cert_file=$dir/tls.crt" "--tls_key_file=$dir/tls.key"
  "--tls_ca_cert_file=$dir/ca.crt" --tls_auth_clients=yes --tls_replication --dbfilename=)
export MAYFLY_REQUIREPASS="$password" MAYFLY_MASTERAUTH="$password"

cli() { # PORT ARGS...: redis-cli over TLS with the client certificate and the password
  REDISCLI_AUTH="$password" timeout 5 redis-cli --no-auth-warning --tls --cacert "$dir/ca.crt" \
    --cert "$dir/tls.crt" --key "$dir/tls.key" -p "$1" "${@:2}" 2>/dev/null
}
wait_for() { # SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what="$2"
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out: $what"
    sleep 0.5
  done
}
field() { cli "$1" info replication | tr -d '\r' | sed -n "s/^$2://p"; }
follows() { # REPLICA_PORT PRIMARY_PORT
  [[ "$(field "$1" master_link_status)" == up && "$(field "$1" master_port)" == "$2" ]]
}

mkdir "$dir/pod0" "$dir/pod1"
"$mayfly" --port=$p0 --dir="$dir/pod0" "${tls_flags[@]}" 2>"$dir/pod0.log" &
pod0=$!
pids+=($pod0)
"$mayfly" --port=$p1 --dir="$dir/pod1" "${tls_flags[@]}" --replicaof=127.0.0.1:$p0 2>"$dir/pod1.log" &
pids+=($!)
wait_for 20 "replica linked over TLS" follows $p1 $p0

for port in "${sentinels[@]}"; do
  mkdir "$dir/s$port"
  cat >"$dir/s$port/sentinel.conf" <<EOF
port 0
tls-port $port
dir $dir/s$port
sentinel monitor mymaster 127.0.0.1 $p0 2
sentinel down-after-milliseconds mymaster 2000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
sentinel auth-pass mymaster $password
requirepass $password
sentinel sentinel-pass $password
tls-replication yes
tls-cert-file $dir/tls.crt
tls-key-file $dir/tls.key
tls-ca-cert-file $dir/ca.crt
tls-auth-clients yes
EOF
  redis-sentinel "$dir/s$port/sentinel.conf" >"$dir/s$port.log" 2>&1 &
  pids+=($!)
done
sentinels_know() { # every Sentinel sees the other two and the replica
  local port
  for port in "${sentinels[@]}"; do
    [[ "$(cli "$port" sentinel master mymaster | sed -n '/^num-other-sentinels$/{n;p}')" == 2 ]] || return 1
    [[ "$(cli "$port" sentinel master mymaster | sed -n '/^num-slaves$/{n;p}')" == 1 ]] || return 1
  done
}
wait_for 30 "Sentinels discover each other and the replica (TLS)" sentinels_know
started=$SECONDS

# Pod 0 is lost; Sentinel promotes pod 1.
kill -9 "$pod0"
all_report() { # PORT: every Sentinel names 127.0.0.1:PORT as the primary
  local port
  for port in "${sentinels[@]}"; do
    [[ "$(cli "$port" sentinel get-master-addr-by-name mymaster | tr '\n' ' ')" == "127.0.0.1 $1 " ]] || return 1
  done
}
wait_for 60 "Sentinels promote pod 1" all_report $p1
echo "failover to 127.0.0.1:$p1 after $((SECONDS - started)) s"
cli $p1 set after-failover yes >/dev/null

# Pod 0 comes back. The init container's command first: TLS, client certificate, password.
export POD_NAME=mayfly-0 POD_NAMESPACE=cache HEADLESS_SERVICE=mayfly-headless CLUSTER_DOMAIN=cluster.local
export STATEFULSET_NAME=mayfly SENTINEL_MASTER_SET=mymaster TLS_ENABLED=true
export TLS_CA_FILE="$dir/ca.crt" TLS_CERT_FILE="$dir/tls.crt" TLS_KEY_FILE="$dir/tls.key"
mkdir "$dir/discovery"
SENTINEL_PASSWORD="$password" SENTINEL_ADDRS="127.0.0.1:${sentinels[0]} 127.0.0.1:${sentinels[1]} 127.0.0.1:${sentinels[2]}" \
  bash "$dir/scripts/auth-tls--find-primary.sh" "$dir/discovery/primary" 2>"$dir/find-primary.log" \
  || fail "find-primary.sh: $(cat "$dir/find-primary.log")"
cat "$dir/find-primary.log"
[[ "$(cat "$dir/discovery/primary")" == "127.0.0.1 $p1" ]] || fail "find-primary.sh wrote: $(cat "$dir/discovery/primary")"

# Then the Mayfly container's start script, running the real binary.
PRIMARY_FILE="$dir/discovery/primary" SENTINEL_ENABLED=true MAYFLY_PORT=$p0 MAYFLY_DIR="$dir/pod0" \
  MAYFLY_BIN="$mayfly" bash "$dir/scripts/auth-tls--start-mayfly.sh" "${tls_flags[@]}" 2>"$dir/pod0-again.log" &
pids+=($!)
# Its first answer must already be a replica's: Sentinel would also demote a second primary a
# few seconds later, which is what this start logic avoids.
wait_for 10 "restarted pod 0 answers" bash -c "[[ -n \"\$(REDISCLI_AUTH=$password redis-cli --no-auth-warning \
  --tls --cacert $dir/ca.crt --cert $dir/tls.crt --key $dir/tls.key -p $p0 ping 2>/dev/null)\" ]]"
first_role="$(field $p0 role) $(field $p0 master_port)"
grep -E "Sentinel reports|starting as" "$dir/pod0-again.log"
[[ "$first_role" == "slave $p1" ]] || fail "restarted pod 0 came back as: $first_role"
grep -qx "starting as a replica of 127.0.0.1:$p1" "$dir/pod0-again.log" || fail "start script's decision"
wait_for 20 "restarted pod 0 follows pod 1 over TLS" follows $p0 $p1
[[ "$(field $p0 role)" == slave && "$(field $p1 role)" == master ]] || fail "roles"
[[ "$(cli $p0 get after-failover)" == yes ]] || fail "pod 0 did not load the new primary's data"
[[ "$(cli $p0 set x 1)" == READONLY* ]] || fail "pod 0 accepts writes"
all_report $p1 || fail "Sentinels changed their mind"
echo "restarted pod 0 is a replica of the Sentinel-reported primary 127.0.0.1:$p1 (not a second primary)"
