#!/usr/bin/env bash
# make bench-glance: examples/glance_api (the Glance Images API v2 port) measured against the
# issue's targets, which are set relative to Glance 33 under uWSGI on this kind of machine:
#   image-list  >= 100 x 80 req/s        (wrk on GET /v2/images holding 25 images; p50 shown)
#   upload      >= 2 x 67-116 MiB/s      (256 MiB chunked, as glanceclient sends; and sized)
#   memory      total RSS <= 27.5 MiB    (a tenth of Glance's 275 MiB: master + workers, VmHWM)
#   1 GiB       upload and download with each worker's peak RSS (VmHWM) under 32 MiB
# The server is the release build with --workers 2 --no-access-log on a data dir made by
# mktemp (under $TMPDIR) and removed on exit, as are the server and everything else it started.
# REF_URL=http://127.0.0.1:PORT also measures a Glance already running there (e.g. Glance 33
# under uWSGI, /work/shared/glance-images-v2.md section 0) in the same run, for ratios.
# The machine is shared and noisy: read the ratios, not the absolute figures.
#
# Knobs: PORT (18190) CONNS (50) DURATION (10 s) MIB (256) ROUNDS (3: median) BIG_MIB (1024)
#        IMAGES (25) REF_URL
#        GLANCE_API_BIN (a binary to measure instead of building the release example)
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PORT=${PORT:-18190}
CONNS=${CONNS:-50}
DURATION=${DURATION:-10}
MIB=${MIB:-256}
BIG_MIB=${BIG_MIB:-1024}
IMAGES=${IMAGES:-25}
ROUNDS=${ROUNDS:-3}
REF_URL=${REF_URL:-}

for tool in wrk curl bc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "installing $tool (Debian package)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool"
    fi
done

if [ -n "${GLANCE_API_BIN:-}" ]; then
    BIN=$GLANCE_API_BIN
else
    cargo build --release -q --example glance_api
    BIN=${CARGO_TARGET_DIR:-target}/release/examples/glance_api
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/glance-bench.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" --bind "127.0.0.1:$PORT" --workers 2 --no-access-log --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
pid=$!
URL=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do
    curl -s -o /dev/null "$URL/versions" && break
    sleep 0.1
done
curl -sf -o /dev/null "$URL/versions" || { echo "glance_api did not come up:"; cat "$WORK/server.log"; exit 1; }

workers() { ps -o pid= --ppid "$pid" | tr -d ' '; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
mib() { echo "scale=1; $1 / 1024" | bc -l; }
sum_kib() { local s=0 p; for p in "$pid" $(workers); do s=$((s + $(kib "$p" "$1"))); done; echo "$s"; }

# POST an image with raw/bare formats; prints its id.
create() {
    curl -sS -X POST -H 'Content-Type: application/json' \
        -d "{\"name\": \"$2\", \"disk_format\": \"raw\", \"container_format\": \"bare\", \"bench\": \"yes\"}" \
        "$1/v2/images" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
# upload URL ID MIB [sized]: prints "status seconds"; chunked from a pipe unless sized.
upload() {
    if [ "${4:-}" = sized ]; then
        head -c "$(($3 << 20))" /dev/zero >"$WORK/sized.img"
        curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' -T "$WORK/sized.img" \
            -H 'Content-Type: application/octet-stream' "$1/v2/images/$2/file"
        rm -f "$WORK/sized.img"
    else
        head -c "$(($3 << 20))" /dev/zero | curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' -T - \
            -H 'Content-Type: application/octet-stream' "$1/v2/images/$2/file"
    fi
}
# download URL ID: prints "status bytes seconds".
download() { curl -sS -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' "$1/v2/images/$2/file"; }
mibps() { echo "$1 / $2" | bc -l; }

# list URL: prints "req/s p50" from wrk on GET /v2/images with IMAGES images there.
list_rate() {
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$1/v2/images" >"$WORK/wrk.out"
    awk '/Requests\/sec/ {r = $2} $1 == "50%" {p = $2} /Non-2xx/ {bad = $NF} END {print r, p, (bad ? bad : 0)}' "$WORK/wrk.out"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
codes() { printf '%s\n' "$@" | sort -u | paste -sd/ -; }

# measure NAME URL: the same sequence on any server; prints one result line to parse. The
# transfers run ROUNDS times and the median time counts (the statuses are all shown).
measure() {
    local name=$1 url=$2 i id cc=() tc=() cs=() ts=() cd=() bd=() td=() c t b
    for i in $(seq 1 "$IMAGES"); do create "$url" "bench-$i" >/dev/null; done
    read -r rps p50 bad < <(list_rate "$url")
    for i in $(seq 1 "$ROUNDS"); do
        id=$(create "$url" chunked)
        read -r c t < <(upload "$url" "$id" "$MIB"); cc+=("$c"); tc+=("$t")
        read -r c b t < <(download "$url" "$id"); cd+=("$c"); bd+=("$b"); td+=("$t")
        curl -sS -o /dev/null -X DELETE "$url/v2/images/$id"
        id=$(create "$url" sized)
        read -r c t < <(upload "$url" "$id" "$MIB" sized); cs+=("$c"); ts+=("$t")
        curl -sS -o /dev/null -X DELETE "$url/v2/images/$id"
    done
    echo "$name $rps $p50 $bad $(codes "${cc[@]}") $(median "${tc[@]}") $(codes "${cs[@]}") $(median "${ts[@]}")" \
        "$(codes "${cd[@]}") $(codes "${bd[@]}") $(median "${td[@]}")"
}

echo "glance_api: --workers 2 --no-access-log; wrk -t2 -c$CONNS -d${DURATION}s on GET /v2/images ($IMAGES images); $MIB MiB up and down, median of $ROUNDS"
echo "(shared, noisy machine: other work runs beside; read ratios, not absolute figures)"
read -r _ rps p50 bad code_c t_c code_s t_s code_d bytes_d t_d < <(measure port "$URL")
hwm_list=$(sum_kib VmHWM); rss_now=$(sum_kib VmRSS)
if [ -n "$REF_URL" ]; then
    read -r _ r_rps r_p50 r_bad r_code_c r_t_c r_code_s r_t_s r_code_d r_bytes_d r_t_d < <(measure ref "$REF_URL")
fi

# 1 GiB through one image: up chunked, then down; each worker's peak RSS after both.
id=$(create "$URL" big)
read -r code_bu t_bu < <(upload "$URL" "$id" "$BIG_MIB")
read -r code_bd bytes_bd t_bd < <(download "$URL" "$id")
worker_hwm=$(for w in $(workers); do kib "$w" VmHWM; done | sort -n | tail -1)
hwm_all=$(sum_kib VmHWM)
curl -sS -o /dev/null -X DELETE "$URL/v2/images/$id"

printf '\n%-34s %16s %22s   %s\n' "glance_api, --workers 2" "measured" "target" "verdict"
row() { printf '%-34s %16s %22s   %s\n' "$1" "$2" "$3" "$4"; }
ok() { if [ "$(echo "$1" | bc -l)" = 1 ]; then echo met; else echo "NOT met"; fi; }
row "image-list req/s (p50 $p50)" "$(printf '%.0f' "$rps")" ">= 8000 (100x80)" "$(ok "$rps >= 8000")$([ "$bad" != 0 ] && echo ", $bad non-2xx")"
row "upload $MIB MiB chunked, MiB/s" "$(printf '%.0f (%s)' "$(mibps "$MIB" "$t_c")" "$code_c")" ">= 134-232 (2x67-116)" "$(ok "$MIB / $t_c >= 134")"
row "upload $MIB MiB sized, MiB/s" "$(printf '%.0f (%s)' "$(mibps "$MIB" "$t_s")" "$code_s")" ">= 134-232 (2x67-116)" "$(ok "$MIB / $t_s >= 134")"
row "download $MIB MiB, MiB/s" "$(printf '%.0f (%s)' "$(mibps "$MIB" "$t_d")" "$code_d")" "-" "$([ "$bytes_d" = $((MIB << 20)) ] && echo "all bytes" || echo "got $bytes_d bytes")"
row "peak RSS master+workers, MiB" "$(mib "$hwm_list")" "<= 27.5 (275/10)" "$(ok "$hwm_list <= 27.5 * 1024") (now $(mib "$rss_now"))"
row "upload $BIG_MIB MiB chunked, MiB/s" "$(printf '%.0f (%s)' "$(mibps "$BIG_MIB" "$t_bu")" "$code_bu")" "-" ""
row "download $BIG_MIB MiB, MiB/s" "$(printf '%.0f (%s)' "$(mibps "$BIG_MIB" "$t_bd")" "$code_bd")" "-" "$([ "$bytes_bd" = $((BIG_MIB << 20)) ] && echo "all bytes" || echo "got $bytes_bd bytes")"
row "largest worker VmHWM after $BIG_MIB MiB" "$(mib "$worker_hwm")" "< 32" "$(ok "$worker_hwm < 32 * 1024")"
row "peak RSS master+workers after all" "$(mib "$hwm_all")" "<= 27.5" "$(ok "$hwm_all <= 27.5 * 1024")"
if [ -n "$REF_URL" ]; then
    printf '\nbeside %s (same run, same sequence):\n' "$REF_URL"
    row "image-list req/s (p50 $r_p50)" "$(printf '%.0f' "$r_rps")" "ratio" "$(printf '%.1fx' "$(echo "$rps / $r_rps" | bc -l)")$([ "$r_bad" != 0 ] && echo ", $r_bad non-2xx")"
    row "upload chunked, MiB/s" "$(printf '%.0f (%s)' "$(mibps "$MIB" "$r_t_c")" "$r_code_c")" "ratio" "$(printf '%.2fx' "$(echo "$r_t_c / $t_c" | bc -l)")"
    row "upload sized, MiB/s" "$(printf '%.0f (%s)' "$(mibps "$MIB" "$r_t_s")" "$r_code_s")" "ratio" "$(printf '%.2fx' "$(echo "$r_t_s / $t_s" | bc -l)")"
    row "download, MiB/s" "$(printf '%.0f (%s)' "$(mibps "$MIB" "$r_t_d")" "$r_code_d")" "ratio" "$(printf '%.2fx' "$(echo "$r_t_d / $t_d" | bc -l)")"
fi
