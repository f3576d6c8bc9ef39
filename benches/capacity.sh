#!/usr/bin/env bash
# make bench-capacity (and the second half of make bench): for each server in turn, on
# loopback, benches/capacity.py opens IDLE idle keep-alive connections and reads the server's
# RSS per connection and how many it holds; then, with those open, SLOW slowloris connections;
# then times FRESH fresh requests (CONC at a time); and counts the slowloris connections the
# server closed at its client timeout. One result line per server, side by side:
#   may_minihttp (raw hello world, the may baseline), may-wsgi --workers 0, may-wsgi with its
#   default workers, and nginx (2 worker processes) when it is installed.
#
# Knobs: IDLE (10000) SLOW (2000) FRESH (200) CONC (20) BATCH (500) CLIENT_TIMEOUT (5)
#        REQUEST_TIMEOUT (10) CONNECT_TIMEOUT (5) SETTLE (3) GRACE (3) KEEP_ALIVE (120)
#        SERVERS ("minihttp wsgi-single wsgi-workers nginx") CAP_PORT (18190, one port each)
set -euo pipefail
cd "$(dirname "$0")/.."

IDLE=${IDLE:-10000}
SLOW=${SLOW:-2000}
FRESH=${FRESH:-200}
CONC=${CONC:-20}
BATCH=${BATCH:-500}
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-5}
REQUEST_TIMEOUT=${REQUEST_TIMEOUT:-10}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-5}
SETTLE=${SETTLE:-3}
GRACE=${GRACE:-3}
KEEP_ALIVE=${KEEP_ALIVE:-120}
SERVERS=${SERVERS:-minihttp wsgi-single wsgi-workers nginx}
CAP_PORT=${CAP_PORT:-18190}

TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q --bin may-wsgi --example minihttp_baseline
WSGI=$TARGET/release/may-wsgi
BASE=$TARGET/release/examples/minihttp_baseline

# Servers and client may each hold IDLE + SLOW + a few sockets; 20,000 is the hard limit here.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d /tmp/may_wsgi_capacity.XXXXXX)
pid=
stop() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        # A server still there 10 s after TERM is killed, its workers with it.
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL $(pgrep -P "$pid") "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
    fi
}
trap 'stop; rm -rf "$tmp"' EXIT

wait_port() {
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    echo "server on port $1 did not come up; its log:" >&2
    tail -20 "$2" >&2
    exit 1
}

# A minimal nginx answering Hello World, everything it writes kept in $tmp.
nginx_conf() {
    # Temp-path directives exist only for the modules this nginx was built with.
    local temps="client_body_temp_path $tmp/body;" m
    for m in proxy fastcgi uwsgi scgi; do
        nginx -V 2>&1 | grep -q -- "--without-http_${m}_module" || temps+=" ${m}_temp_path $tmp/$m;"
    done
    cat > "$tmp/nginx.conf" <<EOF
daemon off;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 16384; }
http {
    access_log $tmp/nginx-access.log;
    $temps
    keepalive_timeout 120s;
    client_header_timeout 5s;
    server {
        listen 127.0.0.1:$1;
        location / { default_type text/plain; return 200 "Hello World"; }
    }
}
EOF
}

echo "capacity: per server, $IDLE idle keep-alive connections held (RSS per connection), then" \
    "$SLOW slowloris, then $FRESH fresh requests $CONC at a time; client timeout ${CLIENT_TIMEOUT} s"
port=$CAP_PORT
for server in $SERVERS; do
    port=$((port + 1))
    log=$tmp/$server.log
    wsgi_flags=(--bind "127.0.0.1:$port" --no-access-log --keep-alive "$KEEP_ALIVE" --client-timeout "$CLIENT_TIMEOUT")
    case $server in
        minihttp) "$BASE" "127.0.0.1:$port" >"$log" 2>&1 & pid=$! ;;
        wsgi-single) "$WSGI" "${wsgi_flags[@]}" --workers 0 >"$log" 2>&1 & pid=$! ;;
        wsgi-workers) "$WSGI" "${wsgi_flags[@]}" >"$log" 2>&1 & pid=$! ;;
        nginx)
            if ! command -v nginx >/dev/null 2>&1; then echo "capacity nginx: skipped, not installed"; continue; fi
            nginx_conf "$port"
            nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" >"$log" 2>&1 & pid=$! ;;
        *) echo "unknown server '$server' in SERVERS" >&2; exit 2 ;;
    esac
    wait_port "$port" "$log"
    sleep 1 # every worker booted before the RSS baseline is read
    python3 benches/capacity.py --name "$server" --port "$port" --pids "$pid" \
        --idle "$IDLE" --slow "$SLOW" --fresh "$FRESH" --concurrency "$CONC" --batch "$BATCH" \
        --client-timeout "$CLIENT_TIMEOUT" --request-timeout "$REQUEST_TIMEOUT" \
        --connect-timeout "$CONNECT_TIMEOUT" --settle "$SETTLE" --grace "$GRACE"
    stop
done
