"""The wire-level checks: what /work/shared/glance-images-v2.md (the spec, observed on a real
Glance 33.0.0) says Glance answers, byte for byte where it says so, for the requests
glanceclient never sends: versions and redirects, 405 with Allow, request ids, 204 heads,
error bodies by Accept, create/patch/upload/download/delete edge cases, Range, and the list's
paging links, sorting and filters.

Each `check_*` takes the `Checks` runner and the `Server` and sets up its own images; section
numbers in messages (§N) point into the spec. scenario.py runs them all (`WIRE_CHECKS`).
"""

import json
import re
import uuid

from harness import PausedUpload, eventually, md5, request, sha512

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
CORE_FIELDS = ["name", "disk_format", "container_format", "visibility", "size", "virtual_size",
               "status", "checksum", "protected", "min_ram", "min_disk", "owner", "os_hidden",
               "os_hash_algo", "os_hash_value", "id", "created_at", "updated_at", "tags",
               "self", "file", "schema"]
DISK_FORMATS = [None, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
CONTAINER_FORMATS = [None, "ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
PATCH21 = "application/openstack-images-v2.1-json-patch"
PATCH20 = "application/openstack-images-v2.0-json-patch"
JSON = {"Content-Type": "application/json"}
OCTETS = {"Content-Type": "application/octet-stream"}
EMPTY_SHA512 = sha512(b"")
HELLO = b"hello world"  # the spec's 11-byte image for Range


# ---------------------------------------------------------------- helpers


def norm(doc):
    """An image document with its tags sorted: Glance keeps tags as a set, in no order."""
    return dict(doc, tags=sorted(doc.get("tags") or [])) if isinstance(doc, dict) else doc


def create(c, srv, **fields):
    r = request(srv, "POST", "/v2/images", json.dumps(fields), JSON)
    assert r.status == 201, "create %r: %r" % (fields, r)
    return r.json()


def raw_image(c, srv, **fields):
    fields.setdefault("disk_format", "raw")
    fields.setdefault("container_format", "bare")
    return create(c, srv, **fields)


def show(srv, image_id):
    r = request(srv, "GET", "/v2/images/" + image_id)
    assert r.status == 200, "show %s: %r" % (image_id, r)
    return r.json()


def put_file(srv, image_id, data, chunked=False, size_header=None, headers=None):
    hdrs = dict(OCTETS)
    if size_header is not None:
        hdrs["x-openstack-image-size"] = str(size_header)
    hdrs.update(headers or {})
    path = "/v2/images/%s/file" % image_id
    if chunked:
        return request(srv, "PUT", path, headers=hdrs, chunks=[data[i:i + 65536] for i in range(0, len(data), 65536)])
    return request(srv, "PUT", path, data, hdrs)


def patch(srv, image_id, ops, ctype=PATCH21):
    body = ops if isinstance(ops, (str, bytes)) else json.dumps(ops)
    return request(srv, "PATCH", "/v2/images/" + image_id, body, {"Content-Type": ctype})


def expect_request_id(c, what, r):
    names = [n for n in r.header_names() if n.lower() == "x-openstack-request-id"]
    if not c.expect(names, "%s: no x-openstack-request-id header (§2)" % what):
        return None
    c.expect_eq(what + " request id header name as sent (§2)", names[0], "x-openstack-request-id")
    value = r.header(names[0])
    c.expect(re.fullmatch("req-" + UUID4, value), "%s: request id %r is not req-<uuid4> (§2)" % (what, value))
    return value


def expect_204(c, what, r):
    """WebOb's 204: text/html Content-Type, Content-Length 0, no body, a request id (§2)."""
    if not c.expect_status(what, r, 204):
        return
    c.expect_eq(what + " Content-Type", r.header("Content-Type"), "text/html; charset=UTF-8")
    c.expect_eq(what + " Content-Length", r.header("Content-Length"), "0")
    c.expect_eq(what + " body", r.body, b"")
    expect_request_id(c, what, r)


def expect_json(c, what, r, status=200):
    if not c.expect_status(what, r, status):
        return None
    c.expect_eq(what + " Content-Type (§2)", r.header("Content-Type"), "application/json")
    c.expect_eq(what + " Content-Length (§2)", r.header("Content-Length"), str(len(r.body)))
    expect_request_id(c, what, r)
    return r.json()


def expect_image_doc(c, what, doc, custom=()):
    c.expect_eq(what + " fields (§4)", sorted(doc), sorted(CORE_FIELDS + list(custom)))
    image_id = doc.get("id", "")
    c.expect(re.fullmatch(UUID4, image_id or ""), "%s: id %r is not a uuid4" % (what, image_id))
    c.expect_eq(what + " self", doc.get("self"), "/v2/images/" + image_id)
    c.expect_eq(what + " file", doc.get("file"), "/v2/images/%s/file" % image_id)
    c.expect_eq(what + " schema", doc.get("schema"), "/v2/schemas/image")
    for k in ("created_at", "updated_at"):
        c.expect(re.fullmatch(TIMESTAMP, str(doc.get(k))), "%s: %s %r is not YYYY-MM-DDTHH:MM:SSZ" % (what, k, doc.get(k)))


def expect_active_with(c, what, doc, data):
    c.expect_eq(what + " status", doc["status"], "active")
    c.expect_eq(what + " size", doc["size"], len(data))
    c.expect_eq(what + " checksum (md5)", doc["checksum"], md5(data))
    c.expect_eq(what + " os_hash_algo", doc["os_hash_algo"], "sha512")
    c.expect_eq(what + " os_hash_value", doc["os_hash_value"], sha512(data))
    c.expect_eq(what + " virtual_size (raw/bare: the byte count, null when empty, §8)",
                doc["virtual_size"], len(data) if data else None)


# ---------------------------------------------------------------- §1, §3: routing and versions


def check_versions(c, srv):
    port = srv.hostport.rsplit(":", 1)[1]
    docs = []
    for path, status in (("/", 300), ("/versions", 200), ("/not-a-version", 300), ("/v1/images", 300)):
        r = request(srv, "GET", path)
        if not c.expect_status("GET " + path + " (§1, §3)", r, status):
            continue
        c.expect_eq("GET %s Content-Type" % path, r.header("Content-Type"), "application/json")
        c.expect("x-openstack-request-id" not in [n.lower() for n in r.header_names()],
                 "GET %s: the versions document must not carry x-openstack-request-id (§2)" % path)
        docs.append((path, r.json()))
    for path, doc in docs[1:]:
        c.expect_eq("GET %s body equals GET %s body" % (path, docs[0][0]), doc, docs[0][1])
    if not docs:
        return
    versions = docs[0][1].get("versions", [])
    current = [v for v in versions if v.get("status") == "CURRENT"]
    c.expect(len(current) == 1 and current[0]["id"].startswith("v2."), "one CURRENT v2.x (§3): %r" % versions)
    c.expect("v2.0" in [v.get("id") for v in versions], "v2.0 listed (§3)")
    for v in versions:
        c.expect_eq("%s self link (§3)" % v.get("id"), v.get("links"),
                    [{"rel": "self", "href": "http://127.0.0.1:%s/v2/" % port}])
    r = request(srv, "GET", "/versions", headers={"Host": "images.example:9292"})
    if c.expect_status("GET /versions with Host: images.example:9292", r, 200):
        hrefs = {link["href"] for v in r.json()["versions"] for link in v["links"]}
        c.expect_eq("version links from the request's Host (§3)", hrefs, {"http://images.example:9292/v2/"})
    ids = [v.get("id") for v in versions]
    c.expect_eq("version ids as on Glance 33 with image_cache_dir (§3)", ids,
                ["v2.18", "v2.17", "v2.16", "v2.15", "v2.14", "v2.9", "v2.7", "v2.6", "v2.5", "v2.4",
                 "v2.3", "v2.2", "v2.1", "v2.0"])


def check_redirect_and_unrouted(c, srv):
    r = request(srv, "GET", "/v2")
    c.expect_status("GET /v2 (§1)", r, 302)
    c.expect_eq("GET /v2 Location (§1)", r.header("Location"), "%s/v2/" % srv.url)
    r = request(srv, "GET", "/v2/")
    c.expect_status("GET /v2/ (§1)", r, 404)
    expect_request_id(c, "GET /v2/", r)
    r = request(srv, "GET", "/v2/nothing/here")
    c.expect_status("GET /v2/nothing/here (§1)", r, 404)
    r = request(srv, "FROB", "/v2/nothing/here")
    c.expect_status("FROB /v2/nothing/here: 501 for a method outside the six (§1)", r, 501)


def check_method_not_allowed(c, srv):
    image = raw_image(c, srv, name="e2e-405")
    i = "/v2/images/" + image["id"]
    for method, path, allow in (
            ("DELETE", "/v2/images", "GET, POST"), ("PUT", "/v2/images", "GET, POST"),
            ("HEAD", "/v2/images", "GET, POST"),
            ("POST", i, "GET, PATCH, DELETE"), ("PUT", i, "GET, PATCH, DELETE"), ("HEAD", i, "GET, PATCH, DELETE"),
            ("POST", i + "/file", "GET, PUT"), ("DELETE", i + "/file", "GET, PUT"), ("HEAD", i + "/file", "GET, PUT"),
            ("POST", "/v2/schemas/image", "GET"), ("DELETE", "/v2/schemas/images", "GET")):
        what = "%s %s" % (method, path.replace(image["id"], "{id}"))
        r = request(srv, method, path, b"" if method in ("POST", "PUT") else None)
        if not c.expect_status(what + " (§1)", r, 405):
            continue
        c.expect_eq(what + " Allow (§1)", r.header("Allow"), allow)
        expect_request_id(c, what, r)
        if method == "HEAD":
            c.expect_eq(what + " Content-Type (§1: HEAD gets text/html)", r.header("Content-Type"), "text/html; charset=UTF-8")
            c.expect_eq(what + " body", r.body, b"")
        else:
            c.expect_eq(what + " body (WebOb's 405 template)", r.text(),
                        "405 Method Not Allowed\n\nThe method %s is not allowed for this resource. \n\n " % method)


# ---------------------------------------------------------------- §2: conventions


def check_request_ids(c, srv):
    seen = []
    image = raw_image(c, srv, name="e2e-reqid")
    exchanges = [
        ("GET /v2/images", request(srv, "GET", "/v2/images")),
        ("GET /v2/images/{id}", request(srv, "GET", "/v2/images/" + image["id"])),
        ("GET /v2/images/{missing}", request(srv, "GET", "/v2/images/" + str(uuid.uuid4()))),
        ("GET /v2/images?limit=abc", request(srv, "GET", "/v2/images?limit=abc")),
        ("PUT /v2/images/{id}/file", put_file(srv, image["id"], b"abc")),
        ("GET /v2/images/{id}/file", request(srv, "GET", "/v2/images/%s/file" % image["id"])),
        ("DELETE /v2/images/{id}", request(srv, "DELETE", "/v2/images/" + image["id"])),
        ("GET /v2/schemas/image", request(srv, "GET", "/v2/schemas/image")),
    ]
    for what, r in exchanges:
        seen.append(expect_request_id(c, what, r))
    c.expect(len(set(seen)) == len(seen), "request ids must differ per request: %r" % seen)


def check_error_bodies_by_accept(c, srv):
    missing = str(uuid.uuid4())
    msg = "No image found with ID " + missing
    path = "/v2/images/" + missing
    c.expect_error("GET missing image, no Accept (§2)", request(srv, "GET", path), 404, msg, form="explanation")
    r = request(srv, "GET", path, headers={"Accept": "application/json"})
    if c.expect_status("GET missing image, Accept: application/json (§2)", r, 404):
        c.expect_eq("JSON error Content-Type", r.header("Content-Type"), "application/json")
        c.expect_eq("JSON error body (§2)", r.json(),
                    {"message": msg + "<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"})
    r = request(srv, "GET", path, headers={"Accept": "text/html"})
    if c.expect_status("GET missing image, Accept: text/html (§2)", r, 404):
        c.expect_eq("HTML error Content-Type", r.header("Content-Type"), "text/html; charset=UTF-8")
        c.expect_in("HTML error body (§2)", "<title>404 Not Found</title>", r.text())
        c.expect_in("HTML error body (§2)", msg, r.text())


# ---------------------------------------------------------------- §4, §5: schema and create


def check_schema(c, srv):
    schema = expect_json(c, "GET /v2/schemas/image", request(srv, "GET", "/v2/schemas/image"))
    if schema:
        c.expect_eq("schema additionalProperties (§4)", schema.get("additionalProperties"), {"type": "string"})
        props = schema.get("properties", {})
        c.expect_eq("schema disk_format enum (§4)", props.get("disk_format", {}).get("enum"), DISK_FORMATS)
        c.expect_eq("schema container_format enum (§4)", props.get("container_format", {}).get("enum"), CONTAINER_FORMATS)
        for f in CORE_FIELDS:
            c.expect(f in props, "schema property %s (§4)" % f)
        c.expect_eq("schema name", schema.get("name"), "image")
    schemas = expect_json(c, "GET /v2/schemas/images", request(srv, "GET", "/v2/schemas/images"))
    if schemas:
        c.expect_eq("schemas name", schemas.get("name"), "images")
        c.expect_eq("schemas images item", schemas.get("properties", {}).get("images", {}).get("items"), schema)


def check_create(c, srv):
    body = {"name": "e2e-create", "disk_format": "qcow2", "container_format": "bare",
            "os_distro": "cirros", "min_ram": 128, "tags": ["a", "b"]}
    r = request(srv, "POST", "/v2/images", json.dumps(body), JSON)
    doc = expect_json(c, "POST /v2/images", r, 201)
    if not doc:
        return
    expect_image_doc(c, "created image", doc, custom=["os_distro"])
    want = {"name": "e2e-create", "disk_format": "qcow2", "container_format": "bare", "visibility": "shared",
            "size": None, "virtual_size": None, "status": "queued", "checksum": None, "protected": False,
            "min_ram": 128, "min_disk": 0, "owner": None, "os_hidden": False, "os_hash_algo": None,
            "os_hash_value": None, "tags": ["a", "b"], "os_distro": "cirros"}
    for k, v in want.items():
        if k == "tags":
            c.expect_eq("created tags", sorted(doc.get(k) or []), v)
        else:
            c.expect_eq("created " + k + " (§5)", doc.get(k), v)
    c.expect_eq("201 Location is absolute (§2)", r.header("Location"), "%s/v2/images/%s" % (srv.url, doc["id"]))
    c.expect_eq("201 OpenStack-image-import-methods (§2)", r.header("OpenStack-image-import-methods"),
                "glance-direct,web-download,copy-image")
    c.expect_eq("show after create", norm(show(srv, doc["id"])), norm(doc))
    # Location follows the request's Host (WebOb makes it absolute from it).
    r = request(srv, "POST", "/v2/images", json.dumps({"name": "e2e-host"}),
                {"Content-Type": "application/json", "Host": "images.example:9292"})
    if c.expect_status("POST with Host: images.example:9292", r, 201):
        c.expect_eq("Location from the Host header (§2)", r.header("Location"),
                    "http://images.example:9292/v2/images/" + r.json()["id"])
    # The Content-Type of a create is not checked.
    r = request(srv, "POST", "/v2/images", json.dumps({"name": "e2e-plain"}), {"Content-Type": "text/plain"})
    c.expect_status("POST with Content-Type: text/plain (§5)", r, 201)
    r = request(srv, "POST", "/v2/images", json.dumps({"name": "e2e-nocontenttype"}))
    c.expect_status("POST without Content-Type (§5)", r, 201)
    # A client-chosen id, then the same again.
    chosen = str(uuid.uuid4())
    r = request(srv, "POST", "/v2/images", json.dumps({"id": chosen, "name": "e2e-chosen"}), JSON)
    if c.expect_status("POST with a chosen id (§5)", r, 201):
        c.expect_eq("chosen id kept", r.json()["id"], chosen)
    r = request(srv, "POST", "/v2/images", json.dumps({"id": chosen}), JSON)
    c.expect_error("POST with an id that exists (§5)", r, 409, "Image ID %s already exists!" % chosen)
    r = request(srv, "POST", "/v2/images", json.dumps({"visibility": "public", "name": "e2e-public"}), JSON)
    if c.expect_status("POST visibility public as admin (§0)", r, 201):
        c.expect_eq("public visibility", r.json()["visibility"], "public")


def check_create_errors(c, srv):
    def post(body):
        return request(srv, "POST", "/v2/images", body if isinstance(body, str) else json.dumps(body), JSON)

    c.expect_error("malformed JSON (§5)", post("{nope"), 400, "Malformed JSON in request body.", form="explanation")
    c.expect_status("a JSON array: 400 in the port (§5: Glance's 500 is a bug)", post("[1, 2]"), 400)
    for field, enum in (("disk_format", DISK_FORMATS), ("container_format", CONTAINER_FORMATS)):
        r = post({field: "nope"})
        if c.expect_status("unknown %s (§5)" % field, r, 400):
            c.expect(r.text().startswith("400 Bad Request\n\nProvided object does not match schema 'image': "
                                         "'nope' is not one of %r" % enum),
                     "unknown %s body (§5): got %r" % (field, r.text()[:300]))
            c.expect_in("unknown %s body names the schema path (§5)" % field,
                        "Failed validating 'enum' in schema['properties']['%s']" % field, r.text())
    r = post({"prop": 5})
    if c.expect_status("a non-string custom property (§5)", r, 400):
        c.expect_in("non-string property body (§5)", "5 is not of type 'string'", r.text())
    c.expect_status("name over 255 chars (§5)", post({"name": "n" * 256}), 400)
    c.expect_status("name of 255 chars is fine", post({"name": "n" * 255}), 201)
    c.expect_status("bad id pattern (§5)", post({"id": "not-a-uuid"}), 400)
    c.expect_error("min_disk -1 (§5)", post({"min_disk": -1}), 400,
                   "Invalid value '-1' for parameter 'min_disk': Cannot be a negative value")
    for attr, value in (("status", "active"), ("checksum", "0" * 32), ("size", 5)):
        c.expect_error("read-only %s on create (§5)" % attr, post({attr: value}), 403,
                       "Attribute '%s' is read-only." % attr)


# ---------------------------------------------------------------- §6: list


def check_list_paging(c, srv, page_set):
    grp, names = page_set["grp"], page_set["names"]
    n = len(names)
    # Default limit 25 and the default order, created_at desc.
    body = expect_json(c, "GET /v2/images?grp=...", request(srv, "GET", "/v2/images?grp=" + grp))
    if body:
        c.expect_eq("default limit (§6)", len(body["images"]), min(n, 25))
        c.expect_eq("first without parameters echoes the query (§6)", body.get("first"), "/v2/images?grp=" + grp)
        c.expect_eq("schema link", body.get("schema"), "/v2/schemas/images")
        created = [i["created_at"] for i in body["images"]]
        c.expect(created == sorted(created, reverse=True), "default order is created_at desc (§6): %r" % created)
        c.expect(("next" in body) == (n >= 25), "next present iff a full page (§6): %r" % body.get("next"))
        for image in body["images"]:
            expect_image_doc(c, "list item", image, custom=["grp"])
    r = request(srv, "GET", "/v2/images")
    body = expect_json(c, "GET /v2/images", r)
    if body:
        c.expect_eq("first without query (§6)", body.get("first"), "/v2/images")
    # Walk pages of 3 by name; a last full page still has next, the page after is empty (§6).
    for limit in (3, 4, n):
        query = "grp=%s&sort=name:asc&limit=%d" % (grp, limit)
        url, got, pages = "/v2/images?" + query, [], 0
        while url and pages <= n + 2:
            b = expect_json(c, "GET " + url, request(srv, "GET", url))
            if not b:
                return
            pages += 1
            got += [i["name"] for i in b["images"]]
            c.expect_eq("first of page %d (limit %d, §6)" % (pages, limit), b.get("first"),
                        "/v2/images?grp=%s&sort=name%%3Aasc&limit=%d" % (grp, limit))
            nxt = b.get("next")
            if len(b["images"]) == limit:
                last = b["images"][-1]["id"]
                c.expect_eq("next of a full page (limit %d, §6)" % limit, nxt,
                            "/v2/images?grp=%s&sort=name%%3Aasc&limit=%d&marker=%s" % (grp, limit, last))
            else:
                c.expect(nxt is None, "no next on a short page (limit %d): %r" % (limit, nxt))
            url = nxt
        c.expect_eq("all names by pages of %d, in order" % limit, got, sorted(names))
        c.expect_eq("pages of %d (a full last page is followed by an empty one)" % limit, pages, n // limit + 1)
    # Sorting, both syntaxes.
    for query, want in (("sort=name:desc", sorted(names, reverse=True)),
                        ("sort_key=name&sort_dir=asc", sorted(names)),
                        ("sort_key=name&sort_dir=desc", sorted(names, reverse=True)),
                        ("sort=name", sorted(names, reverse=True))):
        b = expect_json(c, "GET ?" + query, request(srv, "GET", "/v2/images?grp=%s&limit=100&%s" % (grp, query)))
        if b:
            if query == "sort=name":
                # A key without a direction takes the default direction, desc.
                c.expect_eq("order for " + query + " (§6: default dir desc)", [i["name"] for i in b["images"]], want)
            else:
                c.expect_eq("order for " + query + " (§6)", [i["name"] for i in b["images"]], want)
    b = expect_json(c, "sort=created_at:asc", request(srv, "GET", "/v2/images?grp=%s&limit=100&sort=created_at:asc" % grp))
    if b:
        created = [i["created_at"] for i in b["images"]]
        c.expect_eq("created_at asc order", created, sorted(created))
    for key in ("status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"):
        r = request(srv, "GET", "/v2/images?grp=%s&sort_key=%s" % (grp, key))
        c.expect_status("sort_key=%s is valid (§6)" % key, r, 200)


def check_list_errors(c, srv):
    def get(q):
        return request(srv, "GET", "/v2/images?" + q)

    b = expect_json(c, "limit=0", get("limit=0"))
    if b:
        c.expect_eq("limit=0 gives an empty list (§6)", b["images"], [])
    c.expect_error("limit=-1 (§6)", get("limit=-1"), 400, "limit param must be positive")
    c.expect_error("limit=abc (§6)", get("limit=abc"), 400, "limit param must be an integer")
    for marker in (str(uuid.uuid4()), "not-a-uuid"):
        c.expect_error("unknown marker %s (§6)" % marker, get("marker=" + marker), 400,
                       "No image found with ID " + marker)
    r = get("sort_key=bogus")
    if c.expect_status("sort_key=bogus (§6)", r, 400):
        c.expect_in("sort_key=bogus body (§6)", "Invalid sort key: bogus. It must be one of the following:", r.text())
    r = get("sort=bogus:asc")
    c.expect_status("sort=bogus:asc (§6)", r, 400)
    c.expect_error("sort_dir=sideways (§6)", get("sort_key=name&sort_dir=sideways"), 400,
                   "Invalid sort direction: sideways")
    c.expect_error("sort=name:sideways (§6)", get("sort=name:sideways"), 400, "Invalid sort direction: sideways")
    c.expect_error("old and new sort syntax (§6)", get("sort=name:asc&sort_key=name"), 400,
                   "Old and new sorting syntax cannot be combined")
    c.expect_status("visibility=bogus (§6)", get("visibility=bogus"), 400)
    c.expect_status("size_min=abc (§6)", get("size_min=abc"), 400)
    b = expect_json(c, "status=bogus", get("status=bogus"))
    if b:
        c.expect_eq("status=bogus gives an empty list (§6)", b["images"], [])


def check_list_filters(c, srv):
    tag = uuid.uuid4().hex[:8]
    a = raw_image(c, srv, name="flt-a-" + tag, grp=tag, visibility="private")
    b = raw_image(c, srv, name="flt-b-" + tag, grp=tag, visibility="public")
    raw_image(c, srv, name="flt-h-" + tag, grp=tag, os_hidden=True)
    gone = raw_image(c, srv, name="flt-d-" + tag, grp=tag)
    put_file(srv, a["id"], b"x" * 100)
    put_file(srv, b["id"], b"y" * 1000)
    request(srv, "DELETE", "/v2/images/" + gone["id"])

    def names(q):
        r = request(srv, "GET", "/v2/images?grp=%s&%s" % (tag, q))
        body = expect_json(c, "GET ?" + q, r)
        return sorted(i["name"] for i in body["images"]) if body else None

    c.expect_eq("custom property filter, deleted and hidden left out (§6)", names(""), ["flt-a-" + tag, "flt-b-" + tag])
    c.expect_eq("name= (§6)", names("name=flt-a-" + tag), ["flt-a-" + tag])
    c.expect_eq("name=in:a,b (§6)", names("name=in:flt-a-%s,flt-h-%s" % (tag, tag)), ["flt-a-" + tag])
    c.expect_eq("os_hidden=true (§6)", names("os_hidden=true"), ["flt-h-" + tag])
    c.expect_eq("status=active", names("status=active"), ["flt-a-" + tag, "flt-b-" + tag])
    c.expect_eq("status=queued", names("status=queued"), [])
    c.expect_eq("visibility=private", names("visibility=private"), ["flt-a-" + tag])
    c.expect_eq("visibility=public", names("visibility=public"), ["flt-b-" + tag])
    c.expect_eq("size_min=500", names("size_min=500"), ["flt-b-" + tag])
    c.expect_eq("size_max=500", names("size_max=500"), ["flt-a-" + tag])
    c.expect_eq("grp and name together", names("name=flt-b-" + tag), ["flt-b-" + tag])
    r = request(srv, "GET", "/v2/images?grp=nothing-has-this-" + tag)
    body = expect_json(c, "filter matching nothing", r)
    if body:
        c.expect_eq("filter matching nothing", body["images"], [])


# ---------------------------------------------------------------- §7: update


def check_patch(c, srv):
    image = raw_image(c, srv, name="e2e-patch", os_distro="cirros")
    iid = image["id"]
    r = patch(srv, iid, [{"op": "add", "path": "/os_version", "value": "1"},
                         {"op": "add", "path": "/os_distro", "value": "fedora"},
                         {"op": "replace", "path": "/name", "value": "e2e-patched"},
                         {"op": "add", "path": "/tags", "value": ["t1", "t2"]},
                         {"op": "replace", "path": "/min_ram", "value": 512},
                         {"op": "replace", "path": "/os_version", "value": "2"}])
    doc = expect_json(c, "PATCH v2.1 (§7)", r)
    if doc:
        c.expect_eq("patched os_version (ops in order)", doc.get("os_version"), "2")
        c.expect_eq("add on an existing property replaces it", doc.get("os_distro"), "fedora")
        c.expect_eq("patched name", doc.get("name"), "e2e-patched")
        c.expect_eq("patched tags", sorted(doc.get("tags", [])), ["t1", "t2"])
        c.expect_eq("patched min_ram", doc.get("min_ram"), 512)
        c.expect_eq("GET after PATCH", norm(show(srv, iid)), norm(doc))
        expect_image_doc(c, "patched image", doc, custom=["os_distro", "os_version"])
    r = patch(srv, iid, [{"op": "remove", "path": "/os_version"}])
    doc = expect_json(c, "PATCH remove a custom property", r)
    if doc:
        c.expect("os_version" not in doc, "removed property gone: %r" % doc)
    blank = create(c, srv, name="e2e-patch-null2")
    doc = expect_json(c, "PATCH add on a null core field", patch(srv, blank["id"], [{"op": "add", "path": "/disk_format", "value": "raw"}]))
    if doc:
        c.expect_eq("disk_format set by add", doc["disk_format"], "raw")
    doc = expect_json(c, "PATCH replace on a null core field", patch(srv, blank["id"], [{"op": "replace", "path": "/container_format", "value": "bare"}]))
    if doc:
        c.expect_eq("container_format set by replace", doc["container_format"], "bare")
    # The old v2.0 form.
    doc = expect_json(c, "PATCH v2.0 form (§7)", patch(srv, iid, [{"add": "/legacy", "value": "yes"}], PATCH20))
    if doc:
        c.expect_eq("v2.0 add", doc.get("legacy"), "yes")


def check_patch_errors(c, srv):
    iid = raw_image(c, srv, name="e2e-patch-err")["id"]
    before = show(srv, iid)
    r = patch(srv, iid, [{"op": "add", "path": "/x", "value": "1"}], "application/json")
    if c.expect_status("PATCH as application/json (§7)", r, 415):
        c.expect_eq("415 Accept-Patch (§7)", r.header("Accept-Patch"),
                    "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch")
        c.expect(r.text().startswith("415 Unsupported Media Type\n\nThe request media type application/json "
                                     "is not supported by this server."), "415 body: %r" % r.text())
    c.expect_error("v2.1 objects sent as v2.0 (§7)", patch(srv, iid, [{"op": "add", "path": "/x", "value": "1"}], PATCH20),
                   400, 'Operation objects must contain exactly one member named "add", "remove", or "replace".')
    c.expect_error("replace a missing property (§7)", patch(srv, iid, [{"op": "replace", "path": "/nope", "value": "1"}]),
                   409, "Property nope does not exist.", form="detail")
    c.expect_error("remove a missing property (§7)", patch(srv, iid, [{"op": "remove", "path": "/nope"}]),
                   409, "Property nope does not exist.", form="detail")
    c.expect_error("remove a core field (§7)", patch(srv, iid, [{"op": "remove", "path": "/name"}]),
                   403, "Property name may not be removed.", form="detail")
    for attr, value in (("status", "active"), ("id", str(uuid.uuid4()))):
        c.expect_error("replace read-only %s (§7)" % attr, patch(srv, iid, [{"op": "replace", "path": "/" + attr, "value": value}]),
                       403, "Attribute '%s' is read-only." % attr)
    c.expect_error("op test (§7)", patch(srv, iid, [{"op": "test", "path": "/name", "value": "x"}]), 400,
                   "Invalid operation: `test`. It must be one of the following: add, remove, replace.")
    c.expect_error("a body that is not an array (§7)", patch(srv, iid, {"op": "add", "path": "/x", "value": "1"}), 400,
                   "Request body must be a JSON array of operation objects.")
    c.expect_error("malformed JSON (§7)", patch(srv, iid, "[{"), 400, "Malformed JSON in request body.")
    for path, value in (("/disk_format", "bogus"), ("/min_disk", "big"), ("/custom", 5)):
        c.expect_status("schema violation %s=%r (§7)" % (path, value), patch(srv, iid, [{"op": "replace" if path != "/custom" else "add", "path": path, "value": value}]), 400)
    missing = str(uuid.uuid4())
    c.expect_error("PATCH an unknown image (§7)", patch(srv, missing, [{"op": "add", "path": "/x", "value": "1"}]),
                   404, "No image found with ID " + missing)
    after = show(srv, iid)
    c.expect_eq("failed PATCHes change nothing", norm(after), norm(before))
    # Protected: DELETE is refused until it is unprotected.
    doc = expect_json(c, "PATCH protected true", patch(srv, iid, [{"op": "replace", "path": "/protected", "value": True}]))
    if doc:
        c.expect_eq("protected", doc["protected"], True)
    c.expect_error("DELETE a protected image (§7, §10)", request(srv, "DELETE", "/v2/images/" + iid), 403,
                   "Image %s is protected and cannot be deleted." % iid)
    patch(srv, iid, [{"op": "replace", "path": "/protected", "value": False}])
    expect_204(c, "DELETE after unprotecting", request(srv, "DELETE", "/v2/images/" + iid))


# ---------------------------------------------------------------- §8: upload


def check_upload(c, srv):
    data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit
    for how, kwargs in (("Content-Length", {}), ("chunked", {"chunked": True}),
                        ("chunked with x-openstack-image-size", {"chunked": True, "size_header": len(data)}),
                        ("Content-Length with x-openstack-image-size", {"size_header": len(data)})):
        iid = raw_image(c, srv, name="e2e-up-" + how)["id"]
        expect_204(c, "PUT file, " + how + " (§8)", put_file(srv, iid, data, **kwargs))
        doc = show(srv, iid)
        expect_active_with(c, how, doc, data)
        r = request(srv, "GET", "/v2/images/%s/file" % iid)
        c.expect(r.body == data, "%s: download differs from upload (%d bytes back)" % (how, len(r.body)))
    # Empty upload: active, size 0, the hashes of "" and no virtual_size.
    iid = raw_image(c, srv, name="e2e-up-empty")["id"]
    expect_204(c, "PUT an empty file (§8)", put_file(srv, iid, b""))
    expect_active_with(c, "empty upload", show(srv, iid), b"")
    r = request(srv, "GET", "/v2/images/%s/file" % iid)
    c.expect_status("GET the empty image's file", r, 200)
    c.expect_eq("empty file Content-MD5", r.header("Content-MD5"), "d41d8cd98f00b204e9800998ecf8427e")
    # A second upload to an active image.
    c.expect_error("PUT to an active image (§8)", put_file(srv, iid, b"again"), 409,
                   "Image status transition from active to saving is not allowed", form="explanation")


def check_upload_errors(c, srv):
    iid = raw_image(c, srv, name="e2e-up-err")["id"]
    path = "/v2/images/%s/file" % iid
    r = request(srv, "PUT", path, b"abc", {"Content-Type": "text/plain"})
    if c.expect_status("PUT file as text/plain (§8)", r, 415):
        c.expect_eq("415 body (§2, §8)", r.text(), "415 Unsupported Media Type\n\nThe request media type text/plain "
                    "is not supported by this server. \n\n Invalid content type text/plain")
    r = request(srv, "PUT", path, b"abc")
    if c.expect_status("PUT file without Content-Type (§8)", r, 415):
        c.expect_eq("415 body without Content-Type (§2 quirk)", r.text(),
                    "415 Unsupported Media Type\n\nThe request media type ${CONTENT_TYPE} is not supported by "
                    "this server. \n\n Invalid content type None")
    c.expect_error("x-openstack-image-size: abc (§8)", put_file(srv, iid, b"abc", size_header="abc"), 400,
                   "Invalid or missing image size in request headers.")
    c.expect_eq("image still queued after refused uploads", show(srv, iid)["status"], "queued")
    # Fewer bytes than announced, then more: 400 and back to queued, after which a good upload works.
    r = put_file(srv, iid, b"hello", chunked=True, size_header=9)
    c.expect_error("5 bytes for x-openstack-image-size 9 (§8)", r, 400, "Size mismatch: expected 9 bytes, got 5 bytes")
    c.expect_eq("queued again after a short upload (§8)", show(srv, iid)["status"], "queued")
    r = put_file(srv, iid, b"hello world", chunked=True, size_header=9)
    c.expect_error("11 bytes for x-openstack-image-size 9 (§8)", r, 400, "Size exceeds: expected 9 bytes, got 11 bytes")
    doc = show(srv, iid)
    c.expect_eq("queued again after a long upload (§8)", doc["status"], "queued")
    c.expect_eq("no checksum after failed uploads", (doc["checksum"], doc["size"], doc["os_hash_value"]), (None, None, None))
    expect_204(c, "a good upload after failed ones", put_file(srv, iid, b"123456789", chunked=True, size_header=9))
    expect_active_with(c, "after failed uploads", show(srv, iid), b"123456789")
    # No formats yet.
    bare = create(c, srv, name="e2e-up-noformat")
    c.expect_error("PUT without disk/container format (§8)", put_file(srv, bare["id"], b"abc"), 400,
                   "Properties disk_format, container_format must be set prior to saving data.")
    c.expect_eq("queued after the format refusal", show(srv, bare["id"])["status"], "queued")
    missing = str(uuid.uuid4())
    c.expect_status("PUT file of an unknown image (§8)", put_file(srv, missing, b"abc"), 404)


def check_upload_states(c, srv):
    """While a body is still coming the image is `saving` (§8 [o]): its file gives 204, a
    second PUT 409; deleting it meanwhile makes the upload end in 410 (§8 step 4)."""
    iid = raw_image(c, srv, name="e2e-saving")["id"]
    first, rest = b"a" * (1 << 20), b"b" * (1 << 20)
    up = PausedUpload(srv, iid, first, size_header=len(first) + len(rest))
    try:
        saw = eventually(lambda: show(srv, iid)["status"] == "saving", timeout=10)
        c.expect(saw, "status saving while the body is still coming (§8): %r" % show(srv, iid)["status"])
        r = request(srv, "GET", "/v2/images/%s/file" % iid)
        c.expect_status("GET file while saving (§8, §9)", r, 204)
        c.expect_eq("GET file while saving: no Content-Type (§9)", r.header("Content-Type"), None)
        c.expect_error("second PUT while saving (§8)", put_file(srv, iid, b"x"), 409,
                       "Image status transition from saving to saving is not allowed", form="explanation")
        expect_204(c, "the paused upload completes", up.finish(rest))
    finally:
        up.drop()
    expect_active_with(c, "after the paused upload", show(srv, iid), first + rest)
    # Deleted while saving.
    iid = raw_image(c, srv, name="e2e-saving-deleted")["id"]
    up = PausedUpload(srv, iid, first, size_header=len(first) + len(rest))
    try:
        eventually(lambda: show(srv, iid)["status"] == "saving", timeout=10)
        expect_204(c, "DELETE while saving", request(srv, "DELETE", "/v2/images/" + iid))
        r = up.finish(rest)
        c.expect_status("upload whose image was deleted meanwhile (§8: 410 Gone)", r, 410)
    finally:
        up.drop()
    c.expect_status("GET the deleted image", request(srv, "GET", "/v2/images/" + iid), 404)


# ---------------------------------------------------------------- §9: download


def check_download(c, srv):
    iid = raw_image(c, srv, name="e2e-hello")["id"]
    r = request(srv, "GET", "/v2/images/%s/file" % iid)
    c.expect_status("GET file of a queued image (§9)", r, 204)
    c.expect_eq("no Content-Type on the 204 (§9)", r.header("Content-Type"), None)
    c.expect_eq("empty 204 body", r.body, b"")
    put_file(srv, iid, HELLO)
    path = "/v2/images/%s/file" % iid
    r = request(srv, "GET", path)
    if c.expect_status("GET file (§9)", r, 200):
        c.expect_eq("download Content-Type (§9)", r.header("Content-Type"), "application/octet-stream")
        c.expect_eq("download Content-Length (§9)", r.header("Content-Length"), "11")
        c.expect_eq("download Content-MD5 is the checksum in hex (§9)", r.header("Content-MD5"), md5(HELLO))
        c.expect_eq("download body", r.body, HELLO)
        expect_request_id(c, "GET file", r)
    for rng, content_range, body in (("bytes=0-4", "bytes 0-4/11", b"hello"), ("bytes=6-", "bytes 6-10/11", b"world"),
                                     ("bytes=-5", "bytes 6-10/11", b"world"), ("bytes=3-100", "bytes 3-10/11", b"lo world"),
                                     ("bytes=10-10", "bytes 10-10/11", b"d")):
        r = request(srv, "GET", path, headers={"Range": rng})
        if c.expect_status("Range: %s (§9)" % rng, r, 206):
            c.expect_eq("Range: %s Content-Range" % rng, r.header("Content-Range"), content_range)
            c.expect_eq("Range: %s Content-Length" % rng, r.header("Content-Length"), str(len(body)))
            c.expect_eq("Range: %s body" % rng, r.body, body)
            c.expect_eq("Range: %s Content-MD5 of the whole image (§9)" % rng, r.header("Content-MD5"), md5(HELLO))
    for rng in ("bytes=11-", "bytes=20-30"):
        c.expect_error("Range: %s (§9)" % rng, request(srv, "GET", path, headers={"Range": rng}), 416,
                       "Invalid start position in Range header. Start position MUST be in the inclusive range [0, 10].",
                       form="detail")
    c.expect_error("Range: garbage (§9)", request(srv, "GET", path, headers={"Range": "garbage"}), 416,
                   "Invalid Range header.", form="detail")
    c.expect_error("Range: bytes=0-1,3-4 (§9)", request(srv, "GET", path, headers={"Range": "bytes=0-1,3-4"}), 400,
                   "Requests with multiple ranges are not supported in Glance. You may make multiple single-range "
                   "requests instead.", form="explanation")
    r = request(srv, "GET", path, headers={"Content-Range": "bytes 0-4/11"})
    if c.expect_status("Content-Range request header (§9, backward compatibility)", r, 206):
        c.expect_eq("Content-Range request body", r.body, b"hello")
    r = request(srv, "HEAD", path)
    c.expect_status("HEAD file (§9)", r, 405)


# ---------------------------------------------------------------- §10: delete


def check_delete(c, srv):
    iid = raw_image(c, srv, name="e2e-delete")["id"]
    put_file(srv, iid, b"soon gone")
    expect_204(c, "DELETE (§10)", request(srv, "DELETE", "/v2/images/" + iid))
    c.expect_error("second DELETE (§10)", request(srv, "DELETE", "/v2/images/" + iid), 404,
                   "Failed to find image %s to delete" % iid)
    c.expect_error("GET after DELETE (§10)", request(srv, "GET", "/v2/images/" + iid), 404, "No image found with ID " + iid)
    c.expect_status("GET file after DELETE (§10)", request(srv, "GET", "/v2/images/%s/file" % iid), 404)
    c.expect_status("PUT file after DELETE (§10)", put_file(srv, iid, b"x"), 404)
    c.expect_status("PATCH after DELETE", patch(srv, iid, [{"op": "add", "path": "/x", "value": "1"}]), 404)
    r = request(srv, "GET", "/v2/images?limit=1000")
    c.expect(iid not in r.text(), "deleted image listed (§10)")
    r = request(srv, "GET", "/v2/images?limit=1000&status=deleted")
    c.expect(iid not in r.text(), "deleted image listed with status=deleted (§6: deleted images never show)")


# ---------------------------------------------------------------- beyond the spec's text
# These follow from what the spec cites (Glance's sqlalchemy list with its tie-breakers, one
# database behind all workers) and were run against Glance 33 under uWSGI as well.


def check_paging_with_ties(c, srv, page_set):
    """Paging by a key most images share (status, disk_format: all equal here) must still
    return every image once: the marker pages on (key, created_at, id) (§6 tie-breakers)."""
    grp, names = page_set["grp"], page_set["names"]
    # (Not size: Glance 33 on sqlite stops after the first page when the marker's size is null.)
    for query in ("sort_key=status", "sort=disk_format:asc", "sort=status:desc,name:asc"):
        url, got, pages = "/v2/images?grp=%s&limit=4&%s" % (grp, query), [], 0
        while url and pages < 20:
            b = expect_json(c, "GET " + url, request(srv, "GET", url))
            if not b:
                return
            got += [i["name"] for i in b["images"]]
            url, pages = b.get("next"), pages + 1
        c.expect_eq("every image once, paging by %s with ties" % query, sorted(got), sorted(names))
        c.expect_eq("no image twice, paging by " + query, len(got), len(names))


def check_tie_breakers(c, srv):
    """Glance appends created_at and id as tie-breakers (§6), in the direction of the one
    sort_dir given, else desc: `glance/db/sqlalchemy/api.py` image_get_all sets
    default_sort_dir = 'desc' and takes sort_dir[0] only when exactly one direction was given.
    Three images of one name, created in order, with ids in the same order (so a clock that
    ties them changes nothing)."""
    tag = uuid.uuid4().hex[:8]
    ids = []
    for i in (1, 2, 3):
        chosen = "%d%s" % (i, str(uuid.uuid4())[1:])
        ids.append(create(c, srv, id=chosen, name="tie-" + tag, grp=tag)["id"])
    up, down = ids, ids[::-1]
    for q, want in (("sort=name:asc", up), ("sort=name:desc", down), ("sort_key=name&sort_dir=asc", up),
                    ("sort_key=name", down), ("sort_key=name&sort_key=status&sort_dir=asc", up),
                    ("sort=name:asc,status:asc", down), ("sort=name:desc,status:asc", down),
                    ("sort_key=name&sort_key=status&sort_dir=asc&sort_dir=asc", down)):
        b = expect_json(c, q, request(srv, "GET", "/v2/images?grp=%s&%s" % (tag, q)))
        if b:
            c.expect_eq(q + " tie-breakers (created_at, id: one sort_dir's direction, else desc)",
                        [i["id"] for i in b["images"]], want)


def check_sort_by_size_with_nulls(c, srv):
    """Images without data have a null size; the database sorts NULL first ascending."""
    tag = uuid.uuid4().hex[:8]
    none = raw_image(c, srv, name="sz-none-" + tag, grp=tag)["id"]
    small = raw_image(c, srv, name="sz-small-" + tag, grp=tag)["id"]
    big = raw_image(c, srv, name="sz-big-" + tag, grp=tag)["id"]
    put_file(srv, small, b"s")
    put_file(srv, big, b"b" * 100)
    for q, want in (("sort=size:asc", [none, small, big]), ("sort=size:desc", [big, small, none])):
        b = expect_json(c, q, request(srv, "GET", "/v2/images?grp=%s&%s" % (tag, q)))
        if b:
            c.expect_eq(q + " (null sizes first ascending)", [i["id"] for i in b["images"]], want)


def check_across_workers(c, srv):
    """Every worker sees every change at once: creates from parallel clients are all listed,
    and a PATCH or DELETE is seen by each of the next fresh connections (whichever worker
    takes them)."""
    import threading
    tag = uuid.uuid4().hex[:8]
    made, lock = [], threading.Lock()

    def creator(n):
        for i in range(10):
            r = request(srv, "POST", "/v2/images", json.dumps({"name": "w%d-%d" % (n, i), "grp": tag}), JSON)
            with lock:
                made.append(r.json()["id"] if r.status == 201 else r)

    threads = [threading.Thread(target=creator, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    ids = [m for m in made if isinstance(m, str)]
    c.expect_eq("parallel creates that got 201", len(ids), 60)
    c.expect_eq("parallel creates with distinct ids", len(set(ids)), len(ids))
    for _ in range(4):
        b = request(srv, "GET", "/v2/images?limit=100&grp=" + tag).json()
        c.expect_eq("all parallel creates listed, on every try", sorted(i["id"] for i in b["images"]), sorted(ids))
    iid = ids[0]
    for n in range(12):
        r = patch(srv, iid, [{"op": "add", "path": "/seq", "value": str(n)}])
        c.expect_status("PATCH %d" % n, r, 200)
        seen = [show(srv, iid).get("seq") for _ in range(3)]
        c.expect_eq("PATCH %d seen by the next fresh connections" % n, seen, [str(n)] * 3)
    request(srv, "DELETE", "/v2/images/" + iid)
    statuses = [request(srv, "GET", "/v2/images/" + iid).status for _ in range(8)]
    c.expect_eq("a DELETE seen by every next connection", statuses, [404] * 8)


def check_client_gone_mid_upload(c, srv):
    """A client that goes away half-way: the image goes back to `queued` (§8, _restore) and
    takes a new upload."""
    iid = raw_image(c, srv, name="e2e-abandoned")["id"]
    up = PausedUpload(srv, iid, b"a" * (1 << 20), size_header=4 << 20)
    eventually(lambda: show(srv, iid)["status"] == "saving", timeout=10)
    up.drop()
    c.expect(eventually(lambda: show(srv, iid)["status"] == "queued", timeout=20),
             "status after the client went away: %r" % show(srv, iid)["status"])
    expect_204(c, "a new upload after the abandoned one", put_file(srv, iid, b"second try"))
    expect_active_with(c, "after the abandoned upload", show(srv, iid), b"second try")


def check_json_pointer_escapes(c, srv):
    """RFC 6901 in PATCH paths, as glanceclient's warlock writes them: ~1 is '/', ~0 is '~'."""
    iid = raw_image(c, srv, name="e2e-pointer")["id"]
    doc = expect_json(c, "PATCH /a~1b and /c~0d", patch(srv, iid, [{"op": "add", "path": "/a~1b", "value": "slash"},
                                                                      {"op": "add", "path": "/c~0d", "value": "tilde"}]))
    if doc:
        c.expect_eq("properties from escaped pointers", (doc.get("a/b"), doc.get("c~d")), ("slash", "tilde"))


def check_connection_after_early_reply(c, srv):
    """An error sent before the body was read (415, 409) must leave the connection usable or
    closed, never misread: the unread body is not taken for the next request."""
    import socket
    iid = raw_image(c, srv, name="e2e-early")["id"]
    put_file(srv, iid, b"abc")
    host, port = srv.hostport.rsplit(":", 1)
    body = b"GET /v2/images HTTP/1.1\r\n" * 40000  # a body that looks like requests
    for what, ctype in (("415", "text/plain"), ("409", "application/octet-stream")):
        s = socket.create_connection((host, int(port)), timeout=20)
        s.sendall(b"PUT /v2/images/%s/file HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                  % (iid.encode(), ctype.encode(), len(body)) + body
                  + b"GET /versions HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        out = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except (ConnectionResetError, socket.timeout) as e:
            c.expect(not isinstance(e, socket.timeout), "%s with an unread body: the connection hung" % what)
        finally:
            s.close()
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
        c.expect(statuses in ([what.encode()], [what.encode(), b"200"]),
                 "%s with an unread body, then GET /versions: statuses %r" % (what, statuses))


def check_unicode(c, srv):
    name = "ünïcødé ☃ image " + uuid.uuid4().hex[:6]
    doc = create(c, srv, name=name, description="naïve – “quoted” \\ back\\slash", container_format="bare")
    c.expect_eq("unicode name back", doc["name"], name)
    c.expect_eq("unicode property back", doc["description"], "naïve – “quoted” \\ back\\slash")
    from urllib.parse import quote
    b = expect_json(c, "GET ?name=<unicode>", request(srv, "GET", "/v2/images?name=" + quote(name)))
    if b:
        c.expect_eq("filter by a unicode name", [i["id"] for i in b["images"]], [doc["id"]])
    r = patch(srv, doc["id"], [{"op": "replace", "path": "/name", "value": name + " ✓"}])
    if c.expect_status("PATCH a unicode name", r, 200):
        c.expect_eq("patched unicode name", show(srv, doc["id"])["name"], name + " ✓")


WIRE_CHECKS = [
    check_versions, check_redirect_and_unrouted, check_method_not_allowed, check_request_ids,
    check_error_bodies_by_accept, check_schema, check_create, check_create_errors, check_list_errors,
    check_list_filters, check_patch, check_patch_errors, check_upload, check_upload_errors,
    check_upload_states, check_download, check_delete, check_tie_breakers, check_sort_by_size_with_nulls,
    check_across_workers, check_unicode, check_client_gone_mid_upload, check_json_pointer_escapes,
    check_connection_after_early_reply,
]
