#!/usr/bin/env bash
# Memory of idle keep-alive HTTP/1 connections, this runtime beside tokio:
# the same hyper server (benches/src/bin/http_hello.rs) on each; a client
# process opens CONNECTIONS connections, makes one request on each and
# then holds them idle. The server's resident set (VmRSS) is read before
# and while they are held; the difference per connection is the result.
#
#   bash benches/idle_rss.sh [CONNECTIONS] [WORKERS]
#
# Defaults: 10000 connections, 2 workers, each runtime twice, alternating.
set -euo pipefail
cd "$(dirname "$0")/.."

conns=${1:-10000}
workers=${2:-2}
# Below the ephemeral range (32768-60999): the client's 10 000 connections
# take ports there, and a server port among them would be in use.
port=${HTTP_BENCH_PORT:-29080}

# Server and client each need a descriptor per connection.
ulimit -n "$(( conns + 1000 ))"

cargo build --release -q -p benches --bin http_hello
bin=${CARGO_TARGET_DIR:-target}/release/http_hello
# SERVER_BIN: another build's http_hello as the server (an A/B of two
# commits); the client is always this tree's.
server_bin=${SERVER_BIN:-$bin}

out=$(mktemp)
clients=$(mktemp)
trap 'rm -f "$out" "$clients" "$clients.in"' EXIT

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

run() {
    local which=$1
    port=$((port + 1))
    "$server_bin" "$which" "127.0.0.1:$port" "$workers" >"$out" &
    local server=$!
    for _ in $(seq 100); do
        grep -q listening "$out" 2>/dev/null && break
        sleep 0.05
    done
    local before
    before=$(rss_kib "$server")
    # The client holds its connections until its standard input closes.
    rm -f "$clients.in"
    mkfifo "$clients.in"
    "$bin" idle-clients "127.0.0.1:$port" "$conns" <"$clients.in" >"$clients" &
    local client=$!
    exec 9>"$clients.in"
    for _ in $(seq 600); do
        grep -q holding "$clients" 2>/dev/null && break
        sleep 0.1
    done
    grep -q holding "$clients" || { echo "the client did not get its connections up" >&2; exit 1; }
    sleep 1
    local during
    during=$(rss_kib "$server")
    exec 9>&-
    wait "$client" || true
    kill "$server"
    wait "$server" 2>/dev/null || true
    awk -v w="$which" -v b="$before" -v d="$during" -v n="$conns" \
        'BEGIN { printf "%-8s RSS %7d KiB idle, %7d KiB with %d connections: %.2f KiB per connection\n", w, b, d, n, (d - b) / n }'
}

echo "idle keep-alive connections: $conns, server on $workers worker(s)"
for _ in 1 2; do
    run runtime
    run tokio
done
