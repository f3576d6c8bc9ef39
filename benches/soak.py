#!/usr/bin/env python3
"""make soak: may-wsgi --workers N under hours-like conditions, compressed.

Mixed load on loopback (keep-alive hellos, 1 MiB uploads echoed back, downloads checked
byte for byte, slow clients that dribble a request head or read a response slowly, idle
keep-alive connections that are reopened whenever the server closes them) runs for
--seconds while the master gets HUP every --hup-every seconds and one worker SIGKILL every
--kill-every seconds. Then TERM. Everything is read from outside, as an operator would:
the status of every request, /proc/PID/status (VmRSS) and /proc/PID/fd of the master and
its workers at the start (after a warm-up) and at the end, and /proc for zombie children.

What must hold (the exit status is 1 if anything does not, and the report says what):
  - no request fails except those inside a killed worker: a failure must come within a
    few seconds of a kill, and no kill may account for more failures than the
    connections the worker held when it died (it is stopped, counted, then killed);
  - no body ever arrives changed;
  - the master's RSS and open descriptors are flat from start to end (RSS within 10 %
    or 256 KiB, descriptors equal), and so are the workers' (RSS within 10 % or 1 MiB,
    files and pipes equal; sockets follow the load, and the thread class's epoll and
    eventfd descriptors its request threads); once every client has left, no worker
    holds a connection;
  - no worker stays a zombie (the master reaps within its 0.2 s loop);
  - TERM ends the master with status 0 and no process left.

Python's standard library only. `make soak` runs it for 10 minutes against the release
binary; tests/soak.rs runs a 20-second version (HUP every 5 s, a kill every 10 s) in
`make test`.
"""

import argparse
import hashlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

MASK = (1 << 64) - 1
MIB = 1 << 20


def download_bytes(seed, length):
    """The bytes of /download?seed=S, as src/demo.rs makes them (download_bytes)."""
    out = bytearray()
    base = (seed * 0x9E3779B97F4A7C15) & MASK
    for k in range((length + 7) // 8):
        z = base ^ k
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out += z.to_bytes(8, "little")
    return bytes(out[:length])


class Broken(Exception):
    """A response that did not come whole: a reset, an early close, a short body."""


class Conn:
    """One HTTP/1.1 keep-alive connection, read the way a strict client reads."""

    def __init__(self, addr, timeout):
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.rfile = self.sock.makefile("rb")

    def close(self):
        for part in (self.rfile, self.sock):
            try:
                part.close()
            except OSError:
                pass

    def request(self, method, target, body=b"", dribble=0.0, read_delay=0.0):
        """Sends a request and returns (status, headers, body). `dribble`: seconds
        between the bytes of the head (a slow client); `read_delay`: seconds between
        64 KiB reads of the body (a slow reader). A large body is sent from a thread,
        since the echo comes back while it goes."""
        head = f"{method} {target} HTTP/1.1\r\nHost: soak\r\n"
        if body:
            head += f"Content-Length: {len(body)}\r\nContent-Type: application/octet-stream\r\n"
        head = (head + "\r\n").encode()
        sender = None
        if dribble:
            for i in range(0, len(head), 8):
                self.sock.sendall(head[i:i + 8])
                time.sleep(dribble)
        elif len(body) > 65536:
            failed = []

            def send():
                try:
                    self.sock.sendall(head + body)
                except OSError as e:
                    failed.append(e)

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
        else:
            self.sock.sendall(head + body)
        try:
            return self.read_response(method, read_delay)
        finally:
            if sender:
                sender.join()

    def line(self):
        line = self.rfile.readline(65537)
        if not line.endswith(b"\n"):
            raise Broken("connection closed mid-line" if line else "connection closed")
        return line.rstrip(b"\r\n")

    def read_response(self, method, read_delay):
        parts = self.line().split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise Broken(f"bad status line {parts!r}")
        status = int(parts[1])
        headers = {}
        while True:
            line = self.line()
            if not line:
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode()] = value.strip().decode()
        if method == "HEAD" or status in (204, 304):
            return status, headers, b""
        chunks = []
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    break
                chunks.append(self.exact(size, read_delay))
                self.line()
        elif "content-length" in headers:
            chunks.append(self.exact(int(headers["content-length"]), read_delay))
        else:
            chunks.append(self.rfile.read())
        return status, headers, b"".join(chunks)

    def exact(self, n, read_delay):
        got = []
        left = n
        while left:
            piece = self.rfile.read(min(left, 65536))
            if not piece:
                raise Broken(f"body cut short: {n - left} of {n} bytes")
            got.append(piece)
            left -= len(piece)
            if read_delay:
                time.sleep(read_delay)
        return b"".join(got)


class Tally:
    """Every outcome, by kind of request; failures with the time they happened."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}
        self.failures = []  # (time, kind, reason)
        self.changed = []  # bodies that came whole but wrong: never allowed

    def good(self, kind):
        with self.lock:
            self.ok[kind] = self.ok.get(kind, 0) + 1

    def bad(self, kind, reason):
        with self.lock:
            self.failures.append((time.monotonic(), kind, reason))

    def wrong(self, kind, reason):
        with self.lock:
            self.changed.append((kind, reason))


class Load:
    """The client threads. Each loops until stopped, on one keep-alive connection that
    it opens again after any failure (or when the server closed it)."""

    def __init__(self, addr, tally, scale):
        self.addr = addr
        self.tally = tally
        self.stop = threading.Event()
        self.threads = []
        self.uploads = [os.urandom(MIB) for _ in range(3)]
        self.downloads = {}
        self.slow_downloads = {}
        for seed in range(3):
            data = download_bytes(seed, 4 * MIB)
            self.downloads[seed] = hashlib.sha256(data[:MIB]).digest()
            self.slow_downloads[seed] = hashlib.sha256(data).digest()
        self.idle_connections = 20 * scale
        loops = [self.hello] * (2 * scale) + [self.upload] * scale + [self.download] * scale
        loops += [self.slow_head, self.slow_reader, self.idle]
        for n, loop in enumerate(loops):
            self.threads.append(threading.Thread(target=self.run, args=(loop, n), daemon=True))

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def run(self, loop, n):
        conn = None
        i = n
        while not self.stop.is_set():
            kind = loop.__name__
            try:
                if conn is None:
                    conn = Conn(self.addr, timeout=30)
                closes = loop(conn, i)
                self.tally.good(kind)
                if closes:
                    conn.close()
                    conn = None
            except (OSError, Broken, ValueError) as e:
                if not self.stop.is_set():
                    self.tally.bad(kind, f"{type(e).__name__}: {e}")
                if conn:
                    conn.close()
                conn = None
                time.sleep(0.05)
            i += 1
        if conn:
            conn.close()

    def check(self, kind, status, headers, body, expected_digest=None, expected=None):
        if status != 200:
            raise Broken(f"status {status}")
        if expected is not None and body != expected:
            if len(body) == len(expected):
                self.tally.wrong(kind, "echo differs")
            raise Broken(f"{len(body)} of {len(expected)} bytes")
        if expected_digest is not None and hashlib.sha256(body).digest() != expected_digest:
            self.tally.wrong(kind, f"download of {len(body)} bytes differs")
            raise Broken("download differs")
        return headers.get("connection", "").lower() == "close"

    def hello(self, conn, i):
        status, headers, body = conn.request("GET", "/")
        return self.check("hello", status, headers, body, expected=b"Hello World")

    def upload(self, conn, i):
        data = self.uploads[i % len(self.uploads)]
        status, headers, body = conn.request("POST", "/echo", body=data)
        return self.check("upload", status, headers, body, expected=data)

    def download(self, conn, i):
        if i % 2:
            # Chunked, from an iterator of unknown length.
            status, headers, body = conn.request("GET", "/stream?chunks=64&size=16384")
            return self.check("download", status, headers, body, expected=b"x" * MIB)
        seed = i % len(self.downloads)
        status, headers, body = conn.request("GET", f"/download?mib=1&seed={seed}")
        return self.check("download", status, headers, body, expected_digest=self.downloads[seed])

    def slow_head(self, conn, i):
        # A head dribbled 8 bytes at a time over about a second, as from a slow link.
        status, headers, body = conn.request("GET", "/environ?slow=head", dribble=0.03)
        if status != 200 or b"PATH_INFO=/environ" not in body:
            raise Broken(f"status {status}")
        return headers.get("connection", "").lower() == "close"

    def slow_reader(self, conn, i):
        # 4 MiB read at about 2 MiB/s: the server's writes wait on the client.
        seed = i % len(self.downloads)
        status, headers, body = conn.request("GET", f"/download?mib=4&seed={seed}", read_delay=0.03)
        return self.check("slow_reader", status, headers, body, expected_digest=self.slow_downloads[seed])

    def idle(self, _conn, _i):
        # Keeps idle_connections open, each after one request; one the server closed
        # (keep-alive, a reload, a kill) is opened again with a new request. One pass a
        # second; each pass counts as one request when all went well.
        if not hasattr(self, "_idle"):
            self._idle = []
        alive = []
        for c in self._idle:
            readable, _, _ = select.select([c.sock], [], [], 0)
            if readable:
                c.close()  # the server closed it (EOF): fine for an idle connection
            else:
                alive.append(c)
        while len(alive) < self.idle_connections and not self.stop.is_set():
            c = Conn(self.addr, timeout=30)
            try:
                status, _, _ = c.request("GET", "/")
            except (OSError, Broken):
                c.close()
                raise
            if status != 200:
                c.close()
                raise Broken(f"status {status}")
            alive.append(c)
        self._idle = alive
        self.stop.wait(1.0)
        if self.stop.is_set():
            for c in self._idle:
                c.close()
        return False


def proc_children(pid):
    """(live children, zombie children) of pid, from /proc."""
    live, zombies = [], []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            (zombies if fields[0] == "Z" else live).append(int(entry))
    return sorted(live), sorted(zombies)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fds(pid):
    """(all open descriptors, sockets, files and pipes) of pid. The rest are anonymous
    inodes (epoll sets, eventfds), which the thread class has one more of per request
    thread it started: they follow the threads, not the load."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0, 0, 0
    sockets = files = 0
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:"):
            sockets += 1
        elif not target.startswith("anon_inode:"):
            files += 1
    return len(names), sockets, files


def sample(master):
    workers, _ = proc_children(master)
    return {
        "master": (master, rss_kib(master)) + fds(master),
        "workers": [(w, rss_kib(w)) + fds(w) for w in workers],
    }


def started(pid):
    """When pid started (clock ticks after boot), from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rfind(")") + 2:].split()[19])


def sockets_of(pid):
    return fds(pid)[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", required=True, help="the may-wsgi binary")
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--hup-every", type=float, default=30)
    p.add_argument("--kill-every", type=float, default=60)
    p.add_argument("--warm-up", type=float, default=10)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-class", default="coroutine", help="coroutine or thread")
    p.add_argument("--scale", type=int, default=2, help="client threads per kind of load")
    p.add_argument("--kill-window", type=float, default=3.0,
                   help="seconds after a kill in which its requests may fail")
    args = p.parse_args()

    logdir = tempfile.mkdtemp(prefix="may_wsgi_soak.")
    errlog_path = os.path.join(logdir, "error.log")
    errlog = open(errlog_path, "w")
    server = subprocess.Popen(
        [args.binary, "--bind", "127.0.0.1:0", "--workers", str(args.workers), "--no-access-log",
         "--worker-class", args.worker_class,
         "--graceful-timeout", "10", "--keep-alive", "5"],
        stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog)
    master = server.pid
    problems = []
    try:
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            with open(errlog_path) as f:
                m = re.search(r"listening at http://127\.0\.0\.1:(\d+)", f.read())
            if m:
                port = int(m.group(1))
            elif server.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if port is None:
            print(open(errlog_path).read(), file=sys.stderr)
            sys.exit("soak: the server did not start")
        tally = Tally()
        load = Load(("127.0.0.1", port), tally, args.scale)
        load.start()
        print(f"soak: may-wsgi --workers {args.workers} --worker-class {args.worker_class} on port {port}, {args.seconds:.0f} s, "
              f"HUP every {args.hup_every:.0f} s, kill -9 every {args.kill_every:.0f} s, "
              f"{len(load.threads)} client threads, {load.idle_connections} idle connections")
        time.sleep(args.warm_up)
        start = sample(master)
        t0 = time.monotonic()
        end = t0 + args.seconds
        next_hup, next_kill = t0 + args.hup_every, t0 + args.kill_every
        kills, hups, zombie_seen = [], 0, {}
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_kill:
                # A worker of the current generation (the youngest: after a reload the
                # old ones may still be draining their idle connections), the busier one.
                live = sorted(proc_children(master)[0], key=started, reverse=True)[:args.workers]
                if live:
                    # Stopped, its connections counted (they cannot change while it is
                    # stopped), then killed.
                    victim = max(live, key=sockets_of)
                    os.kill(victim, signal.SIGSTOP)
                    held = max(sockets_of(victim) - 2, 0)  # less the two listening fds
                    os.kill(victim, signal.SIGKILL)
                    kills.append((time.monotonic(), victim, held))
                next_kill += args.kill_every
                next_hup = max(next_hup, time.monotonic() + 1)
            elif now >= next_hup:
                os.kill(master, signal.SIGHUP)
                hups += 1
                next_hup += args.hup_every
            _, zombies = proc_children(master)
            for z in zombies:
                zombie_seen[z] = zombie_seen.get(z, 0) + 1
                if zombie_seen[z] == 3:
                    problems.append(f"worker {z} stayed a zombie for over a second")
            time.sleep(0.5)
        finish = sample(master)
        load.finish()
        # With every client gone, no worker may hold a connection: only its listening
        # socket (twice: inherited and its own clone; once in a worker still draining).
        time.sleep(2)
        idle = sample(master)
        for w in idle["workers"]:
            if w[3] > 2:
                problems.append(f"worker {w[0]} holds {w[3] - 2} sockets after every client left")
        os.kill(master, signal.SIGTERM)
        try:
            code = server.wait(30)
        except subprocess.TimeoutExpired:
            code = None
            problems.append("the master did not exit within 30 s of TERM")
        if code not in (0, None):
            problems.append(f"the master exited with status {code} after TERM")
        leftover, _ = proc_children(master)
        if leftover:
            problems.append(f"processes left after TERM: {leftover}")

        # Failures: each must fall in a kill's window, and no kill may explain more
        # than the connections its worker held.
        blamed = {i: 0 for i in range(len(kills))}
        unexplained = []
        for at, kind, reason in tally.failures:
            for i, (killed_at, _, _) in enumerate(kills):
                if killed_at <= at <= killed_at + args.kill_window:
                    blamed[i] += 1
                    break
            else:
                unexplained.append((round(at - t0, 1), kind, reason))
        for i, (killed_at, victim, held) in enumerate(kills):
            if blamed[i] > held:
                problems.append(f"kill of worker {victim} at {killed_at - t0:.0f} s: {blamed[i]} "
                                f"requests failed, but it held {held} connections")
        if unexplained:
            problems.append(f"{len(unexplained)} requests failed outside any kill: {unexplained[:10]}")
        if tally.changed:
            problems.append(f"bodies arrived changed: {tally.changed[:10]}")
        for kind in ("hello", "upload", "download", "slow_head", "slow_reader", "idle"):
            if not tally.ok.get(kind):
                problems.append(f"no {kind} request succeeded")

        # Resources: the master and the workers, start and end.
        m0, m1 = start["master"], finish["master"]
        if m1[1] > max(m0[1] * 1.10, m0[1] + 256):
            problems.append(f"master RSS grew from {m0[1]} to {m1[1]} KiB")
        if m1[2] != m0[2]:
            problems.append(f"master descriptors went from {m0[2]} to {m1[2]}")
        # (sample: pid, RSS, all descriptors, sockets, files and pipes)
        w0 = max((w[1] for w in start["workers"]), default=0)
        w1 = max((w[1] for w in finish["workers"]), default=0)
        if w1 > max(w0 * 1.10, w0 + 1024):
            problems.append(f"worker RSS grew from {w0} to {w1} KiB (largest worker)")
        o0 = {w[4] for w in start["workers"]}
        o1 = {w[4] for w in finish["workers"]}
        if o0 != o1:
            problems.append(f"workers' files and pipes went from {sorted(o0)} to {sorted(o1)}")

        served = sum(tally.ok.values())
        print(f"requests served: {served} ({', '.join(f'{k} {v}' for k, v in sorted(tally.ok.items()))})")
        print(f"requests failed: {len(tally.failures)}, all within {args.kill_window:.0f} s of a kill: "
              f"{not unexplained}; bodies changed: {len(tally.changed)}")
        print(f"reloads: {hups}; kills: {len(kills)} "
              f"(connections held / requests failed: "
              f"{', '.join(f'{k[2]}/{blamed[i]}' for i, k in enumerate(kills)) or '-'})")
        print("process            RSS (KiB)            descriptors: all, sockets, files and pipes")
        print(f"master {m0[0]:<10}  {m0[1]:>8} -> {m1[1]:<8}  {m0[2]}, {m0[3]}, {m0[4]} -> {m1[2]}, {m1[3]}, {m1[4]}")
        for label, s in (("start", start), ("end", finish), ("idle", idle)):
            for w in s["workers"]:
                print(f"worker {w[0]:<10}  {w[1]:>8} ({label:<5})     {w[2]}, {w[3]}, {w[4]}")
        print(f"zombies: {sum(1 for v in zombie_seen.values() if v >= 3)} stayed; "
              f"TERM: exit status {code}, {len(leftover)} processes left")
        if problems:
            print("soak: FAILED")
            for problem in problems:
                print("  - " + problem)
            print(f"  (the server's log: {errlog_path})")
            sys.exit(1)
        print("soak: passed")
    finally:
        if server.poll() is None:
            for w in proc_children(master)[0]:
                try:
                    os.kill(w, signal.SIGKILL)
                except OSError:
                    pass
            server.kill()
            server.wait()
        errlog.close()


if __name__ == "__main__":
    main()
