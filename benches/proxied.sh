#!/usr/bin/env bash
# make bench-proxied (and a section of make bench): may-wsgi behind nginx, beside nginx
# serving the same bytes itself, in one run, alternating rounds, as ratios:
#   hello:  wrk -> nginx -> may-wsgi `/`                  vs  wrk -> nginx `return 200 "Hello World"`
#   1 MiB:  wrk -> nginx -> may-wsgi `/download?mib=1`    vs  wrk -> nginx, the same 1 MiB as a static file
# (sendfile on), and may-wsgi alone for reference: what the hop through nginx costs.
# nginx runs deploy/nginx/may-wsgi.conf itself (addresses replaced, access log off on both
# sides), 2 worker processes; may-wsgi runs THREADS workers of one thread. Everything
# shares the machine's cores with wrk, so the ratio is the figure to read.
#
# Knobs: THREADS (2) PROXY_CONNS (50) DURATION (10 s per round) ROUNDS (3)
#        PROXY_PORT (18183: nginx -> may-wsgi) DIRECT_PORT (18184: nginx alone)
#        BACKEND_PORT (18185: may-wsgi)
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
PROXY_CONNS=${PROXY_CONNS:-50}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
PROXY_PORT=${PROXY_PORT:-18183}
DIRECT_PORT=${DIRECT_PORT:-18184}
BACKEND_PORT=${BACKEND_PORT:-18185}

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
    echo "proxied: skipped, nginx is not installed"
    exit 0
fi

cargo build --release -q --bin may-wsgi
TARGET=${CARGO_TARGET_DIR:-target}
WSGI=$TARGET/release/may-wsgi

tmp=$(mktemp -d /tmp/may_wsgi_proxied.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1${2:-/}" && return 0
        sleep 0.1
    done
    echo "nothing answers on port $1" >&2
    exit 1
}

"$WSGI" --bind "127.0.0.1:$BACKEND_PORT" --workers "$THREADS" --scheduler-threads 1 --no-access-log --log-level warning & pids+=($!)
wait_port "$BACKEND_PORT"
# The static file is the download itself, so both sides send the very same bytes.
curl -s -o "$tmp/1mib.bin" "http://127.0.0.1:$BACKEND_PORT/download?mib=1"
# nginx's workers run as nobody when it is started as root: let them read the file.
chmod 755 "$tmp"
chmod 644 "$tmp/1mib.bin"

# The site as shipped, with our addresses; no access log on either side (a log line per
# request would weigh on both equally, but says nothing about proxying).
sed -e "s|server 127.0.0.1:8000;|server 127.0.0.1:$BACKEND_PORT;|" \
    -e "s|listen 80;|listen 127.0.0.1:$PROXY_PORT;|" \
    -e "s|access_log /var/log/nginx/may-wsgi.access.log may_wsgi;|access_log off;|" \
    deploy/nginx/may-wsgi.conf > "$tmp/site.conf"
temps="client_body_temp_path $tmp/body;"
for m in proxy fastcgi uwsgi scgi; do
    "$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module" || temps+=" ${m}_temp_path $tmp/$m;"
done
cat > "$tmp/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 4096; }
http {
    $temps
    access_log off;
    include $tmp/site.conf;
    server {
        listen 127.0.0.1:$DIRECT_PORT;
        location = /hello { default_type text/plain; return 200 "Hello World"; }
        location = /1mib { default_type application/octet-stream; alias $tmp/1mib.bin; sendfile on; }
    }
}
EOF
"$NGINX" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" & pids+=($!)
wait_port "$PROXY_PORT"
wait_port "$DIRECT_PORT" /hello
cmp <(curl -s "http://127.0.0.1:$PROXY_PORT/download?mib=1") <(curl -s "http://127.0.0.1:$DIRECT_PORT/1mib") \
    || { echo "proxied: the two sides do not send the same bytes" >&2; exit 1; }

rps() { wrk -t2 -c"$PROXY_CONNS" -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
ratio() { echo "$1 / $2" | bc -l; }

echo "proxied: wrk -t2 -c$PROXY_CONNS -d${DURATION}s, $ROUNDS rounds each, alternating;" \
    "nginx (2 workers, deploy/nginx/may-wsgi.conf) -> may-wsgi --workers $THREADS --scheduler-threads 1, beside nginx alone"
for what in hello 1mib; do
    if [ "$what" = hello ]; then
        path=/; direct_url="http://127.0.0.1:$DIRECT_PORT/hello"
    else
        path="/download?mib=1"; direct_url="http://127.0.0.1:$DIRECT_PORT/1mib"
    fi
    proxied_url="http://127.0.0.1:$PROXY_PORT$path"; backend_url="http://127.0.0.1:$BACKEND_PORT$path"
    p_sum=0; d_sum=0; b_sum=0
    for r in $(seq 1 "$ROUNDS"); do
        d=$(rps "$direct_url"); p=$(rps "$proxied_url"); b=$(rps "$backend_url")
        printf '  %-5s round %d: nginx alone %8.0f   nginx -> may-wsgi %8.0f (%.3f)   may-wsgi alone %8.0f req/s\n' \
            "$what" "$r" "$d" "$p" "$(ratio "$p" "$d")" "$b"
        p_sum=$(echo "$p_sum + $p" | bc -l); d_sum=$(echo "$d_sum + $d" | bc -l); b_sum=$(echo "$b_sum + $b" | bc -l)
    done
    unit="req/s"; [ "$what" = 1mib ] && unit="MiB/s"
    printf 'proxied %s mean: nginx alone %.0f %s; nginx -> may-wsgi %.0f %s, ratio %.3f; (may-wsgi alone %.0f %s)\n' \
        "$what" "$(echo "$d_sum / $ROUNDS" | bc -l)" "$unit" "$(echo "$p_sum / $ROUNDS" | bc -l)" "$unit" \
        "$(ratio "$p_sum" "$d_sum")" "$(echo "$b_sum / $ROUNDS" | bc -l)" "$unit"
done
