#!/usr/bin/env bash
# HTTP/1 throughput, this runtime beside tokio: the same hyper server code
# (benches/src/bin/http_hello.rs) on each, loaded by wrk over loopback.
# wrk is installed from Debian's packages if missing.
#
#   bash benches/http.sh [WORKERS] [CONNECTIONS] [SECONDS] [hello|json]
#
# Defaults: 1 server worker, 64 connections, 10 s per run, `hello`.
# ROUNDS (default 5) runs of each runtime, alternating (machines are
# noisy: compare within one run); then, per runtime, the median req/s with
# min-max and the median p99, and the ratio of the medians.
# With 1 worker the server is pinned to CPU 0 and wrk to CPU 1; with more,
# neither is pinned (on 2 cores wrk then shares them with the server).
set -euo pipefail
cd "$(dirname "$0")/.."

workers=${1:-1}
conns=${2:-64}
secs=${3:-10}
mode=${4:-hello}
rounds=${ROUNDS:-5}
port=${HTTP_BENCH_PORT:-38080}

if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release -q -p benches --bin http_hello
bin=${CARGO_TARGET_DIR:-target}/release/http_hello

server_pin=()
wrk_pin=()
if [ "$workers" = 1 ] && command -v taskset >/dev/null; then
    server_pin=(taskset -c 0)
    wrk_pin=(taskset -c 1)
fi

results=$(mktemp)
out=$(mktemp)
trap 'rm -f "$results" "$out" "$out.wrk"' EXIT

# A port per run: a server killed with an accept in flight in its ring
# holds its port for a few ms after it is gone (see TcpListener's docs).
run() {
    local which=$1
    port=$((port + 1))
    "${server_pin[@]}" "$bin" "$which" "127.0.0.1:$port" "$workers" "$mode" >"$out" &
    local pid=$!
    for _ in $(seq 100); do
        grep -q listening "$out" 2>/dev/null && break
        sleep 0.05
    done
    # Warm-up, then the measured run.
    "${wrk_pin[@]}" wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null
    "${wrk_pin[@]}" wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" >"$out.wrk"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    local rps p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' "$out.wrk")
    p99=$(awk '$1 == "99%" {print $2}' "$out.wrk")
    errors=$(grep -E 'Non-2xx|Socket errors' "$out.wrk" || true)
    printf '%-8s %12s req/s   p99 %s %s\n' "$which" "$rps" "$p99" "$errors"
    echo "$which $rps $p99" >>"$results"
}

echo "hyper HTTP/1 $mode: $workers server worker(s), $conns connections, ${secs}s per run, $rounds rounds"
for _ in $(seq "$rounds"); do
    run runtime
    run tokio
done

python3 - "$results" <<'PY'
import statistics, sys
def ms(text):
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float(text)
runs = {}
for line in open(sys.argv[1]):
    which, rps, p99 = line.split()
    runs.setdefault(which, []).append((float(rps), ms(p99)))
med = {}
for which, got in runs.items():
    rps = [r for r, _ in got]
    p99 = [p for _, p in got]
    med[which] = statistics.median(rps)
    print(f"{which:8} median {med[which]:10.0f} req/s (min {min(rps):.0f}, max {max(rps):.0f}), "
          f"median p99 {statistics.median(p99):.2f} ms (min {min(p99):.2f}, max {max(p99):.2f})")
if "runtime" in med and "tokio" in med:
    print(f"runtime / tokio req/s: {med['runtime'] / med['tokio']:.2f}")
PY
