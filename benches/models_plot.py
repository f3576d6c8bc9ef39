#!/usr/bin/env python3
"""Draws the plots of `make bench-models` from docs/models/results.json (written by
benches/models.py) into docs/models/*.svg: grouped bar charts, one group per workload size,
one bar per server, each bar labelled with its value. Hand-written SVG, standard library
only, so a learner can regenerate the figures with nothing installed:

    python3 benches/models_plot.py
"""

import json
import math
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "models")
COLOURS = {"coroutine": "#1f77b4", "thread": "#d62728", "eventlet": "#6baed6", "gthread": "#f4a582"}
LABELS = {"coroutine": "may-wsgi coroutine", "thread": "may-wsgi thread",
          "eventlet": "eventlet.wsgi", "gthread": "gunicorn gthread"}
W, H, LEFT, TOP, BOTTOM = 720, 360, 70, 50, 70


def fmt(v):
    if v is None:
        return "-"
    if v >= 10000:
        return "%.0fk" % (v / 1000)
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def bar_chart(title, unit, groups, series, log=False):
    """groups: labels along x; series: [(server, [value per group])]."""
    values = [v for _, vs in series for v in vs if v]
    top = max(values) if values else 1
    if log:
        lo = 10 ** math.floor(math.log10(min(values))) if values else 1
        hi = 10 ** math.ceil(math.log10(top)) if values else 10

        def y(v):
            if not v or v <= 0:
                return 0
            return (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        ticks = [10 ** e for e in range(int(math.log10(lo)), int(math.log10(hi)) + 1)]
    else:
        step = 10 ** math.floor(math.log10(top)) if top > 0 else 1
        hi = math.ceil(top / step) * step

        def y(v):
            return (v or 0) / hi
        ticks = [hi * i / 4 for i in range(5)]
    plot_w, plot_h = W - LEFT - 20, H - TOP - BOTTOM
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="12">' % (W, H, W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (LEFT, esc(title))]
    for t in ticks:
        ty = TOP + plot_h - y(t) * plot_h
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (LEFT, ty, LEFT + plot_w, ty))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (LEFT - 6, ty + 4, fmt(t)))
    out.append('<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>'
               % (TOP + plot_h // 2, TOP + plot_h // 2, esc(unit + (" (log scale)" if log else ""))))
    group_w = plot_w / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for g, label in enumerate(groups):
        gx = LEFT + g * group_w + group_w * 0.1
        for s, (name, vs) in enumerate(series):
            v = vs[g]
            bh = y(v) * plot_h
            bx = gx + s * bar_w
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>'
                       % (bx, TOP + plot_h - bh, bar_w - 2, bh, COLOURS.get(name, "#888")))
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>'
                       % (bx + bar_w / 2 - 1, TOP + plot_h - bh - 3, fmt(v)))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % (gx + group_w * 0.4, TOP + plot_h + 16, esc(label)))
    lx = LEFT
    for name, _ in series:
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, H - 26, COLOURS.get(name, "#888")))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 16, H - 16, esc(LABELS.get(name, name))))
        lx += 170
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    with open(os.path.join(OUT, "results.json")) as f:
        data = json.load(f)
    results = {n: r for n, r in data["results"].items() if "skipped" not in r}
    sizes = [str(s) for s in data["sizes"]]
    order = ["coroutine", "thread", "eventlet", "gthread"]
    names = sorted(results, key=lambda n: order.index(n) if n in order else len(order))

    def per_size(kind, key, scale=1.0):
        return [(n, [None if results[n][kind][s][key] is None else results[n][kind][s][key] * scale
                     for s in sizes]) for n in names]

    conns = ["%s connections" % format(int(s), ",") for s in sizes]
    charts = {
        "idle-rss.svg": bar_chart("Idle keep-alive connections held: worker RSS", "MiB", conns,
                                  per_size("idle", "rss_kib", 1 / 1024), log=True),
        "active-rps.svg": bar_chart("Hello world under wrk: requests per second", "req/s", conns,
                                    per_size("active", "rps"), log=True),
        "active-p99.svg": bar_chart("Hello world under wrk: p99 latency", "ms", conns,
                                    per_size("active", "p99_ms"), log=True),
        "active-switches.svg": bar_chart(
            "Context switches per request (voluntary + involuntary, all threads)", "switches", conns,
            [(n, [results[n]["active"][s]["voluntary_per_req"] + results[n]["active"][s]["involuntary_per_req"]
                  for s in sizes]) for n in names], log=True),
        "routes-rps.svg": bar_chart(
            "I/O-bound /sleep (1,000 clients), CPU-bound /hash (50 clients)", "req/s",
            ["/sleep?seconds=0.1", "/hash?kib=64"],
            [(n, [results[n]["sleep"]["rps"], results[n]["hash"]["rps"]]) for n in names], log=True),
    }
    for name, svg in charts.items():
        with open(os.path.join(OUT, name), "w") as f:
            f.write(svg)
        print("wrote docs/models/%s" % name)


if __name__ == "__main__":
    main()
