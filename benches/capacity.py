#!/usr/bin/env python3
"""Capacity benchmark client: how many idle keep-alive connections can an HTTP server hold,
what does each cost it in memory, does it still answer new clients while holding them (and
while slowloris clients trickle their request heads in), and does it close the slowloris
clients at its client timeout?

One run against one server (benches/capacity.sh runs it against several, side by side):

  1. Idle: open --idle keep-alive connections (concurrently, --batch at a time), each after one
     complete request and response, and hold them. After --settle seconds, count how many the
     server still holds (a connection the server closed reads EOF) and read the server's RSS
     (every process: the pids given and all their descendants, /proc/PID/status VmRSS). The
     RSS growth divided by the connections held is the memory per idle connection.
  2. Slowloris: while those stay open, open --slow connections that send a partial request
     head and then one more header byte every --drip seconds, never finishing it.
  3. Fresh: while all that is open, time --fresh requests, each on a new connection,
     --concurrency at a time, each given --request-timeout seconds: how many got a 200, and
     the p50 and p99 latency of those that did.
  4. Judge the slowloris connections: --client-timeout + --grace seconds after the last one
     was opened, how many has the server closed (EOF or reset, maybe after a 408)?

Then everything is closed, and one result line is printed in a fixed format:

  capacity NAME: held H/N idle, RSS X KiB/conn; fresh A/F answered, p50 X ms, p99 Y ms;
  slowloris closed at client timeout C/S

(on one line), after a few indented detail lines. Standard library only (asyncio); every
await has a timeout, so a server that refuses, drops or ignores connections cannot make it
hang: failures are counted and reported instead.

Example, small and quick:  python3 capacity.py --port 8000 --pids 1234 --idle 200 --slow 20
"""

import argparse
import asyncio
import math
import os
import resource
import socket
import struct
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
# A fresh request asks the server to close afterwards: the server, not the client, then
# holds the TIME_WAIT, and nothing is left open behind the measurement.
FRESH_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
# The slowloris client sends this much of a head at once...
SLOW_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n"
# ...then this, one byte every --drip seconds, over and over. It never contains the empty
# line that ends a head, so the head never completes.
SLOW_DRIP = b"X-a: b\r\n"


# ---------------------------------------------------------------------------------------
# Measuring the server: RSS of a process tree, from /proc.
# ---------------------------------------------------------------------------------------

def children(pid):
    """The pids of pid's direct children (Linux lists them per thread)."""
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass  # the process (or thread) is gone
    return kids


def process_tree(pids):
    """The given pids and all their descendants (a pre-fork master and its workers)."""
    seen, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.append(pid)
            todo += children(pid)
    return seen


def rss_kib(pid):
    """Resident set size of one process in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])  # "VmRSS:   1234 kB"
    except OSError:
        pass
    return 0


def tree_rss_kib(pids):
    """Sum of RSS over the pids and their descendants, and how many processes that was.

    Forked workers share pages with their master and each counts them, but only the growth
    is reported, and the shared pages are in both the before and the after figure."""
    tree = process_tree(pids)
    return sum(rss_kib(p) for p in tree), len(tree)


# ---------------------------------------------------------------------------------------
# One client connection.
# ---------------------------------------------------------------------------------------

class Conn:
    """A client connection we hold, with a watcher task that notices when the server
    closes it (or when we do)."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.opened = time.monotonic()
        self.closed_at = None    # when the server closed it (monotonic), None while open
        self.got_bytes = 0       # what the server sent while we only waited (e.g. a 408)
        self.watcher = asyncio.create_task(self.watch())

    async def watch(self):
        # Read until EOF or an error: either means the server is done with this connection.
        # No timeout is needed here: close() below cancels the watcher.
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break  # EOF: the server closed it
                self.got_bytes += len(data)
        except OSError:
            pass  # reset by the server (ConnectionResetError)
        self.closed_at = time.monotonic()

    @property
    def is_open(self):
        return self.closed_at is None

    def close(self):
        """Close at once. SO_LINGER 0 makes close() send a reset, so thousands of client
        sockets are not left in TIME_WAIT on a shared machine between servers."""
        self.watcher.cancel()
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.writer.transport.abort()


async def read_response(reader):
    """Read one HTTP/1.1 response (head, then a Content-Length or chunked body) and return
    its status code. The caller sets the timeout."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])  # "HTTP/1.1 200 OK"
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        while True:  # chunk-size line, chunk, CRLF; a 0 size ends it (no trailers expected)
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


def failure(exc):
    """A short name for why a connection or request failed, to count failures by kind."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "closed"  # EOF before a whole response
    if isinstance(exc, OSError) and exc.errno == 24:
        return "client out of fds"
    return type(exc).__name__


async def connect(args):
    """Open a TCP connection within --connect-timeout."""
    async with asyncio.timeout(args.connect_timeout):
        return await asyncio.open_connection(args.host, args.port)


# ---------------------------------------------------------------------------------------
# The phases.
# ---------------------------------------------------------------------------------------

async def open_idle(args):
    """One idle connection: connect, one request and its response, then hold it.
    Returns a Conn, or a failure name."""
    writer = None
    try:
        reader, writer = await connect(args)
        writer.write(REQUEST)
        async with asyncio.timeout(args.request_timeout):
            status = await read_response(reader)
        if status != 200:
            writer.transport.abort()
            return f"status {status}"
        return Conn(reader, writer)
    except Exception as exc:  # noqa: BLE001 -- any failure is counted, never raised
        if writer is not None:
            writer.transport.abort()
        return failure(exc)


async def open_slow(args):
    """One slowloris connection: connect and send the start of a head. Returns a Conn, or
    a failure name."""
    writer = None
    try:
        reader, writer = await connect(args)
        writer.write(SLOW_HEAD)
        return Conn(reader, writer)
    except Exception as exc:  # noqa: BLE001
        if writer is not None:
            writer.transport.abort()
        return failure(exc)


async def open_many(opener, count, args, label):
    """Open count connections with opener, --batch at a time, concurrently within a batch.

    A server that holds a fixed number of connections and leaves the rest unanswered would
    make every further batch wait its full timeout; after --give-up batches in a row in
    which not one connection succeeded, the rest are not tried (counted as 'not tried')."""
    conns, failures, empty_batches = [], {}, 0
    started = time.monotonic()
    for first in range(0, count, args.batch):
        n = min(args.batch, count - first)
        results = await asyncio.gather(*(opener(args) for _ in range(n)))
        ok = [r for r in results if isinstance(r, Conn)]
        conns += ok
        for r in results:
            if not isinstance(r, Conn):
                failures[r] = failures.get(r, 0) + 1
        empty_batches = 0 if ok else empty_batches + 1
        if args.give_up and empty_batches >= args.give_up and first + n < count:
            failures["not tried"] = count - first - n
            break
    took = time.monotonic() - started
    print(f"  {label}: opened {len(conns)}/{count} in {took:.1f} s{describe(failures)}",
          flush=True)
    return conns


async def fresh_request(args):
    """One fresh request on a new connection. Returns (status or failure name, seconds)."""
    started = time.monotonic()
    writer = None
    try:
        async with asyncio.timeout(args.request_timeout):  # the whole request, connect too
            reader, writer = await asyncio.open_connection(args.host, args.port)
            writer.write(FRESH_REQUEST)
            status = await read_response(reader)
        return status, time.monotonic() - started
    except Exception as exc:  # noqa: BLE001
        return failure(exc), time.monotonic() - started
    finally:
        if writer is not None:
            writer.transport.abort()


async def run_fresh(args):
    """--fresh requests, --concurrency at a time: that many workers take the next request
    until none is left. Returns the latencies (s) of the 200s, and the other outcomes."""
    remaining = args.fresh
    latencies, others = [], {}

    async def worker():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1  # no await in between: asyncio tasks do not race here
            status, seconds = await fresh_request(args)
            if status == 200:
                latencies.append(seconds)
            else:
                key = f"status {status}" if isinstance(status, int) else status
                others[key] = others.get(key, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    took = time.monotonic() - started
    print(f"  fresh: {len(latencies)}/{args.fresh} got 200 in {took:.1f} s{describe(others)}",
          flush=True)
    return latencies


async def drip(slow, args):
    """Every --drip seconds, one more header byte on each slowloris connection still open.
    Runs until cancelled."""
    i = 0
    while True:
        await asyncio.sleep(args.drip)
        byte = bytes([SLOW_DRIP[i % len(SLOW_DRIP)]])
        i += 1
        for c in slow:
            if c.is_open:
                try:
                    c.writer.write(byte)  # buffered; never blocks
                except (OSError, RuntimeError):
                    pass  # the watcher sees the close


async def judge_slow(slow, args):
    """Wait until --client-timeout + --grace seconds after the last slowloris connection was
    opened, then count how many the server has closed."""
    if not slow:
        return 0
    deadline = max(c.opened for c in slow) + args.client_timeout + args.grace
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    closed = [c for c in slow if not c.is_open]
    ages = sorted(c.closed_at - c.opened for c in closed)
    answered = sum(1 for c in closed if c.got_bytes)
    if ages:
        print(f"  slowloris: {len(closed)}/{len(slow)} closed by the server within "
              f"{args.client_timeout:g}+{args.grace:g} s of opening (after {ages[0]:.1f} s "
              f"to {ages[-1]:.1f} s, median {ages[len(ages) // 2]:.1f} s; "
              f"{answered} sent something first, e.g. a 408)", flush=True)
    else:
        print(f"  slowloris: none of {len(slow)} closed by the server within "
              f"{args.client_timeout:g}+{args.grace:g} s of opening", flush=True)
    return len(closed)


def describe(counts):
    """', failed: 3 timeout, 2 refused' for a dict of failure counts ('' if none)."""
    if not counts:
        return ""
    return "; failed: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# ---------------------------------------------------------------------------------------
# The run.
# ---------------------------------------------------------------------------------------

async def main(args):
    rss_before, nproc = tree_rss_kib(args.pids)
    print(f"capacity {args.name}: {nproc} server process(es), RSS {rss_before / 1024:.1f} MiB "
          f"before; {args.idle} idle, {args.slow} slowloris, {args.fresh} fresh "
          f"({args.concurrency} at a time) on {args.host}:{args.port}", flush=True)

    # 1. Idle keep-alive connections, and what they cost the server.
    idle = await open_many(open_idle, args.idle, args, "idle")
    await asyncio.sleep(args.settle)
    held = sum(1 for c in idle if c.is_open)
    rss_after, nproc = tree_rss_kib(args.pids)
    per_conn = (rss_after - rss_before) / held if held else None
    print(f"  idle: after {args.settle:g} s the server holds {held}/{args.idle}; RSS "
          f"{rss_after / 1024:.1f} MiB over {nproc} process(es), "
          f"+{(rss_after - rss_before) / 1024:.1f} MiB", flush=True)

    # 2. Slowloris connections, dripping a byte each --drip seconds, judged in the
    #    background while the fresh requests run (3).
    slow = await open_many(open_slow, args.slow, args, "slowloris")
    dripper = asyncio.create_task(drip(slow, args))
    judge = asyncio.create_task(judge_slow(slow, args))

    # 3. Fresh requests, while the idle and slowloris connections are open.
    latencies = sorted(await run_fresh(args))

    # 4. The slowloris verdict (its deadline may be later than the fresh requests' end).
    slow_closed = await judge
    dripper.cancel()

    # (A server with a keep-alive timeout shorter than the whole run closes them by now.)
    still_held = sum(1 for c in idle if c.is_open)
    age = time.monotonic() - min((c.opened for c in idle), default=time.monotonic())
    print(f"  idle: at the end, {age:.0f} s after the first was opened, the server still "
          f"holds {still_held}/{args.idle}", flush=True)
    for c in idle + slow:
        c.close()

    # The result line, in a fixed format.
    rss = f"{per_conn:.2f} KiB/conn" if per_conn is not None else "n/a"
    if latencies:
        lat = (f"p50 {percentile(latencies, 50) * 1000:.1f} ms, "
               f"p99 {percentile(latencies, 99) * 1000:.1f} ms")
    else:
        lat = "p50 - ms, p99 - ms"
    print(f"capacity {args.name}: held {held}/{args.idle} idle, RSS {rss}; "
          f"fresh {len(latencies)}/{args.fresh} answered, {lat}; "
          f"slowloris closed at client timeout {slow_closed}/{args.slow}", flush=True)


def raise_fd_limit(needed):
    """Raise this process's soft open-file limit as far as needed (up to the hard limit):
    every client connection is one file descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    if soft < needed:
        print(f"warning: open-file limit {soft} < {needed} needed; the excess connections "
              "will fail as 'client out of fds'", flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--name", default="server", help="name on the result line")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pids", type=int, nargs="*", default=[],
                   help="server pids whose RSS (with all descendants) is measured")
    p.add_argument("--idle", type=int, default=10000, help="idle keep-alive connections")
    p.add_argument("--slow", type=int, default=2000, help="slowloris connections")
    p.add_argument("--fresh", type=int, default=200, help="fresh requests timed")
    p.add_argument("--concurrency", type=int, default=20, help="fresh requests at a time")
    p.add_argument("--batch", type=int, default=500, help="connections opened at a time")
    p.add_argument("--give-up", type=int, default=2,
                   help="stop opening after this many batches in a row with no success "
                        "(0: never)")
    p.add_argument("--connect-timeout", type=float, default=5.0, help="seconds")
    p.add_argument("--request-timeout", type=float, default=10.0,
                   help="seconds for a response (fresh: for the whole request)")
    p.add_argument("--settle", type=float, default=3.0,
                   help="seconds between opening the idle connections and counting them")
    p.add_argument("--client-timeout", type=float, default=5.0,
                   help="the server's client (request head) timeout, seconds")
    p.add_argument("--grace", type=float, default=3.0,
                   help="seconds past --client-timeout before judging slowloris")
    p.add_argument("--drip", type=float, default=2.0,
                   help="seconds between slowloris header bytes")
    args = p.parse_args()
    if min(args.batch, args.concurrency) < 1:
        p.error("--batch and --concurrency must be at least 1")
    return args


if __name__ == "__main__":
    args = parse_args()
    raise_fd_limit(args.idle + args.slow + args.concurrency + 64)  # + stdio, epoll, ...
    asyncio.run(main(args))
