"""Counts the lines of the Glance code examples/glance_api translates, and of the port.

Python: the named classes and functions only (what the port translates, from the spec's
section 14), by their line ranges in the AST; a line counts when it is neither blank, nor a
comment, nor part of a docstring. Rust: each module without its #[cfg(test)] tests, a line
counting when it is neither blank nor a // comment (doc comments included).

Usage: python3 count_lines.py GLANCE_SRC GLANCE_STORE_SRC, two directories holding the
files of Glance 33 (master of 2026-07) and glance_store as checked out.
"""
import ast
import io
import os
import sys
import tokenize

GLANCE, STORE = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))

# Rust module: [(python file, [qualified names, or connect paths for the router])]
PARTS = {
    "images.rs": [
        ("glance/api/v2/images.py", [
            "ImagesController.__init__", "ImagesController.create", "ImagesController.index",
            "ImagesController.show", "ImagesController.update", "ImagesController._do_replace",
            "ImagesController._do_add", "ImagesController._do_remove", "ImagesController.delete",
            "RequestDeserializer._disallowed_properties", "RequestDeserializer._readonly_properties",
            "RequestDeserializer._reserved_properties", "RequestDeserializer._reserved_namespaces",
            "RequestDeserializer._base_properties", "RequestDeserializer._available_sort_keys",
            "RequestDeserializer._default_sort_key", "RequestDeserializer._default_sort_dir",
            "RequestDeserializer._path_depth_limits", "RequestDeserializer._supported_operations",
            "RequestDeserializer.__init__", "RequestDeserializer._get_request_body",
            "RequestDeserializer._check_allowed", "RequestDeserializer.create",
            "RequestDeserializer._get_change_operation_d10", "RequestDeserializer._get_change_operation_d4",
            "RequestDeserializer._get_change_path_d10", "RequestDeserializer._get_change_path_d4",
            "RequestDeserializer._decode_json_pointer", "RequestDeserializer._validate_json_pointer",
            "RequestDeserializer._get_change_value", "RequestDeserializer._validate_change",
            "RequestDeserializer._validate_path", "RequestDeserializer._parse_json_schema_change",
            "RequestDeserializer.update", "RequestDeserializer._validate_limit",
            "RequestDeserializer._validate_sort_key", "RequestDeserializer._validate_sort_dir",
            "RequestDeserializer._validate_member_status", "RequestDeserializer._get_filters",
            "RequestDeserializer._get_sorting_params", "RequestDeserializer.index",
            "ResponseSerializer._hidden_properties", "ResponseSerializer.__init__",
            "ResponseSerializer._get_image_href", "ResponseSerializer._format_image",
            "ResponseSerializer.create", "ResponseSerializer.show", "ResponseSerializer.update",
            "ResponseSerializer.index", "ResponseSerializer.delete", "create_resource",
        ]),
    ],
    "image_data.rs": [
        ("glance/api/v2/image_data.py", [
            "ImageDataController.__init__", "ImageDataController._restore", "ImageDataController.upload",
            "ImageDataController.download", "RequestDeserializer._get_image_size",
            "RequestDeserializer.upload", "RequestDeserializer.download", "ResponseSerializer.download",
            "ResponseSerializer.upload", "create_resource",
        ]),
    ],
    "image_tags.rs": [
        ("glance/api/v2/image_tags.py", ["Controller", "ResponseSerializer", "RequestDeserializer", "create_resource"]),
    ],
    "router.rs": [
        ("glance/api/v2/router.py", ["connect:/schemas/image", "connect:/schemas/images", "connect:/images",
                                     "connect:/images/{image_id}", "connect:/images/{image_id}/file",
                                     "connect:/images/{image_id}/tags/{tag_value}"]),
    ],
    "schemas.rs (+ schema-image.json)": [
        ("glance/api/v2/schemas.py", ["Controller.image", "Controller.images", "create_resource"]),
        ("glance/schema.py", ["Schema.__init__", "Schema.validate", "Schema.raw", "PermissiveSchema.raw",
                              "CollectionSchema.__init__", "CollectionSchema.raw"]),
        ("glance/api/v2/images.py", ["get_base_properties", "_get_base_links", "get_schema",
                                     "get_collection_schema"]),
    ],
    "versions.rs": [
        ("glance/api/versions.py", ["Controller"]),
        ("glance/api/middleware/version_negotiation.py", ["VersionNegotiationFilter"]),
    ],
    "context.rs": [
        ("glance/api/middleware/context.py", ["BaseContextMiddleware", "UnauthenticatedContextMiddleware"]),
    ],
    "wsgi.rs": [
        ("glance/common/wsgi.py", ["Request.get_content_type", "Request.get_range_from_request",
                                   "JSONRequestDeserializer", "JSONResponseSerializer"]),
    ],
    "domain.rs": [
        ("glance/domain/__init__.py", ["ImageFactory", "Image"]),
        ("glance/common/exception.py", [
            "GlanceException", "NotFound", "Duplicate", "Conflict", "Forbidden", "Invalid",
            "ProtectedImageDelete", "InvalidSortKey", "InvalidSortDir", "InvalidFilterOperatorValue",
            "InvalidFilterRangeValue", "ReadonlyProperty", "ReservedProperty", "InvalidContentType",
            "InvalidObject", "ImageSizeLimitExceeded", "ImageNotFound", "InvalidParameterValue",
            "InvalidImageStatusTransition", "UploadException"]),
    ],
    "location.rs": [
        ("glance/location.py", ["ImageProxy._upload_to_store", "ImageProxy._verify_uploaded_data",
                                "ImageProxy.set_data"]),
    ],
    "db.rs": [
        ("glance/db/__init__.py", ["ImageRepo"]),
        ("glance/db/sqlalchemy/api.py", [
            "image_create", "image_update", "image_destroy", "image_get", "_image_get", "_paginate_query",
            "_make_conditions_from_filters", "_make_image_property_condition", "_select_images_query",
            "image_get_all", "_image_get_all", "_validate_image", "_image_update"]),
        ("glance/common/utils.py", ["split_filter_op", "validate_quotes", "split_filter_value_for_quotes",
                                    "evaluate_filter_op"]),
    ],
    "store.rs": [
        ("glance_store/_drivers/filesystem.py", ["ChunkedFile", "Store.get", "Store.delete", "Store.add",
                                                 "Store._delete_partial"]),
        ("glance_store/common/utils.py", ["chunkreadable", "chunkiter", "get_hasher"]),
        ("glance/common/utils.py", ["LimitingReader", "CooperativeReader"]),
    ],
    "main.rs": [
        ("glance/gateway.py", ["Gateway.__init__", "Gateway.get_image_factory", "Gateway.get_repo"]),
    ],
}


def code_lines(source):
    """Line numbers that hold code: not blank, not comments, not docstrings."""
    lines = set()
    docstrings = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        for n in range(tok.start[0], tok.end[0] + 1):
            lines.add(n)
    return lines - docstrings


def ranges(tree, names):
    out = []
    wanted = set(names)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            if node.name in wanted:
                out.append((node.lineno - len(node.decorator_list), node.end_lineno))
                continue
            for sub in node.body:
                name = getattr(sub, "name", None)
                if name is None and isinstance(sub, ast.Assign):
                    name = getattr(sub.targets[0], "id", None)
                if name and f"{node.name}.{name}" in wanted:
                    start = min([sub.lineno] + [d.lineno for d in getattr(sub, "decorator_list", [])])
                    out.append((start, sub.end_lineno))
        elif isinstance(node, (ast.FunctionDef, ast.Assign)) and getattr(node, "name", None) in wanted:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out.append((start, node.end_lineno))
    paths = {n[len("connect:"):] for n in names if n.startswith("connect:")}
    if paths:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "connect" \
                    and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in paths:
                out.append((node.lineno, node.end_lineno))
    return out


def python_count(path, names):
    root = STORE if path.startswith("glance_store") else GLANCE
    source = open(os.path.join(root, path)).read()
    tree = ast.parse(source)
    code = code_lines(source)
    found = ranges(tree, names)
    plain = [n for n in names if not n.startswith("connect:")]
    missing = [n for n in plain if not ranges(tree, [n])]
    if missing:
        sys.exit(f"{path}: not found: {missing}")
    covered = set()
    for a, b in found:
        covered.update(range(a, b + 1))
    return len(code & covered)


def rust_count(module):
    text = open(os.path.join(HERE, module.split(" ")[0])).read()
    if "#[cfg(test)]\nmod tests {" in text:
        text = text[:text.index("#[cfg(test)]\nmod tests {")]
    n = 0
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("//"):
            n += 1
    return n


total_py = total_rs = 0
print("| Rust module | Python translated (file: parts) | Python lines | Rust lines | Rust/Python |")
print("|---|---|---:|---:|---:|")
for module, parts in PARTS.items():
    py = sum(python_count(path, names) for path, names in parts)
    rs = rust_count(module)
    total_py += py
    total_rs += rs
    files = "; ".join(path for path, _ in parts)
    print(f"| `{module}` | {files} | {py} | {rs} | {rs / py:.2f} |")
rs = rust_count("timeutils.rs")
total_rs += rs
print(f"| `timeutils.rs` | (oslo_utils.timeutils, uuid: libraries) | 0 | {rs} | - |")
print(f"| **total** | | **{total_py}** | **{total_rs}** | **{total_rs / total_py:.2f}** |")
