"""End-to-end checks of examples/glance_api as its users meet it: python-glanceclient's `glance`
CLI and its Python API against the running port (no Keystone: `--os-image-url` plus a dummy
`--os-auth-token`, glanceclient's token path, which never calls an identity service), then the
wire-level checks of wire.py, concurrent uploads across the workers, a clean restart and a
kill -9 on the same data dir. Everything it asserts comes from /work/shared/glance-images-v2.md
(observed on a real Glance 33.0.0 with glanceclient 4.13.0), cited by section (§N).

Run it with the Python of a virtualenv that has python-glanceclient (tests/glance_e2e.rs does):

    python scenario.py --server target/debug/examples/glance_api          # starts it itself
    python scenario.py --url http://127.0.0.1:9292                         # a server already up

With --server it starts `BIN --bind 127.0.0.1:0 --workers 2 --data-dir DIR` (DIR from
--data-dir, else a temporary one), which the restart checks need; with --url those are skipped.
Every check runs even after a failure; the last line is "scenario: N passed, N failed" and the
exit status is 1 if any failed. --only NAME runs the checks whose name contains NAME.
"""

import argparse
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wire  # noqa: E402
from harness import Checks, PausedUpload, Server, eventually, md5, request, sha512  # noqa: E402
from wire import expect_204, expect_active_with, put_file, raw_image, show  # noqa: E402

TOKEN = "e2e-dummy-token"


# ---------------------------------------------------------------- the glance CLI


class Cli:
    """Runs `glance` from the same virtualenv as this Python, with a HOME of its own (the CLI
    caches the server's schemas in ~/.glanceclient)."""

    def __init__(self, home):
        self.exe = os.path.join(os.path.dirname(sys.executable), "glance")
        if not os.path.exists(self.exe):
            raise SystemExit("no glance CLI beside %s: install python-glanceclient in this virtualenv" % sys.executable)
        self.home = home
        self.srv = None

    def __call__(self, *args, stdin_data=None, stdin_file=None, stdout_file=None, env_auth=False):
        """(exit status, stdout, stderr). Without stdin data, fd 0 is closed: glanceclient
        reads an image from any stdin that is not a terminal, /dev/null included."""
        env = {"HOME": self.home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        if env_auth:
            env.update(OS_IMAGE_URL=self.srv.url, OS_AUTH_TOKEN=TOKEN)
            cmd = [self.exe, *args]
        else:
            cmd = [self.exe, "--os-image-url", self.srv.url, "--os-auth-token", TOKEN, *args]
        kwargs = {}
        if stdin_data is not None:
            kwargs["input"] = stdin_data
        elif stdin_file is not None:
            kwargs["stdin"] = stdin_file
        else:
            kwargs["preexec_fn"] = lambda: os.close(0)
        p = subprocess.run(cmd, stdout=stdout_file or subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=300, **kwargs)
        out = p.stdout.decode("utf-8", "replace") if p.stdout is not None else ""
        return p.returncode, out, p.stderr.decode("utf-8", "replace")

    def ok(self, c, *args, **kwargs):
        rc, out, err = self(*args, **kwargs)
        c.expect(rc == 0, "glance %s: exit %d, stderr %r, stdout %r" % (" ".join(args), rc, err[-800:], out[-400:]))
        return out


def parse_table(text):
    """prettytable output -> list of rows (lists of cells); a row whose first cell is empty
    continues the previous one (print_dict wraps values at 80 columns)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [x.strip() for x in line.strip().strip("|").split("|")]
        if rows and len(rows) > 1 and cells[0] == "" and len(cells) == 2:
            rows[-1][1] += cells[1]
        else:
            rows.append(cells)
    return rows


def parse_image(text):
    rows = parse_table(text)
    assert rows and rows[0] == ["Property", "Value"], "not an image table: %r" % text
    return {k: v for k, v in rows[1:]}


def parse_list(text):
    rows = parse_table(text)
    if not rows:
        return []
    head = rows[0]
    return [dict(zip(head, r)) for r in rows[1:]]


# ---------------------------------------------------------------- fixtures


class Env:
    """What the checks share: the server, the CLI, a glanceclient API client, a scratch dir,
    the run's tag (so an outside server's other images do not count) and the page set."""

    def __init__(self, srv, cli, scratch, args):
        self.srv, self.cli, self.scratch, self.args = srv, cli, scratch, args
        self.run = uuid.uuid4().hex[:8]
        self._page_set = None
        self.kept = {}  # image id -> its data, checked again after the restarts

    def gc(self):
        from glanceclient import Client
        return Client("2", self.srv.url, token=TOKEN)

    def page_set(self):
        if self._page_set is None:
            grp = self.run + "-page"
            names = ["page-%02d-%s" % (i, self.run) for i in range(27)]
            for name in reversed(names):  # created in the opposite order to their names
                r = request(self.srv, "POST", "/v2/images", json.dumps({"name": name, "grp": grp}),
                            {"Content-Type": "application/json"})
                assert r.status == 201, r
            self._page_set = {"grp": grp, "names": names}
        return self._page_set

    def file(self, name, data):
        path = os.path.join(self.scratch, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


def data_of(n, seed):
    """n bytes that differ from run to run and from image to image (no two 1 MiB blocks alike)."""
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hashlib.sha512(b"%s-%d" % (seed.encode(), block)).digest() * 16384
        block += 1
    return bytes(out[:n])


# ---------------------------------------------------------------- CLI checks


def check_cli_schema_cache(c, env):
    """The CLI's first call reads /versions and caches the schemas the server serves (§4)."""
    env.cli.ok(c, "image-list", "--limit", "1")
    cached = os.path.join(env.cli.home, ".glanceclient", "image_schema.json")
    if c.expect(os.path.exists(cached), "the CLI cached no image schema at %s" % cached):
        with open(cached) as f:
            c.expect_eq("cached schema is the served one", json.load(f), request(env.srv, "GET", "/v2/schemas/image").json())
    rc, out, err = env.cli("image-list", "--limit", "1", env_auth=True)
    c.expect(rc == 0, "OS_IMAGE_URL/OS_AUTH_TOKEN in the environment: exit %d %r" % (rc, err))


def check_cli_create_upload_download(c, env):
    cli, srv = env.cli, env.srv
    data = data_of(env.args.mib << 20, env.run + "cli")
    src = env.file("cli.img", data)
    out = cli.ok(c, "image-create", "--name", "e2e-cli", "--disk-format", "raw", "--container-format", "bare",
                 "--visibility", "private", "--min-ram", "64", "--property", "os_distro=cirros",
                 "--property", "grp=%s-cli" % env.run)
    img = parse_image(out)
    c.expect_eq("image-create status", img.get("status"), "queued")
    for k, v in (("name", "e2e-cli"), ("disk_format", "raw"), ("container_format", "bare"), ("visibility", "private"),
                 ("min_ram", "64"), ("os_distro", "cirros"), ("protected", "False"), ("tags", "[]")):
        c.expect_eq("image-create " + k, img.get(k), v)
    iid = img["id"]
    doc = show(srv, iid)
    c.expect_eq("the created image over HTTP", {k: doc.get(k) for k in ("owner", "min_disk", "size", "os_hidden", "grp")},
                {"owner": None, "min_disk": 0, "size": None, "os_hidden": False, "grp": "%s-cli" % env.run})
    cli.ok(c, "image-upload", "--file", src, iid)
    img = parse_image(cli.ok(c, "image-show", "--max-column-width", "300", iid))
    for k, v in (("status", "active"), ("size", str(len(data))), ("checksum", md5(data)), ("os_hash_algo", "sha512"),
                 ("os_hash_value", sha512(data)), ("os_distro", "cirros"), ("virtual_size", str(len(data)))):
        c.expect_eq("image-show after image-upload: " + k, img.get(k), v)
    expect_active_with(c, "image-upload --file", show(srv, iid), data)
    dst = os.path.join(env.scratch, "cli.out")
    cli.ok(c, "image-download", "--file", dst, iid)
    with open(dst, "rb") as f:
        got = f.read()
    c.expect(got == data, "image-download --file: %d bytes, differs from the upload" % len(got))
    c.expect_eq("md5 of the download = checksum", md5(got), show(srv, iid)["checksum"])
    c.expect_eq("sha512 of the download = os_hash_value", sha512(got), show(srv, iid)["os_hash_value"])
    with open(dst, "wb") as f:
        rc, _, err = cli("image-download", iid, stdout_file=f)
    c.expect(rc == 0, "image-download > file: exit %d %r" % (rc, err))
    with open(dst, "rb") as f:
        c.expect(f.read() == data, "image-download > file differs from the upload")
    env.kept[iid] = data
    # The upload again: an active image refuses it, and the CLI shows the 409.
    rc, out, err = cli("image-upload", "--file", src, iid)
    c.expect(rc == 1, "image-upload to an active image: exit %d" % rc)
    c.expect_in("image-upload to an active image shows the 409 (§8)", "409 Conflict", err)
    c.expect_in("image-upload to an active image shows why (§8)", "Image status transition from active to saving is not allowed", err)


def check_cli_upload_variants(c, env):
    cli, srv = env.cli, env.srv
    data = data_of((env.args.mib << 20) // 2 + 12345, env.run + "pipe")
    # image-create with --file: create and upload in one call (chunked, x-openstack-image-size).
    src = env.file("oneshot.img", data)
    img = parse_image(cli.ok(c, "image-create", "--name", "e2e-oneshot", "--disk-format", "raw",
                             "--container-format", "bare", "--file", src))
    c.expect_eq("image-create --file status", img.get("status"), "active")
    if img.get("id"):
        expect_active_with(c, "image-create --file", show(srv, img["id"]), data)
    # Piped stdin with --size: chunked with x-openstack-image-size; without: size unknown.
    for how, extra in (("stdin with --size", ["--size", str(len(data))]), ("stdin, size unknown", [])):
        iid = raw_image(c, srv, name="e2e-" + how)["id"]
        cli.ok(c, "image-upload", *extra, iid, stdin_data=data)
        expect_active_with(c, "image-upload " + how, show(srv, iid), data)
    # A --size that lies: the server counts the bytes (§8) and the image stays queued.
    iid = raw_image(c, srv, name="e2e-size-lie")["id"]
    rc, out, err = cli("image-upload", "--size", str(len(data) + 1), iid, stdin_data=data)
    c.expect(rc == 1, "image-upload --size too big: exit %d" % rc)
    c.expect_in("image-upload --size too big shows the 400 (§8)", "400 Bad Request", err)
    c.expect_in("image-upload --size too big says why (§8)",
                "Size mismatch: expected %d bytes, got %d bytes" % (len(data) + 1, len(data)), err)
    c.expect_eq("queued after the lie", show(srv, iid)["status"], "queued")
    rc, out, err = cli("image-download", "--file", os.path.join(env.scratch, "none.out"), iid)
    c.expect(rc == 1 and "Image %s has no data." % iid in err, "image-download of a queued image: exit %d %r" % (rc, err))


def check_cli_update_and_tags(c, env):
    cli, srv = env.cli, env.srv
    iid = raw_image(c, srv, name="e2e-cli-update", os_distro="cirros", grp="g1")["id"]
    img = parse_image(cli.ok(c, "image-update", "--name", "e2e-renamed", "--min-disk", "2", "--property", "os_version=1",
                             "--property", "os_distro=fedora", "--remove-property", "grp", iid))
    c.expect_eq("image-update shows the new name", img.get("name"), "e2e-renamed")
    doc = show(srv, iid)
    c.expect_eq("after image-update", {k: doc.get(k) for k in ("name", "min_disk", "os_version", "os_distro", "grp")},
                {"name": "e2e-renamed", "min_disk": 2, "os_version": "1", "os_distro": "fedora", "grp": None})
    c.expect("grp" not in doc, "removed property still there: %r" % doc)
    cli.ok(c, "image-tag-update", iid, "t1")
    out = cli.ok(c, "image-tag-update", iid, "t2")
    rows = parse_list(out)
    c.expect(rows and rows[0].get("ID") == iid, "image-tag-update prints the image: %r" % out)
    cli.ok(c, "image-tag-delete", iid, "t1")
    c.expect_eq("tags after tag update/delete", show(srv, iid)["tags"], ["t2"])
    # Tag PUT/DELETE answer 204 (§1, §2).
    expect_204(c, "PUT tag", request(srv, "PUT", "/v2/images/%s/tags/t3" % iid))
    expect_204(c, "DELETE tag", request(srv, "DELETE", "/v2/images/%s/tags/t3" % iid))
    c.expect_eq("tags after raw tag calls", show(srv, iid)["tags"], ["t2"])


def check_cli_errors(c, env):
    cli = env.cli
    missing = str(uuid.uuid4())
    rc, out, err = cli("image-show", missing)
    c.expect(rc == 1, "image-show of a missing image: exit %d" % rc)
    c.expect_in("image-show of a missing image (§2)", "HTTP 404 Not Found", err)
    c.expect_in("image-show of a missing image (§2)", "No image found with ID " + missing, err)
    rc, out, err = cli("image-delete", missing)
    c.expect(rc == 1, "image-delete of a missing image: exit %d" % rc)
    c.expect_in("image-delete of a missing image", "No image with an ID of '%s' exists." % missing, err)
    rc, out, err = cli("image-update", "--name", "x", missing)
    c.expect(rc == 1 and "404 Not Found" in err, "image-update of a missing image: exit %d %r" % (rc, err))
    iid = raw_image(c, env.srv, name="e2e-protected", protected=True)["id"]
    rc, out, err = cli("image-delete", iid)
    c.expect(rc == 1, "image-delete of a protected image: exit %d" % rc)
    c.expect_in("image-delete of a protected image (403, §10)", "You are not permitted to delete the image '%s'." % iid, err)
    cli.ok(c, "image-update", "--protected", "False", iid)
    cli.ok(c, "image-delete", iid)
    rc, out, err = cli("image-show", iid)
    c.expect(rc == 1 and "404 Not Found" in err, "image-show after image-delete: exit %d %r" % (rc, err))
    rc, out, err = cli("image-delete", iid)
    c.expect(rc == 1 and "No image with an ID of '%s' exists." % iid in err, "second image-delete: %d %r" % (rc, err))


def check_cli_list(c, env):
    cli, ps = env.cli, env.page_set()
    names = ps["names"]
    flt = ["--property-filter", "grp=" + ps["grp"]]

    def listed(*args):
        return [r.get("Name") for r in parse_list(cli.ok(c, "image-list", *flt, *args))]

    c.expect_eq("image-list --page-size 5 (default sort: name asc)", listed("--page-size", "5"), sorted(names))
    c.expect_eq("image-list (default page size 20)", listed(), sorted(names))
    c.expect_eq("image-list --limit 7 --page-size 3 --sort name:desc", listed("--limit", "7", "--page-size", "3", "--sort", "name:desc"),
                sorted(names, reverse=True)[:7])
    c.expect_eq("image-list --sort-key name --sort-dir desc", listed("--sort-key", "name", "--sort-dir", "desc", "--page-size", "10"),
                sorted(names, reverse=True))
    c.expect_eq("image-list --sort created_at:asc (created in reverse name order)",
                listed("--sort", "created_at:asc,name:desc", "--page-size", "4"), sorted(names, reverse=True))
    c.expect_eq("image-list --visibility shared", listed("--visibility", "shared"), sorted(names))
    c.expect_eq("image-list --visibility public", listed("--visibility", "public"), [])
    c.expect_eq("image-list --limit 30 --page-size 25", listed("--limit", "30", "--page-size", "25"), sorted(names))
    rows = parse_list(cli.ok(c, "--verbose", "image-list", *flt, "--limit", "2"))
    c.expect(rows and rows[0].get("Status") == "queued", "image-list --verbose shows Status: %r" % rows)


def check_api(c, env):
    """python-glanceclient's Python API, as a program would use it."""
    from glanceclient import exc
    gc = env.gc()
    data = data_of(3 << 20, env.run + "api")
    image = gc.images.create(name="e2e-api", disk_format="raw", container_format="bare", os_distro="debian",
                             tags=["x"], min_disk=1)
    c.expect_eq("api create status", image["status"], "queued")
    c.expect_eq("api create property", image["os_distro"], "debian")
    body = gc.images.data(image["id"])
    c.expect(body.wrapped is None, "images.data of a queued image is None (204, §9)")
    gc.images.upload(image["id"], io.BytesIO(data), len(data))
    got = gc.images.get(image["id"])
    c.expect_eq("api get after upload", (got["status"], got["size"], got["os_hash_value"]), ("active", len(data), sha512(data)))
    # data() checks os_hash_value as it reads (§9); a wrong hash would raise IOError here.
    c.expect(b"".join(gc.images.data(image["id"])) == data, "images.data differs from the upload")
    c.expect(b"".join(gc.images.data(image["id"], allow_md5_fallback=True)) == data, "images.data (md5 fallback)")
    try:
        gc.images.upload(image["id"], io.BytesIO(b"again"), 5)
        c.expect(False, "upload to an active image did not raise")
    except exc.HTTPConflict as e:
        c.expect_in("HTTPConflict text", "Image status transition from active to saving is not allowed", str(e))
    updated = gc.images.update(image["id"], remove_props=["os_distro"], os_version="12", name="e2e-api2")
    c.expect_eq("api update", (updated["name"], updated.get("os_version"), "os_distro" in updated), ("e2e-api2", "12", False))
    gc.image_tags.update(image["id"], "y")
    gc.image_tags.delete(image["id"], "x")
    c.expect_eq("api tags", gc.images.get(image["id"])["tags"], ["y"])
    listed = [i["id"] for i in gc.images.list(filters={"name": "e2e-api2"})]
    c.expect_eq("api list by name", listed, [image["id"]])
    ps = env.page_set()
    listed = [i["name"] for i in gc.images.list(filters={"grp": ps["grp"]}, page_size=4, sort="name:asc")]
    c.expect_eq("api list, pages of 4", listed, sorted(ps["names"]))
    listed = [i["name"] for i in gc.images.list(filters={"grp": ps["grp"]}, limit=5, page_size=2, sort_key="name", sort_dir="desc")]
    c.expect_eq("api list, limit 5 in pages of 2", listed, sorted(ps["names"], reverse=True)[:5])
    schema = gc.schemas.get("image")
    c.expect(schema.is_core_property("os_hash_value"), "schema from the server knows os_hash_value")
    gc.images.delete(image["id"])
    try:
        gc.images.get(image["id"])
        c.expect(False, "get after delete did not raise")
    except exc.HTTPNotFound:
        pass


# ---------------------------------------------------------------- load, restart, crash


def check_concurrent_uploads(c, env):
    """4 x 32 MiB at once (§0: Glance on sqlite lost 2-3 of 4; the port must lose none)."""
    srv, size = env.srv, env.args.concurrent_mib << 20
    ids = [raw_image(c, srv, name="e2e-conc-%d" % i)["id"] for i in range(4)]
    datas = [data_of(size, "%s-conc-%d" % (env.run, i)) for i in range(4)]
    results = [None] * 4

    def upload(i):
        try:
            if i % 2:
                results[i] = put_file(srv, ids[i], datas[i], chunked=True, size_header=size)
            else:
                results[i] = put_file(srv, ids[i], datas[i])
        except Exception as e:  # a reset counts as a failed upload, reported below
            results[i] = e

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for i in range(4):
        what = "concurrent upload %d (%s)" % (i, "chunked" if i % 2 else "Content-Length")
        r = results[i]
        if c.expect(hasattr(r, "status"), "%s: %r" % (what, r)):
            expect_204(c, what, r)
        expect_active_with(c, what, show(srv, ids[i]), datas[i])
        got = request(srv, "GET", "/v2/images/%s/file" % ids[i]).body
        c.expect(got == datas[i], "%s: download differs (%d bytes)" % (what, len(got)))
    env.kept.update({ids[0]: datas[0], ids[3]: datas[3]})


def snapshot(srv):
    docs = {}
    for q in ("limit=1000", "limit=1000&os_hidden=true"):
        url = "/v2/images?" + q
        while url:
            body = request(srv, "GET", url).json()
            docs.update({d["id"]: wire.norm(d) for d in body["images"]})
            url = body.get("next")
    return docs


def check_restart(c, env):
    """Stop with SIGTERM and start again on the same data dir: everything is still there (§12)."""
    srv = env.srv
    deleted = raw_image(c, srv, name="e2e-deleted-before-restart")["id"]
    request(srv, "DELETE", "/v2/images/" + deleted)
    before = snapshot(srv)
    c.expect(before, "no images listed before the restart")
    old_url = srv.url
    c.expect(srv.stop(), "the server did not exit within 30 s of SIGTERM")
    c.expect(eventually(lambda: request_fails(old_url), 10), "something still answers on the old port after stop")
    srv.start()
    after = snapshot(srv)
    c.expect_eq("image ids after the restart", sorted(after), sorted(before))
    changed = [i for i in before if i in after and after[i] != before[i]]
    c.expect(not changed, "documents changed by the restart: %r" % [(before[i], after[i]) for i in changed[:2]])
    c.expect_status("the deleted image after the restart", request(srv, "GET", "/v2/images/" + deleted), 404)
    for iid, data in env.kept.items():
        got = request(srv, "GET", "/v2/images/%s/file" % iid).body
        c.expect(got == data, "image %s: %d bytes back after the restart, want %d" % (iid, len(got), len(data)))
    iid = raw_image(c, srv, name="e2e-after-restart")["id"]
    expect_204(c, "upload after the restart", put_file(srv, iid, b"after"))
    expect_active_with(c, "upload after the restart", show(srv, iid), b"after")


def request_fails(url):
    import urllib.request
    try:
        urllib.request.urlopen(url + "/versions", timeout=2)
        return False
    except OSError:
        return True


def check_kill9(c, env):
    """kill -9 of master and workers: an upload that got its 204 survives; one cut half-way
    must not come back `active` without its data (§12)."""
    srv = env.srv
    done = raw_image(c, srv, name="e2e-done-before-crash")["id"]
    data = data_of(2 << 20, env.run + "crash")
    expect_204(c, "upload before the crash", put_file(srv, done, data))
    cut = raw_image(c, srv, name="e2e-cut-by-crash")["id"]
    up = PausedUpload(srv, cut, data[: 1 << 20], size_header=len(data))
    eventually(lambda: show(srv, cut)["status"] == "saving", timeout=10)
    srv.kill()
    up.drop()
    srv.start()
    expect_active_with(c, "the upload finished before kill -9", show(srv, done), data)
    c.expect(request(srv, "GET", "/v2/images/%s/file" % done).body == data, "data of the upload before kill -9 differs")
    doc = show(srv, cut)
    c.expect(doc["status"] in ("queued", "saving"), "the upload cut by kill -9 came back %r" % doc["status"])
    c.expect_eq("the cut upload has no checksum", (doc["checksum"], doc["size"]), (None, None))
    c.expect_status("GET file of the cut upload", request(srv, "GET", "/v2/images/%s/file" % cut), 204)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", help="the example binary to start (target/*/examples/glance_api)")
    where.add_argument("--url", help="a server already running (restart checks skipped)")
    ap.add_argument("--data-dir", help="with --server: its --data-dir (default: a temporary directory)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--server-arg", action="append", default=[], help="one more flag for the server (repeatable)")
    ap.add_argument("--mib", type=int, default=8, help="size of the CLI upload in MiB (default 8)")
    ap.add_argument("--concurrent-mib", type=int, default=32, help="size of each of the 4 concurrent uploads")
    ap.add_argument("--only", action="append", default=[], help="run only the checks whose name contains this")
    args = ap.parse_args()
    # A SIGTERM (the Rust test's time limit) unwinds through `finally`, which stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    scratch = tempfile.mkdtemp(prefix="glance-e2e-")
    data_dir = args.data_dir or os.path.join(scratch, "data")
    os.makedirs(data_dir, exist_ok=True)
    srv = Server(args.server, data_dir, args.workers, args.server_arg) if args.server else Server(url=args.url.rstrip("/"))
    cli = Cli(os.path.join(scratch, "home"))
    os.makedirs(cli.home)
    cli.srv = srv
    env = Env(srv, cli, scratch, args)
    c = Checks()
    try:
        if srv.managed:
            srv.start()
        print("server at %s (data dir %s)" % (srv.url, data_dir if srv.managed else "?"), flush=True)
        checks = [(f.__name__, f, (c, srv)) for f in wire.WIRE_CHECKS[:8]]
        checks += [("check_list_paging", lambda: wire.check_list_paging(c, srv, env.page_set()), ())]
        checks += [("check_paging_with_ties", lambda: wire.check_paging_with_ties(c, srv, env.page_set()), ())]
        checks += [(f.__name__, f, (c, srv)) for f in wire.WIRE_CHECKS[8:]]
        checks += [(f.__name__, f, (c, env)) for f in (
            check_cli_schema_cache, check_cli_create_upload_download, check_cli_upload_variants,
            check_cli_update_and_tags, check_cli_errors, check_cli_list, check_api, check_concurrent_uploads)]
        if srv.managed:
            checks += [(f.__name__, f, (c, env)) for f in (check_restart, check_kill9)]
        else:
            c.skip("check_restart, check_kill9", "--url given: the server is not ours to stop")
        for name, fn, fargs in checks:
            if args.only and not any(o in name for o in args.only):
                continue
            c.run(name, fn, *fargs)
        if srv.managed:
            c.run("clean stop", lambda: c.expect(srv.stop(), "no exit within 30 s of SIGTERM"))
    except Exception as e:
        c.failed.append(("setup", [repr(e)]))
        print("FAIL setup: %s" % e, flush=True)
    finally:
        if srv.managed:
            srv.kill()
            if c.failed:
                print("\n--- server output (last 60 lines) ---\n" + "\n".join(srv.lines[-60:]))
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(0 if c.summary() else 1)


if __name__ == "__main__":
    main()
