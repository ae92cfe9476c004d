#!/usr/bin/env bash
# HTTP/1 "hello" throughput, this runtime beside tokio: the same hyper
# server code (benches/src/bin/http_hello.rs) on each, loaded by wrk over
# loopback. wrk is installed from Debian's packages if missing.
#
#   bash benches/http.sh [WORKERS] [CONNECTIONS] [SECONDS]
#
# Defaults: 1 server worker, 64 connections, 10 s per run, each runtime
# run twice, alternating (machines are noisy: compare within one run).
# wrk gets the other core(s): with 2 cores, 1 worker and 1 wrk thread.
set -euo pipefail
cd "$(dirname "$0")/.."

workers=${1:-1}
conns=${2:-64}
secs=${3:-10}
port=${HTTP_BENCH_PORT:-38080}

if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release -q -p benches --bin http_hello
bin=${CARGO_TARGET_DIR:-target}/release/http_hello

# A port per run: a server killed with an accept in flight in its ring
# holds its port for a few ms after it is gone (see TcpListener's docs).
run() {
    local which=$1
    port=$((port + 1))
    "$bin" "$which" "127.0.0.1:$port" "$workers" >/tmp/http_hello.$$.out &
    local pid=$!
    for _ in $(seq 100); do
        grep -q listening /tmp/http_hello.$$.out 2>/dev/null && break
        sleep 0.05
    done
    # Warm-up, then the measured run.
    wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null
    local rps
    rps=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" |
        tee /tmp/http_hello.$$.wrk | awk '/Requests\/sec/ {print $2}')
    local p99
    p99=$(awk '$1 == "99%" {print $2}' /tmp/http_hello.$$.wrk)
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    printf '%-8s %12s req/s   p99 %s\n' "$which" "$rps" "$p99"
}

echo "hyper HTTP/1 hello: $workers server worker(s), $conns connections, ${secs}s per run"
for round in 1 2; do
    run runtime
    run tokio
done
rm -f /tmp/http_hello.$$.out /tmp/http_hello.$$.wrk
