"""What the end-to-end checks of examples/glance_api stand on: the server under test as a
process (start on port 0, stop with SIGTERM, kill -9, start again on the same data dir), one
raw HTTP exchange with every header as it came on the wire, WebOb's error bodies as Glance
sends them, and a check runner that keeps going after a mismatch so that one run lists them
all.

It hands scenario.py and wire.py: `Server`, `request()` / `Resp`, `PausedUpload`, `error_bodies()`,
`Checks` with `expect`/`expect_eq`, and `Checks.summary()`, whose last line is
"scenario: N passed, N failed".

Standard library only: the checks must not depend on what they check (glanceclient is used by
scenario.py as a user's client, never to judge a reply).
"""

import hashlib
import http.client as httpclient
import json
import os
import re
import signal
import subprocess
import threading
import time
import traceback

IO_TIMEOUT = 60  # seconds for one exchange: a bug shows as a failure, never a hang


# ---------------------------------------------------------------- the server under test


class Server:
    """The port as an operator runs it: `BIN --bind 127.0.0.1:0 --workers 2 --data-dir DIR`.

    The port it got is read from what it prints (the master logs its listening address), so
    nothing races for a port. `url` is None until started, or when an outside `url` is given
    (then start/stop/kill are not possible and the checks that need them are skipped)."""

    def __init__(self, binary=None, data_dir=None, workers=2, extra=(), url=None):
        self.binary, self.data_dir, self.workers, self.extra = binary, data_dir, workers, list(extra)
        self.url = url
        self.proc = None
        self.lines = []
        self._port = None

    @property
    def managed(self):
        return self.binary is not None

    @property
    def hostport(self):
        return self.url.split("//", 1)[1].rstrip("/")

    def start(self, timeout=60):
        cmd = [self.binary, "--bind", "127.0.0.1:0", "--workers", str(self.workers),
               "--data-dir", self.data_dir, *self.extra]
        # Fresh state for each start: the reader of a previous process may still be draining.
        self.lines, self._port = [], None
        found = threading.Event()
        # Its own process group: a kill -9 can reach the workers too, as a crash would.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._read_output, args=(self.proc.stdout, self.lines, found),
                         daemon=True).start()
        if not found.wait(timeout) or self._port is None:
            self.kill()
            raise RuntimeError("server never printed a 127.0.0.1:PORT it listens on; it said:\n"
                               + "\n".join(self.lines[-40:]))
        self.url = "http://127.0.0.1:%d" % self._port
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                request(self, "GET", "/versions", timeout=5)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("server did not answer GET /versions; it said:\n" + "\n".join(self.lines[-40:]))

    def _read_output(self, pipe, lines, found):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            if not found.is_set():
                m = re.search(r"(?:127\.0\.0\.1|localhost|0\.0\.0\.0):(\d+)", line)
                if m and int(m.group(1)) != 0:
                    self._port = int(m.group(1))
                    found.set()
        found.set()

    def pids(self):
        """The master and its live children (the workers), from /proc."""
        if not self.proc:
            return []
        out = [self.proc.pid]
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if fields[1] == str(self.proc.pid) and fields[0] != "Z":
                out.append(int(entry))
        return out

    def stop(self, timeout=30):
        """SIGTERM to the master, as an operator stops it; True if it (and so its workers) exited."""
        if not self.proc or self.proc.poll() is not None:
            return True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            self.kill()
            return False

    def kill(self):
        """kill -9 of the whole process group: a power cut for the server, no cleanup."""
        if not self.proc:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def output(self):
        return "\n".join(self.lines)


# ---------------------------------------------------------------- one HTTP exchange


class Resp:
    """A reply as it came: status, reason, headers in wire order with their names as sent."""

    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_names(self):
        return [k for k, _ in self.headers]

    def json(self):
        return json.loads(self.body)

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<%d %s %r %r>" % (self.status, self.reason, self.headers, self.body[:300])


def request(server, method, path, body=None, headers=None, chunks=None, timeout=IO_TIMEOUT):
    """One request on a fresh connection. `chunks` (an iterable of bytes) sends a chunked body."""
    conn = httpclient.HTTPConnection(server.hostport, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if chunks is not None:
            conn.request(method, path, body=iter(chunks), headers=hdrs, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, r.reason, r.getheaders(), data)
    finally:
        conn.close()


class PausedUpload:
    """A chunked PUT that stops half-way, so a check can look at the image while it is
    `saving`, and then goes on (or is dropped)."""

    def __init__(self, server, image_id, first, size_header=None):
        self.conn = httpclient.HTTPConnection(server.hostport, timeout=IO_TIMEOUT)
        self.conn.putrequest("PUT", "/v2/images/%s/file" % image_id)
        self.conn.putheader("Content-Type", "application/octet-stream")
        self.conn.putheader("Transfer-Encoding", "chunked")
        if size_header is not None:
            self.conn.putheader("x-openstack-image-size", str(size_header))
        self.conn.endheaders()
        self.send(first)

    def send(self, data):
        self.conn.send(b"%x\r\n%s\r\n" % (len(data), data))

    def finish(self, rest=b""):
        if rest:
            self.send(rest)
        self.conn.send(b"0\r\n\r\n")
        r = self.conn.getresponse()
        data = r.read()
        self.conn.close()
        return Resp(r.status, r.reason, r.getheaders(), data)

    def drop(self):
        self.conn.close()


# ---------------------------------------------------------------- Glance's error bodies

PHRASES = {
    400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 416: "Request Range Not Satisfiable", 501: "Not Implemented",
}
# WebOb's stock sentence for each status (webob/exc.py), which comes first when Glance raises
# with a `detail` rather than an `explanation`.
STOCK = {
    400: "The server could not comply with the request since it is either malformed or "
         "otherwise incorrect.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    409: "There was a conflict when trying to complete your request.",
    416: "The Range requested is not available.",
}


def error_bodies(code, message):
    """The text/plain bodies WebOb makes for `message` (spec section 2): raised as the
    explanation, `"<code> <phrase>\\n\\n<message>\\n\\n   "`; raised as the detail, the stock
    sentence first, `"<code> <phrase>\\n\\n<stock>\\n\\n <message>  "`."""
    status = "%d %s" % (code, PHRASES[code])
    out = {"explanation": "%s\n\n%s\n\n   " % (status, message)}
    if code in STOCK:
        out["detail"] = "%s\n\n%s\n\n %s  " % (status, STOCK[code], message)
    return out


def sha512(data):
    return hashlib.sha512(data).hexdigest()


def md5(data):
    return hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------- checks


class Checks:
    """Runs named checks; a check records every mismatch it finds (`expect*`) and fails at
    its end if it found any, or at once on an exception. The run goes on either way."""

    def __init__(self, verbose=True):
        self.passed, self.failed, self.skipped = [], [], []
        self._mismatches = None
        self.verbose = verbose

    def expect(self, cond, what):
        if not cond:
            self._mismatches.append(what)
        return bool(cond)

    def expect_eq(self, what, got, want):
        return self.expect(got == want, "%s: expected %r, got %r" % (what, want, got))

    def expect_in(self, what, needle, hay):
        return self.expect(needle in hay, "%s: expected to contain %r, got %r" % (what, needle, hay))

    def expect_status(self, what, resp, status):
        return self.expect(resp.status == status, "%s: expected status %d, got %d %r" % (
            what, status, resp.status, resp.body[:400]))

    def expect_error(self, what, resp, code, message, form=None, content_type="text/plain; charset=UTF-8"):
        """An error reply as WebOb writes it: status, Content-Type, the request id, and the body
        in the given form ('explanation' or 'detail'), or in either when the spec does not say."""
        if not self.expect_status(what, resp, code):
            return False
        self.expect_eq(what + " Content-Type", resp.header("Content-Type"), content_type)
        bodies = error_bodies(code, message)
        if form:
            return self.expect_eq(what + " body", resp.text(), bodies[form])
        return self.expect(resp.text() in bodies.values(),
                           "%s body: expected one of %r, got %r" % (what, list(bodies.values()), resp.text()))

    def skip(self, name, why):
        self.skipped.append((name, why))
        print("skip %s: %s" % (name, why), flush=True)

    def run(self, name, fn, *args):
        self._mismatches = []
        start = time.time()
        try:
            fn(*args)
        except Exception:  # a crash of one check is one failure; the run goes on
            self._mismatches.append("exception:\n" + traceback.format_exc().rstrip())
        took = time.time() - start
        if self._mismatches:
            self.failed.append((name, self._mismatches))
            print("FAIL %s (%.1f s)" % (name, took), flush=True)
            for m in self._mismatches:
                print("  - " + m.replace("\n", "\n    "), flush=True)
        else:
            self.passed.append(name)
            if self.verbose:
                print("ok   %s (%.1f s)" % (name, took), flush=True)
        self._mismatches = None

    def summary(self):
        if self.failed:
            print("\nfailed checks: " + ", ".join(n for n, _ in self.failed))
        print("scenario: %d passed, %d failed" % (len(self.passed), len(self.failed))
              + (", %d skipped" % len(self.skipped) if self.skipped else ""), flush=True)
        return not self.failed


def eventually(cond, timeout=20.0):
    """Polls `cond` until it holds (for states the server reaches on its own time)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()

