"""The demo app's benchmark routes in Python, for `make bench-models` (benches/models.py) to
serve with gunicorn beside may-wsgi: `-k eventlet` (green threads, the coroutine model) and
`-k gthread` (a pool of OS threads, the thread model). Same routes, same answers, as the
Rust demo (src/demo.rs):

  /                  Hello World
  /sleep?seconds=S   I/O-bound: time.sleep, which eventlet's monkey-patching makes a green
                     sleep (the green thread parks, the hub runs others) and which, under
                     gthread, sleeps the one request thread
  /block?seconds=S   the blocking call: the original time.sleep, kept before eventlet can
                     patch it (as a C extension or a driver that eventlet cannot patch would
                     block): under eventlet the whole hub stops with it
  /hash?kib=N        CPU-bound: FNV-1a over N KiB, the same loop as the demo's

    gunicorn -k gthread --threads 32 -b 127.0.0.1:8000 --chdir benches models_app:app
    gunicorn -k eventlet --worker-connections 1000 -b 127.0.0.1:8000 --chdir benches models_app:app
"""

import os
import time
from urllib.parse import parse_qs

# Taken at import, before gunicorn's eventlet worker monkey-patches the time module: this
# one blocks the OS thread whatever happens later.
_blocking_sleep = time.sleep


def fnv1a_kib(kib):
    h = 0xCBF29CE484222325
    for i in range(kib * 1024):
        h = ((h ^ (i & 0xFF)) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _param(environ, name, default):
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return values[0] if values else default


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        body = b"Hello World"
    elif path == "/sleep":
        seconds = float(_param(environ, "seconds", "1"))
        time.sleep(seconds)  # green under eventlet, a thread sleep under gthread
        body = b"slept %g seconds in worker %d\n" % (seconds, os.getpid())
    elif path == "/block":
        seconds = float(_param(environ, "seconds", "1"))
        _blocking_sleep(seconds)
        body = b"blocked %g seconds\n" % seconds
    elif path == "/hash":
        body = b"%016x\n" % fnv1a_kib(int(_param(environ, "kib", "64")))
    elif path == "/pid":
        body = b"%d\n" % os.getpid()
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found\n"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    # python3 models_app.py PORT: eventlet's own WSGI server, as Glance runs it: every
    # connection a green thread from a GreenPool(1000), the standard library monkey-patched.
    import sys

    import eventlet
    import eventlet.wsgi

    eventlet.monkey_patch()
    sock = eventlet.listen(("127.0.0.1", int(sys.argv[1])), backlog=4096)
    print("eventlet listening at http://127.0.0.1:%s" % sys.argv[1], flush=True)
    eventlet.wsgi.server(sock, app, log_output=False, max_size=1000)
