#!/usr/bin/env bash
# The reference: Glance 33.0.0 itself under uWSGI, set up as /work/shared/glance-images-v2.md
# section 0 describes (no Keystone, `"context_is_admin": "@"`, sqlite, the file store, uWSGI in
# HTTP mode with 2 processes x 4 threads), started with the port's own flags, so that
# scenario.py and differential.py can run against the original:
#
#   python3 -m venv ~/.cache/may_wsgi/venv-refglance
#   ~/.cache/may_wsgi/venv-refglance/bin/pip install glance==33.0.0 uwsgi
#   python scenario.py --server examples/glance_api/e2e/glance-ref.sh
#
# Flags: --bind HOST:PORT (port 0 works: uWSGI prints the one it got) --workers N
# --data-dir DIR (config, sqlite database, images); others are ignored. The virtualenv is
# $GLANCE_REF_VENV, else ~/.cache/may_wsgi/venv-refglance. exec: SIGTERM reaches uWSGI.
# Two differences from the port are known and expected: POST of a JSON array is a 500 in
# Glance (the spec asks the port for 400), and concurrent uploads can fail on sqlite (§0).
set -euo pipefail
V=${GLANCE_REF_VENV:-$HOME/.cache/may_wsgi/venv-refglance}
BIND=127.0.0.1:9292 W=2 D=
while [ $# -gt 0 ]; do
    case $1 in
        --bind) BIND=$2; shift 2 ;;
        --workers) W=$2; shift 2 ;;
        --data-dir) D=$2; shift 2 ;;
        *) shift ;;
    esac
done
[ -n "$D" ] || { echo "glance-ref.sh: --data-dir DIR is required" >&2; exit 2; }
[ -x "$V/bin/uwsgi" ] || { echo "glance-ref.sh: no glance+uwsgi virtualenv at $V (see this file's header)" >&2; exit 2; }
mkdir -p "$D"/{images,staging,cache,lock,etc}
cp "$V/etc/glance/glance-api-paste.ini" "$D/etc/"
cat >"$D/etc/glance-api.conf" <<CONF
[DEFAULT]
node_staging_uri = file://$D/staging
image_cache_dir = $D/cache
[database]
connection = sqlite:///$D/glance.sqlite
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $D/images/
[paste_deploy]
flavor =
[oslo_policy]
policy_file = $D/etc/policy.yaml
[oslo_concurrency]
lock_path = $D/lock
CONF
echo '"context_is_admin": "@"' >"$D/etc/policy.yaml"
[ -f "$D/glance.sqlite" ] || "$V/bin/glance-manage" --config-file "$D/etc/glance-api.conf" db_sync >/dev/null 2>&1
exec "$V/bin/uwsgi" --module glance.wsgi.api:application --http-socket "$BIND" --master --processes "$W" \
    --threads 4 --enable-threads --lazy-apps --die-on-term --buffer-size 65535 --add-header 'Connection: close' \
    --http-raw-body --http-chunked-input --http-auto-chunked --chunked-input-limit 16777216 --socket-timeout 60 \
    --env "OS_GLANCE_CONFIG_DIR=$D/etc" --virtualenv "$V" --disable-logging
