# eventlet producers and consumers: a bounded Queue, spawn and wait, an Event, a Semaphore,
# sleep and a Timeout. The Python original of examples/eventlet_port.rs (docs/porting.md,
# "Worked example" and "Three ports, measured"). Run: python3 eventlet_port.py, with eventlet.
import eventlet
from eventlet.event import Event
from eventlet.queue import Empty, Queue
from eventlet.semaphore import Semaphore

jobs = Queue(4)       # bounded: a producer waits while four jobs wait
finished = Event()    # sent once every producer is done
db = Semaphore(2)     # at most two "database calls" at once


def producer(name, count):
    for i in range(count):
        jobs.put((name, i))
        eventlet.sleep(0.001)
    return count


def consumer():
    handled = []
    while True:
        try:
            name, i = jobs.get(timeout=0.05)
        except Empty:
            if finished.ready() and jobs.empty():
                return handled
            continue
        with db:
            eventlet.sleep(0.002)  # the slow call
        handled.append(f"{name}{i}")


def slow_report():
    eventlet.sleep(10)
    return "report"


producers = [eventlet.spawn(producer, name, 10) for name in "abc"]
consumers = [eventlet.spawn(consumer) for _ in range(3)]
produced = sum(p.wait() for p in producers)
finished.send(produced)
handled = sorted(job for c in consumers for job in c.wait())
print(f"produced {produced}, handled {len(handled)}: {handled[0]} .. {handled[-1]}")

try:
    with eventlet.Timeout(0.1):
        print(slow_report())
except eventlet.Timeout:
    print("report timed out")
