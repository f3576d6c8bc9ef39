"""Differential check: the same sequence of ~150 requests sent to a reference Glance 33 and to
the port, every reply compared after normalising what must differ (image ids, request ids,
timestamps, host:port): status, each header's name as sent and value, the body, and for JSON
also the key order. It is a developer's tool, not a CI test (it needs a running Glance, e.g.
under uWSGI as /work/shared/glance-images-v2.md section 0 sets it up):

    python differential.py --ref http://127.0.0.1:9292 --port http://127.0.0.1:8000

It prints one block per request that differs and a summary line; exit status 1 if any differ.
Both servers should start empty (list replies are compared whole).
"""

import argparse
import json
import re
import sys

from harness import Server, request

MISSING = "0b8d2b8e-1d5c-4f1e-9a53-5b3a1d3cbd11"
HOP = {"date", "server", "connection", "keep-alive", "transfer-encoding"}
PATCH21 = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
PATCH20 = {"Content-Type": "application/openstack-images-v2.0-json-patch"}
JSON = {"Content-Type": "application/json"}
OCTETS = {"Content-Type": "application/octet-stream"}


def steps():
    """(label, method, path, body, headers, save-as): `{name}` in a path is an id saved earlier."""
    s = []

    def add(label, method, path, body=None, headers=None, save=None):
        s.append((label, method, path, body, headers or {}, save))

    for p in ("/", "/versions", "/v2", "/v2/", "/x", "/v2/x", "/v2/images/"):
        add("GET " + p, "GET", p)
    add("FROB /v2/x", "FROB", "/v2/x")
    add("schema image", "GET", "/v2/schemas/image")
    add("schema images", "GET", "/v2/schemas/images")
    add("empty list", "GET", "/v2/images")
    full = {"name": "full", "disk_format": "raw", "container_format": "bare", "os_distro": "cirros",
            "min_ram": 64, "min_disk": 1, "tags": ["t1"], "visibility": "private", "protected": False}
    add("create full", "POST", "/v2/images", json.dumps(full), JSON, save="a")
    add("create minimal", "POST", "/v2/images", "{}", JSON, save="b")
    add("create no content type", "POST", "/v2/images", json.dumps({"name": "nct"}), save="c")
    add("create hidden", "POST", "/v2/images", json.dumps({"name": "hid", "os_hidden": True}), JSON, save="h")
    add("create chosen id", "POST", "/v2/images", json.dumps({"id": "5d1f1a43-7c2e-4e0b-8a55-3f0c2a9d6e01", "name": "chosen"}), JSON)
    add("create chosen id again", "POST", "/v2/images", json.dumps({"id": "5d1f1a43-7c2e-4e0b-8a55-3f0c2a9d6e01"}), JSON)
    for label, body in (("malformed", "{x"), ("array", "[1]"), ("string", '"s"'), ("bad disk", '{"disk_format": "nope"}'),
                        ("bad container", '{"container_format": "nope"}'), ("int prop", '{"p": 5}'),
                        ("null prop", '{"p": null}'), ("long name", json.dumps({"name": "n" * 256})),
                        ("bad id", '{"id": "nope"}'), ("neg min_disk", '{"min_disk": -1}'),
                        ("neg min_ram", '{"min_ram": -5}'), ("str min_ram", '{"min_ram": "5"}'),
                        ("status", '{"status": "active"}'), ("checksum", '{"checksum": "x"}'), ("size", '{"size": 1}'),
                        ("owner", '{"owner": "me"}'), ("bad visibility", '{"visibility": "nope"}'),
                        ("location", '{"locations": []}'), ("self", '{"self": "x"}'), ("tags not list", '{"tags": "x"}'),
                        ("long tag", json.dumps({"tags": ["t" * 256]})), ("deleted", '{"deleted": true}'),
                        ("bad os_hidden", '{"os_hidden": "yes"}'), ("empty body", "")):
        add("create " + label, "POST", "/v2/images", body, JSON)
    add("create error Accept json", "POST", "/v2/images", "{x", {"Content-Type": "application/json", "Accept": "application/json"})
    add("create error Accept html", "POST", "/v2/images", "{x", {"Content-Type": "application/json", "Accept": "text/html"})
    add("show", "GET", "/v2/images/{a}")
    add("show missing", "GET", "/v2/images/" + MISSING)
    add("show not a uuid", "GET", "/v2/images/nope")
    add("show missing json", "GET", "/v2/images/" + MISSING, headers={"Accept": "application/json"})
    add("show missing html", "GET", "/v2/images/" + MISSING, headers={"Accept": "text/html"})
    for m in ("POST", "PUT", "HEAD"):
        add(m + " image", m, "/v2/images/{a}", "" if m != "HEAD" else None)
    for m in ("POST", "DELETE", "HEAD", "PATCH"):
        add(m + " file", m, "/v2/images/{a}/file", "" if m != "HEAD" else None)
    for m in ("DELETE", "PUT", "HEAD", "PATCH"):
        add(m + " images", m, "/v2/images", "" if m != "HEAD" else None)
    add("POST schema", "POST", "/v2/schemas/image", "")
    add("HEAD schema", "HEAD", "/v2/schemas/image")
    add("GET image subpath", "GET", "/v2/images/{a}/nope")
    # PATCH
    add("patch json type", "PATCH", "/v2/images/{b}", '[{"op": "add", "path": "/x", "value": "1"}]', JSON)
    add("patch no type", "PATCH", "/v2/images/{b}", '[{"op": "add", "path": "/x", "value": "1"}]')
    ops = [("add prop", [{"op": "add", "path": "/x", "value": "1"}]),
           ("add again", [{"op": "add", "path": "/x", "value": "2"}]),
           ("replace prop", [{"op": "replace", "path": "/x", "value": "3"}]),
           ("replace missing", [{"op": "replace", "path": "/nope", "value": "3"}]),
           ("remove missing", [{"op": "remove", "path": "/nope"}]),
           ("remove name", [{"op": "remove", "path": "/name"}]),
           ("remove x", [{"op": "remove", "path": "/x"}]),
           ("replace status", [{"op": "replace", "path": "/status", "value": "active"}]),
           ("replace id", [{"op": "replace", "path": "/id", "value": MISSING}]),
           ("replace checksum", [{"op": "replace", "path": "/checksum", "value": "x"}]),
           ("replace created_at", [{"op": "replace", "path": "/created_at", "value": "x"}]),
           ("add disk", [{"op": "add", "path": "/disk_format", "value": "qcow2"}]),
           ("bad disk", [{"op": "replace", "path": "/disk_format", "value": "bogus"}]),
           ("bad min_disk", [{"op": "replace", "path": "/min_disk", "value": "big"}]),
           ("int prop", [{"op": "add", "path": "/p", "value": 5}]),
           ("null prop", [{"op": "add", "path": "/p", "value": None}]),
           ("test op", [{"op": "test", "path": "/name", "value": "x"}]),
           ("no op", [{"path": "/name", "value": "x"}]),
           ("no path", [{"op": "add", "value": "x"}]),
           ("no value", [{"op": "add", "path": "/name"}]),
           ("bad path", [{"op": "add", "path": "name", "value": "x"}]),
           ("deep path", [{"op": "add", "path": "/a/b", "value": "x"}]),
           ("tags", [{"op": "add", "path": "/tags", "value": ["z", "y"]}]),
           ("tags bad", [{"op": "add", "path": "/tags", "value": "z"}]),
           ("visibility public", [{"op": "replace", "path": "/visibility", "value": "public"}]),
           ("visibility bad", [{"op": "replace", "path": "/visibility", "value": "nope"}]),
           ("protected", [{"op": "replace", "path": "/protected", "value": True}]),
           ("not array", {"op": "add", "path": "/x", "value": "1"}),
           ("empty array", []),
           ("several", [{"op": "add", "path": "/k1", "value": "1"}, {"op": "add", "path": "/k2", "value": "2"},
                        {"op": "remove", "path": "/k1"}])]
    for label, body in ops:
        add("patch " + label, "PATCH", "/v2/images/{b}", json.dumps(body), PATCH21)
    add("patch malformed", "PATCH", "/v2/images/{b}", "[{", PATCH21)
    add("patch v2.0 add", "PATCH", "/v2/images/{b}", json.dumps([{"add": "/old", "value": "x"}]), PATCH20)
    add("patch v2.0 with v2.1 ops", "PATCH", "/v2/images/{b}", json.dumps([{"op": "add", "path": "/old", "value": "x"}]), PATCH20)
    add("patch missing", "PATCH", "/v2/images/" + MISSING, json.dumps([{"op": "add", "path": "/x", "value": "1"}]), PATCH21)
    add("delete protected", "DELETE", "/v2/images/{b}")
    add("unprotect", "PATCH", "/v2/images/{b}", json.dumps([{"op": "replace", "path": "/protected", "value": False}]), PATCH21)
    add("show b", "GET", "/v2/images/{b}")
    # Tags
    add("tag put", "PUT", "/v2/images/{a}/tags/new")
    add("tag put again", "PUT", "/v2/images/{a}/tags/new")
    add("tag delete", "DELETE", "/v2/images/{a}/tags/new")
    add("tag delete missing", "DELETE", "/v2/images/{a}/tags/new")
    add("tag put long", "PUT", "/v2/images/{a}/tags/" + "t" * 256)
    add("tag put on missing image", "PUT", "/v2/images/%s/tags/x" % MISSING)
    add("tag GET", "GET", "/v2/images/{a}/tags/t1")
    # Upload
    add("file of queued", "GET", "/v2/images/{a}/file")
    add("upload text/plain", "PUT", "/v2/images/{a}/file", "abc", {"Content-Type": "text/plain"})
    add("upload no type", "PUT", "/v2/images/{a}/file", "abc")
    add("upload size abc", "PUT", "/v2/images/{a}/file", "abc", {**OCTETS, "x-openstack-image-size": "abc"})
    add("upload size -1", "PUT", "/v2/images/{a}/file", "abc", {**OCTETS, "x-openstack-image-size": "-1"})
    add("upload short", "PUT", "/v2/images/{a}/file", "hello", {**OCTETS, "x-openstack-image-size": "9"})
    add("upload long", "PUT", "/v2/images/{a}/file", "hello world", {**OCTETS, "x-openstack-image-size": "9"})
    add("upload no formats", "PUT", "/v2/images/{c}/file", "abc", OCTETS)
    add("show c", "GET", "/v2/images/{c}")
    add("upload missing", "PUT", "/v2/images/%s/file" % MISSING, "abc", OCTETS)
    add("upload", "PUT", "/v2/images/{a}/file", "hello world", OCTETS)
    add("upload again", "PUT", "/v2/images/{a}/file", "hello world", OCTETS)
    add("show after upload", "GET", "/v2/images/{a}")
    add("download", "GET", "/v2/images/{a}/file")
    for rng in ("bytes=0-4", "bytes=6-", "bytes=-5", "bytes=3-100", "bytes=11-", "bytes=0-0", "bytes=-0", "bytes=5-2",
                "garbage", "bytes=0-1,3-4", "bytes=", "items=0-4", "bytes=-100"):
        add("range " + rng, "GET", "/v2/images/{a}/file", headers={"Range": rng})
    for cr in ("bytes 0-4/11", "bytes 0-4/*", "bytes 20-30/*", "garbage"):
        add("content-range " + cr, "GET", "/v2/images/{a}/file", headers={"Content-Range": cr})
    add("upload empty", "PUT", "/v2/images/{h}/file", "", {**OCTETS, "Content-Length": "0"})
    add("show empty", "GET", "/v2/images/{h}")
    add("download empty", "GET", "/v2/images/{h}/file")
    # Lists
    for q in ("", "limit=1", "limit=0", "limit=-1", "limit=abc", "limit=2000", "marker=" + MISSING, "marker=nope",
              "sort_key=name", "sort_key=name&sort_dir=asc", "sort=name:asc,status:desc", "sort=name:asc&sort_key=name",
              "sort_key=bogus", "sort_dir=sideways", "sort_key=name&sort_key=status&sort_dir=asc&sort_dir=desc&sort_dir=asc",
              "sort=", "sort=name:", "name=full", "name=in:full,nct", "status=queued", "status=bogus", "visibility=private",
              "visibility=bogus", "visibility=all", "os_hidden=true", "os_hidden=bogus", "size_min=abc", "size_min=1",
              "size_max=5", "os_distro=cirros", "tag=t1", "protected=true", "member_status=all", "owner=x",
              "created_at=gt:2000-01-01T00:00:00Z", "created_at=bogus", "limit=1&limit=2", "x=1&limit=1"):
        add("list ?" + q, "GET", "/v2/images" + ("?" + q if q else ""))
    # Delete
    add("delete", "DELETE", "/v2/images/{a}")
    add("delete again", "DELETE", "/v2/images/{a}")
    add("show deleted", "GET", "/v2/images/{a}")
    add("file deleted", "GET", "/v2/images/{a}/file")
    add("upload deleted", "PUT", "/v2/images/{a}/file", "x", OCTETS)
    add("delete missing", "DELETE", "/v2/images/" + MISSING)
    add("list after delete", "GET", "/v2/images?sort=name:asc")
    # Out of the subset: what does each say?
    for p in ("/v2/images/{b}/members", "/v2/images/{b}/import", "/v2/info/import", "/v2/info/stores", "/v2/tasks",
              "/v2/metadefs/namespaces", "/v2/images/{b}/actions/deactivate", "/v2/images/{b}/stage"):
        add("out of subset GET " + p, "GET", p)
    return s


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?")


class Run:
    def __init__(self, url):
        self.srv = Server(url=url.rstrip("/"))
        self.ids = {}
        self.names = {}

    def norm(self, text):
        text = text.replace(self.srv.hostport, "HOST")
        text = re.sub(r"req-" + UUID.pattern, "req-<uuid>", text)

        def name(m):
            u = m.group(0)
            if u in (MISSING, "5d1f1a43-7c2e-4e0b-8a55-3f0c2a9d6e01"):
                return u
            return self.names.setdefault(u, "<id%d>" % len(self.names))

        text = UUID.sub(name, text)
        return TS.sub("<ts>", text)

    def do(self, step):
        label, method, path, body, headers, save = step
        for k, v in self.ids.items():
            path = path.replace("{%s}" % k, v)
        r = request(self.srv, method, path, body, headers)
        if save and r.status == 201:
            self.ids[save] = r.json()["id"]
            self.norm(self.ids[save])
        heads = [(k, self.norm(v)) for k, v in r.headers if k.lower() not in HOP]
        text = self.norm(r.body.decode("utf-8", "replace"))
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return r.status, heads, text, parsed, [(k, v) for k, v in r.headers if k.lower() in HOP]


def key_orders(value, at="$"):
    if isinstance(value, dict):
        yield at, list(value)
        for k, v in value.items():
            yield from key_orders(v, at + "." + k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from key_orders(v, "%s[%d]" % (at, i))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", required=True, help="a running Glance 33")
    ap.add_argument("--port", required=True, help="the port, running")
    ap.add_argument("--headers-only-hop", action="store_true", help="also show hop-by-hop header differences")
    args = ap.parse_args()
    ref, port = Run(args.ref), Run(args.port)
    differ = 0
    all_steps = steps()
    for step in all_steps:
        a, b = ref.do(step), port.do(step)
        out = []
        if a[0] != b[0]:
            out.append("status: ref %d, port %d" % (a[0], b[0]))
        if a[1] != b[1]:
            da, db = dict(a[1]), dict(b[1])
            for k in sorted(set(da) | set(db), key=str.lower):
                if da.get(k) != db.get(k):
                    out.append("header %s: ref %r, port %r" % (k, da.get(k), db.get(k)))
            if [k for k, _ in a[1]] != [k for k, _ in b[1]] and not out:
                out.append("header order: ref %r, port %r" % ([k for k, _ in a[1]], [k for k, _ in b[1]]))
        if a[3] is not None and b[3] is not None:
            if a[3] != b[3]:
                out.append("json body:\n      ref  %s\n      port %s" % (json.dumps(a[3])[:1500], json.dumps(b[3])[:1500]))
            else:
                ka, kb = dict(key_orders(a[3])), dict(key_orders(b[3]))
                bad = [p for p in ka if ka[p] != kb.get(p)]
                if bad:
                    out.append("json key order at %s: ref %r, port %r" % (bad[0], ka[bad[0]], kb.get(bad[0])))
                if a[2] != b[2] and not bad:
                    out.append("json text differs (spacing/escapes): ref %r, port %r" % (a[2][:200], b[2][:200]))
        elif a[2] != b[2]:
            out.append("body: ref %r, port %r" % (a[2][:700], b[2][:700]))
        if args.headers_only_hop and a[4] != b[4]:
            out.append("hop-by-hop: ref %r, port %r" % (a[4], b[4]))
        if out:
            differ += 1
            print("DIFF %s (%s %s)" % (step[0], step[1], step[2]))
            for line in out:
                print("    " + line)
    print("differential: %d requests, %d differ" % (len(all_steps), differ))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
