#!/usr/bin/env python3
"""make bench-models: the coroutine and thread worker classes side by side, in one run, on the
demo app, with Python's two models beside them where they are installed.

Servers (each one worker process under its master, two cores' worth of threads where it can
use them; what is measured is the worker process):

  coroutine  may-wsgi -k coroutine --workers 1 --scheduler-threads 2   (pool: 1000 coroutines)
  thread     may-wsgi -k thread    --workers 1 --scheduler-threads 2   (pool: 32 threads)
  eventlet   eventlet.wsgi.server, GreenPool(1000), monkey-patched      (benches/models_app.py)
  gthread    gunicorn -k gthread --threads 32 --workers 1                (benches/models_app.py)

The Python two are optional peers: skipped with a note when `PYTHON` (python3 by default)
cannot import eventlet or gunicorn (`make bench-models PYTHON=/path/to/venv/bin/python`).

Workloads, for each server in turn:

  idle N      N = 100, 1,000, 10,000 keep-alive connections, each after one request, held
              open: how many were answered, the worker's RSS and threads
  active N    wrk -c N on /: req/s, p50, p99, errors; the worker's peak RSS and threads, and
              its voluntary and involuntary context switches per request (summed over its
              threads, from /proc/PID/task/*/status)
  sleep       wrk -c 1000 on /sleep?seconds=0.1: req/s, p50, p99, peak RSS (I/O-bound)
  hash        wrk -c 50 on /hash?kib=64: req/s, p50, p99 (CPU-bound)
  block       3 requests to /block?seconds=5 at once, then a probe of /: how long the probe
              waited, whether the blocked requests were answered, and whether the master
              aborted the worker for a missed heartbeat (--timeout 3)

Results go to docs/models/results.json and docs/models/results.md (a table), and are printed;
benches/models_plot.py draws the SVGs from the JSON. Standard library only. The machine is
shared and noisy: run it more than once before believing a ratio.

Knobs (environment): DURATION (5 s per wrk run), SIZES ("100 1000 10000"), SERVERS
("coroutine thread eventlet gthread"), PORT (18300), PYTHON (python3), WRK (wrk), BIN
(the may-wsgi binary; default $CARGO_TARGET_DIR/release/may-wsgi).
"""

import asyncio
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "docs", "models")
DURATION = float(os.environ.get("DURATION", "5"))
SIZES = [int(n) for n in os.environ.get("SIZES", "100 1000 10000").split()]
SERVERS = os.environ.get("SERVERS", "coroutine thread eventlet gthread").split()
PORT = int(os.environ.get("PORT", "18300"))
PYTHON = os.environ.get("PYTHON", "python3")
WRK = os.environ.get("WRK", "wrk")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.environ.get("BIN", os.path.join(TARGET, "release", "may-wsgi"))
BLOCK_SECONDS = 5
BLOCKERS = 3
TIMEOUT = 3  # the master's --timeout for the /block run: a blocked coroutine worker is aborted


# ---------------------------------------------------------------------------------------
# The servers
# ---------------------------------------------------------------------------------------

def peer_missing(module):
    """Why a Python peer cannot run, or None."""
    try:
        done = subprocess.run([PYTHON, "-c", "import " + module], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s cannot run: %s" % (PYTHON, e)
    if done.returncode != 0:
        return "%s cannot import %s (pip install %s; PYTHON=... to choose the interpreter)" % (
            PYTHON, module, module)
    return None


def command(name, port, timeout):
    """The command line of server `name` on `port` with the master's `timeout`, and why it
    cannot run (or None)."""
    ours = [BIN, "--bind", "127.0.0.1:%d" % port, "--workers", "1", "--scheduler-threads", "2",
            "--no-access-log", "--keep-alive", "120", "--timeout", str(timeout),
            "--worker-connections", "12000"]
    if name in ("coroutine", "thread"):
        return ours + ["--worker-class", name], None
    if name == "eventlet":
        return [PYTHON, os.path.join(HERE, "models_app.py"), str(port)], peer_missing("eventlet")
    if name == "gthread":
        return ([PYTHON, "-m", "gunicorn", "-k", "gthread", "--threads", "32", "--workers", "1",
                 "--bind", "127.0.0.1:%d" % port, "--keep-alive", "120", "--timeout", str(timeout),
                 "--worker-connections", "12000", "--backlog", "4096", "--chdir", HERE,
                 "models_app:app"], peer_missing("gunicorn"))
    raise SystemExit("unknown server %r in SERVERS" % name)


def children(pid):
    kids = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def worker_of(proc, name):
    """The pid that serves: the master's one child, or the process itself (eventlet)."""
    if name == "eventlet":
        return proc.pid
    for _ in range(100):
        kids = children(proc.pid)
        if kids:
            return kids[0]
        time.sleep(0.1)
    raise RuntimeError("%s: no worker process" % name)


def get(port, target, timeout=10):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, target), timeout=timeout) as r:
        return r.status, r.read()


def wait_up(port, proc):
    for _ in range(150):
        if proc.poll() is not None:
            raise RuntimeError("the server exited with %s" % proc.returncode)
        try:
            if get(port, "/", timeout=1)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server on port %d did not come up" % port)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in children(proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------------------
# Reading a process from outside
# ---------------------------------------------------------------------------------------

def status(pid):
    """RSS (KiB), threads, and voluntary and involuntary context switches summed over the
    process's threads (the process's own status file counts its main thread only)."""
    out = {"rss_kib": 0, "threads": 0, "voluntary": 0, "involuntary": 0}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_kib"] = int(line.split()[1])
                elif line.startswith("Threads:"):
                    out["threads"] = int(line.split()[1])
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/status" % (pid, task)) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        out["voluntary"] += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        out["involuntary"] += int(line.split()[1])
    except OSError:
        pass
    return out


class Sampler:
    """Samples a process's status every 0.2 s while a load runs: the peaks."""

    def __init__(self, pid):
        self.pid, self.peak_rss, self.peak_threads = pid, 0, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.done.wait(0.2):
            s = status(self.pid)
            self.peak_rss = max(self.peak_rss, s["rss_kib"])
            self.peak_threads = max(self.peak_threads, s["threads"])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.done.set()
        self.thread.join()


# ---------------------------------------------------------------------------------------
# Loads
# ---------------------------------------------------------------------------------------

def ms(text):
    """wrk's '1.23ms' / '456.00us' / '1.02s' in milliseconds."""
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(port, target, connections):
    threads = min(2, connections)
    out = subprocess.run(
        [WRK, "-t%d" % threads, "-c%d" % connections, "-d%ds" % DURATION, "--latency", "--timeout", "5s",
         "http://127.0.0.1:%d%s" % (port, target)],
        capture_output=True, text=True, timeout=DURATION + 120).stdout
    result = {"rps": 0.0, "p50_ms": None, "p99_ms": None, "requests": 0, "errors": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        result["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    if m:
        result["requests"] = int(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % pct, out, re.M)
        if m:
            result[key] = ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        result["errors"] += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        result["errors"] += int(m.group(1))
    return result


def drained(port):
    """Waits until what a load left queued is served: requests whose clients wrk has already
    closed still run (in a pool of 32 threads, 1,000 queued sleeps take seconds), and the
    next load must not find them. A request queues behind them, first in, first out."""
    try:
        get(port, "/", timeout=120)
    except OSError:
        pass


def loaded(pid, port, target, connections):
    before = status(pid)
    with Sampler(pid) as sampler:
        result = wrk(port, target, connections)
    drained(port)
    after = status(pid)
    served = max(result["requests"], 1)
    result["rss_kib"] = sampler.peak_rss or after["rss_kib"]
    result["threads"] = sampler.peak_threads or after["threads"]
    # A worker that died under the load (its master replaced it) has no counts left.
    gone = after["threads"] == 0
    result["worker_died"] = gone
    result["voluntary_per_req"] = None if gone else (after["voluntary"] - before["voluntary"]) / served
    result["involuntary_per_req"] = None if gone else (after["involuntary"] - before["involuntary"]) / served
    return result


async def hold_idle(port, n):
    """Opens n connections, one request each, and holds them: how many were answered (each
    gets 3 s; a server whose pool is full never answers some), the writers to close."""
    sem = asyncio.Semaphore(1000)
    held = []

    async def one():
        async with sem:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 3)
            except (OSError, asyncio.TimeoutError):
                return False
            held.append(writer)
            try:
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
                await asyncio.wait_for(reader.readexactly(length), 3)
                return True
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, AttributeError):
                return False

    answered = sum(await asyncio.gather(*(one() for _ in range(n))))
    return answered, held


def idle(pid, port, n):
    base = status(pid)["rss_kib"]

    async def run():
        answered, held = await hold_idle(port, n)
        await asyncio.sleep(1)
        s = status(pid)
        for w in held:
            w.close()
        return answered, s

    answered, s = asyncio.run(run())
    time.sleep(1.5)  # the server closes its ends
    return {"answered": answered, "rss_kib": s["rss_kib"], "threads": s["threads"],
            "kib_per_conn": (s["rss_kib"] - base) / n}


def block(proc, name, pid, port):
    """/block on BLOCKERS connections, then a probe of / : what happens to the others, and
    what the master does."""
    outcomes = [None] * BLOCKERS

    def blocker(i):
        try:
            outcomes[i] = get(port, "/block?seconds=%d" % BLOCK_SECONDS, timeout=60)[0]
        except OSError as e:
            outcomes[i] = type(e).__name__

    threads = [threading.Thread(target=blocker, args=(i,)) for i in range(BLOCKERS)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    started = time.monotonic()
    try:
        probe = get(port, "/", timeout=60)[0]
    except OSError as e:
        probe = type(e).__name__
    waited = time.monotonic() - started
    for t in threads:
        t.join()
    time.sleep(TIMEOUT + 1)
    now = worker_of(proc, name) if proc.poll() is None else None
    return {"probe": probe, "probe_wait_s": round(waited, 2),
            "blocked_answered": sum(1 for o in outcomes if o == 200),
            "worker_replaced": name != "eventlet" and now != pid}


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------

def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    # "wrk 4.1.0 [epoll] Copyright ...": the name and version alone.
    wrk_version = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.split(" [")[0]
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
            "python": subprocess.run([PYTHON, "-V"], capture_output=True, text=True).stdout.strip(),
            "wrk": wrk_version.strip(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load": open("/proc/loadavg").read().split()[0],
            "duration_s": DURATION}


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 20000)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def started(name, port, timeout):
    """Server `name` started and answering: (process, worker pid, log file), or the reason
    it cannot run."""
    cmd, missing = command(name, port, timeout)
    if missing:
        return missing
    log = open(os.path.join("/tmp", "may_wsgi_models_%s.log" % name), "a")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_up(port, proc)
        return proc, worker_of(proc, name), log
    except Exception:
        stop(proc)
        log.close()
        raise


def pid_now(proc, name, pid):
    """The worker's pid now: the master may have replaced it."""
    try:
        return worker_of(proc, name) if proc.poll() is None else pid
    except RuntimeError:
        return pid


def run_server(name, port):
    try:
        os.remove(os.path.join("/tmp", "may_wsgi_models_%s.log" % name))
    except OSError:
        pass
    # The loads run under the masters' default --timeout (30 s); the /block run gets its own
    # server with a short one, to show what the heartbeat does.
    try:
        got = started(name, port, 30)
    except Exception as e:
        print("%s: failed to start: %s" % (name, e), flush=True)
        return {"skipped": "failed to start: %s" % e}
    if isinstance(got, str):
        print("%s: skipped, %s" % (name, got), flush=True)
        return {"skipped": got}
    proc, pid, log = got
    try:
        time.sleep(0.5)
        result = {"idle": {}, "active": {}, "start": status(pid)}
        for n in SIZES:
            result["idle"][n] = r = idle(pid, port, n)
            print("%s idle %d: %d answered, RSS %d KiB, %d threads" % (
                name, n, r["answered"], r["rss_kib"], r["threads"]), flush=True)
        for n in SIZES:
            pid = pid_now(proc, name, pid)
            result["active"][n] = r = loaded(pid, port, "/", n)
            print("%s active %d: %.0f req/s, p50 %s ms, p99 %s ms, %d errors, RSS %d KiB, %d threads, "
                  "%.3f/%.3f switches per request" % (
                      name, n, r["rps"], r["p50_ms"], r["p99_ms"], r["errors"], r["rss_kib"], r["threads"],
                      r["voluntary_per_req"] or 0, r["involuntary_per_req"] or 0), flush=True)
            time.sleep(1)
        pid = pid_now(proc, name, pid)
        result["sleep"] = r = loaded(pid, port, "/sleep?seconds=0.1", 1000)
        print("%s sleep 0.1 s x 1000: %.0f req/s, p50 %s ms, RSS %d KiB" % (
            name, r["rps"], r["p50_ms"], r["rss_kib"]), flush=True)
        time.sleep(1)
        pid = pid_now(proc, name, pid)
        result["hash"] = r = loaded(pid, port, "/hash?kib=64", 50)
        print("%s hash 64 KiB x 50: %.0f req/s, p50 %s ms" % (name, r["rps"], r["p50_ms"]), flush=True)
        result["restarts"] = restarts(name)
        stop(proc)
        proc, pid, log2 = started(name, port, TIMEOUT)
        log2.close()
        result["block"] = r = block(proc, name, pid, port)
        print("%s block: probe %s after %.2f s, %d/%d blocked answered, worker replaced: %s" % (
            name, r["probe"], r["probe_wait_s"], r["blocked_answered"], BLOCKERS, r["worker_replaced"]),
            flush=True)
        return result
    except Exception as e:  # one server failing must not lose the others' results
        print("%s: failed: %s" % (name, e), flush=True)
        return {"skipped": "failed: %s" % e}
    finally:
        stop(proc)
        log.close()


def restarts(name):
    """How often the master replaced the worker during the loads (its log says so)."""
    try:
        with open(os.path.join("/tmp", "may_wsgi_models_%s.log" % name)) as f:
            return max(0, sum(1 for line in f if "booting worker" in line.lower()) - 1)
    except OSError:
        return 0


def cell(value, fmt="%.0f"):
    return "-" if value is None else fmt % value


def table(results, info):
    names = [n for n in results if "skipped" not in results[n]]
    lines = ["Machine: %s, %d CPUs, Linux %s; %s; %s; %g s per wrk run; %s; load average %s at the "
             "start. Shared and noisy: other builds ran beside it, and under such load a server with "
             "more threads gets a larger share of the CPUs." % (
                 info["cpu"], info["cpus"], info["kernel"], info["python"], info["wrk"], info["duration_s"],
                 info["date"], info.get("load", "?")), ""]
    for n, r in results.items():
        if "skipped" in r:
            lines.append("%s: skipped (%s)." % (n, r["skipped"]))
    lines += ["", "| workload | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def row(label, f):
        lines.append("| %s | %s |" % (label, " | ".join(f(results[n]) for n in names)))

    for size in SIZES:
        row("idle %d: answered" % size, lambda r: "%d" % r["idle"][size]["answered"])
        row("idle %d: RSS MiB (threads)" % size,
            lambda r: "%.1f (%d)" % (r["idle"][size]["rss_kib"] / 1024, r["idle"][size]["threads"]))
    for size in SIZES:
        row("active %d: req/s" % size, lambda r: cell(r["active"][size]["rps"]))
        row("active %d: p50 / p99 ms" % size, lambda r: "%s / %s" % (
            cell(r["active"][size]["p50_ms"], "%.1f"), cell(r["active"][size]["p99_ms"], "%.1f")))
        row("active %d: errors" % size, lambda r: "%d" % r["active"][size]["errors"])
        row("active %d: RSS MiB (threads)" % size,
            lambda r: "%.1f (%d)" % (r["active"][size]["rss_kib"] / 1024, r["active"][size]["threads"]))
        row("active %d: switches per request, voluntary / involuntary" % size, lambda r: "%s / %s" % (
            cell(r["active"][size]["voluntary_per_req"], "%.3f"), cell(r["active"][size]["involuntary_per_req"], "%.3f")))
    row("/sleep?seconds=0.1, 1000 clients: req/s", lambda r: cell(r["sleep"]["rps"]))
    row("/sleep: p50 ms, RSS MiB (threads)", lambda r: "%s, %.1f (%d)" % (
        cell(r["sleep"]["p50_ms"], "%.0f"), r["sleep"]["rss_kib"] / 1024, r["sleep"]["threads"]))
    row("/hash?kib=64, 50 clients: req/s", lambda r: cell(r["hash"]["rps"]))
    row("/hash: p50 / p99 ms", lambda r: "%s / %s" % (cell(r["hash"]["p50_ms"], "%.1f"),
                                                       cell(r["hash"]["p99_ms"], "%.1f")))
    row("workers replaced by the master during the loads", lambda r: "%d" % r["restarts"])
    row("/block x%d (%d s): a probe of / waited s" % (BLOCKERS, BLOCK_SECONDS),
        lambda r: "%.2f (%s)" % (r["block"]["probe_wait_s"], r["block"]["probe"]))
    row("/block: blocked requests answered", lambda r: "%d / %d" % (r["block"]["blocked_answered"], BLOCKERS))
    row("/block: worker aborted by the heartbeat (--timeout %d)" % TIMEOUT,
        lambda r: "n/a (no master)" if "eventlet" == r.get("name") else ("yes" if r["block"]["worker_replaced"] else "no"))
    return "\n".join(lines) + "\n"


def main():
    if not shutil.which(WRK):
        raise SystemExit("bench-models needs wrk (apt-get install wrk)")
    if not os.path.exists(BIN):
        raise SystemExit("no %s: cargo build --release --bin may-wsgi first" % BIN)
    raise_fd_limit()
    info = machine()
    print("bench-models: %s; servers %s; idle and active sizes %s" % (info["cpu"], " ".join(SERVERS), SIZES),
          flush=True)
    results = {}
    for i, name in enumerate(SERVERS):
        results[name] = run_server(name, PORT + i)
        results[name]["name"] = name
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"machine": info, "sizes": SIZES, "results": results}, f, indent=1, sort_keys=True)
    text = table(results, info)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write("# make bench-models: the last run\n\n" + text)
    print()
    print(text)


if __name__ == "__main__":
    main()
