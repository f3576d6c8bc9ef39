#!/usr/bin/env bash
# make bench: may-wsgi's demo `/` beside the raw may_minihttp hello world, same scheduler
# threads, same connections, one run, alternating rounds: one process with THREADS scheduler
# threads, and THREADS worker processes of one thread each; then 1 GiB through /echo with the
# server's peak RSS. The machine is shared and noisy, so the ratio is the figure that counts.
# Then the proxied section, benches/proxied.sh (hello and 1 MiB downloads through nginx to
# may-wsgi beside nginx serving the same bytes itself; `make bench-proxied` runs it alone),
# the capacity section, benches/capacity.sh (idle connections, slowloris, fresh requests;
# its own knobs are listed there; `make bench-capacity` runs it alone), and last the port's
# section, benches/glance.sh (`make bench-glance` runs it alone), if the release build of
# examples/glance_api exists (its LTO build takes minutes, so this script does not start one).
#
# Knobs: THREADS (2) CONNS (100) DURATION (10 s per round) ROUNDS (5) UPLOAD_MB (1024)
#        LATENCY_CONNS (1000: the p99 round)
set -euo pipefail
cd "$(dirname "$0")/.."
# wrk -c1000 and the servers' connections need more than the usual 1024 descriptors.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

THREADS=${THREADS:-2}
CONNS=${CONNS:-100}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
UPLOAD_MB=${UPLOAD_MB:-1024}
LATENCY_CONNS=${LATENCY_CONNS:-1000}
WSGI_PORT=${WSGI_PORT:-18180}
BASE_PORT=${BASE_PORT:-18181}
FORK_PORT=${FORK_PORT:-18182}

if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi

cargo build --release -q --bin may-wsgi --example minihttp_baseline
TARGET=${CARGO_TARGET_DIR:-target}
WSGI=$TARGET/release/may-wsgi
BASE=$TARGET/release/examples/minihttp_baseline

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    echo "server on port $1 did not come up" >&2
    exit 1
}

"$BASE" "127.0.0.1:$BASE_PORT" "$THREADS" >/dev/null 2>&1 & pids+=($!)
"$WSGI" --bind "127.0.0.1:$WSGI_PORT" --workers 0 --scheduler-threads "$THREADS" --no-access-log --log-level warning & pids+=($!)
"$WSGI" --bind "127.0.0.1:$FORK_PORT" --workers "$THREADS" --scheduler-threads 1 --no-access-log --log-level warning & pids+=($!)
wait_port "$BASE_PORT"
wait_port "$WSGI_PORT"
wait_port "$FORK_PORT"

rps() { wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }
ratio() { echo "$1 / $2" | bc -l; }

echo "hello world: wrk -t2 -c$CONNS -d${DURATION}s, $ROUNDS rounds each, alternating"
echo "  may_minihttp --threads $THREADS | may-wsgi --workers 0 --scheduler-threads $THREADS | may-wsgi --workers $THREADS --scheduler-threads 1"
base_sum=0; wsgi_sum=0; fork_sum=0
for r in $(seq 1 "$ROUNDS"); do
    b=$(rps "$BASE_PORT"); w=$(rps "$WSGI_PORT"); f=$(rps "$FORK_PORT")
    printf '  round %d: may_minihttp %9.0f   single %9.0f (%.3f)   workers %9.0f (%.3f) req/s\n' \
        "$r" "$b" "$w" "$(ratio "$w" "$b")" "$f" "$(ratio "$f" "$b")"
    base_sum=$(echo "$base_sum + $b" | bc -l); wsgi_sum=$(echo "$wsgi_sum + $w" | bc -l); fork_sum=$(echo "$fork_sum + $f" | bc -l)
done
printf 'hello world mean: may_minihttp %.0f req/s; may-wsgi single process %.0f req/s, ratio %.3f; %s workers x 1 thread %.0f req/s, ratio %.3f (target >= 1.0)\n' \
    "$(echo "$base_sum / $ROUNDS" | bc -l)" "$(echo "$wsgi_sum / $ROUNDS" | bc -l)" "$(ratio "$wsgi_sum" "$base_sum")" \
    "$THREADS" "$(echo "$fork_sum / $ROUNDS" | bc -l)" "$(ratio "$fork_sum" "$base_sum")"

# Latency under many connections: the 99th percentile at LATENCY_CONNS, one round each.
p99() { wrk -t2 -c"$LATENCY_CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$1/" | awk '$1 == "99%" {print $2}'; }
printf 'latency at wrk -c%d: p99 may_minihttp %s, may-wsgi single %s, workers %s\n' \
    "$LATENCY_CONNS" "$(p99 "$BASE_PORT")" "$(p99 "$WSGI_PORT")" "$(p99 "$FORK_PORT")"

# A fresh server for the upload, so its peak RSS is the upload's own.
kill "${pids[1]}"; wait "${pids[1]}" 2>/dev/null || true
"$WSGI" --bind "127.0.0.1:$WSGI_PORT" --workers 0 --scheduler-threads "$THREADS" --no-access-log --log-level warning & pid=$!; pids+=($pid)
wait_port "$WSGI_PORT"
echo "upload: ${UPLOAD_MB} MiB chunked through /echo and back (curl -T -)"
out=$(head -c "$((UPLOAD_MB * 1024 * 1024))" /dev/zero \
    | curl -sS -T - -H 'Content-Type: application/octet-stream' "http://127.0.0.1:$WSGI_PORT/echo" \
        -o >(wc -c > /tmp/may_wsgi_bench_echoed) -w '%{time_total}')
sleep 0.2
echoed=$(cat /tmp/may_wsgi_bench_echoed)
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
printf 'upload: %d bytes echoed in %.2f s = %.0f MiB/s each way; server peak RSS %.1f MiB (target < 32)\n' \
    "$echoed" "$out" "$(echo "$UPLOAD_MB / $out" | bc -l)" "$(echo "$hwm_kb / 1024" | bc -l)"

# The servers above are stopped first, so they take no memory or CPU from the runs below.
cleanup; wait "${pids[@]}" 2>/dev/null || true; pids=()
# Behind nginx, beside nginx alone (benches/proxied.sh; `make bench-proxied` runs it alone).
THREADS=$THREADS DURATION=$DURATION ROUNDS=$ROUNDS ./benches/proxied.sh
./benches/capacity.sh

# The port's section: examples/glance_api against the issue's targets.
if [ -x "$TARGET/release/examples/glance_api" ]; then
    ./benches/glance.sh
else
    echo "glance_api: skipped, the release example is not built (cargo build --release --example glance_api, or make bench-glance)"
fi
