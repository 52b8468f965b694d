"""The OpenAPI document (``/openapi.json``): FastAPI's generated one, completed in one place with what the routes
really take and answer.

FastAPI sees none of it: handlers read their bodies themselves (``_http.JsonObject``, the NDJSON commit, raw LFS
uploads) and their query parameters from ``request.query_params``, and their errors are exceptions mapped to
statuses in ``errors.to_api_error``. So it declares ``200`` and a ``422`` this app never sends (request
validation errors are answered ``400``, see ``app._error_handlers``). ``complete`` rewrites each operation from
``OPERATIONS``: the statuses it can answer (derived from what its route, the helpers it calls and the domain
raise), its request body, its undeclared query and header parameters. Operation ids and the set of operations
stay FastAPI's (pinned by ``tests/server/openapi_operations.txt``); ``tests/server/test_fuzz.py`` checks that
every operation has an entry here and fuzzes the server against the result.

Where the statuses come from (a route that calls a helper can answer what the helper raises):
- 400: ``_http.repo_id_from`` / ``revision_from`` / ``path_from`` / ``check_path``, ``limits.int_param``,
  ``paging.decode_cursor``, a body that is not JSON or not an object, any ``InvalidInput``;
- 401: ``_http.principal`` (unknown, revoked or expired token), ``Unauthorized``, and ``RepoNotFound`` asked
  anonymously; 403: ``HubService.require_write`` (via ``writable_repo``), LFS URL signatures, route checks;
- 404: ``readable_repo`` (``RepoNotFound``), ``resolve`` (``RevisionNotFound``), entries, discussions, objects;
- 409 / 412: ``Conflict`` (exists already, concurrent commits, merge conflicts) / ``StaleParent``;
- 413: a body over the route's limit (``LimitAndLogMiddleware``, ``_http.read_json``, the NDJSON parser);
- 503: the database busy or unavailable (``app._db_busy``), on every route that reads it (the token check does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

# --- reusable pieces ------------------------------------------------------------------------------------------

ERROR_SCHEMA: dict[str, Any] = {
    "title": "HubError",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What went wrong, for a person."}},
    "additionalProperties": True,
    "description": "The Hub's error body. Some answers add fields (e.g. ``url`` for an existing repo).",
}
HEADERS: dict[str, Any] = {
    "X-Error-Code": {
        "description": "The Hub's error code (RepoNotFound, RevisionNotFound, EntryNotFound, InvalidCredentials,"
        " ParentCommitMismatch...): clients map it to an exception type. Absent on a few generic answers.",
        "schema": {"type": "string"},
    },
    "X-Error-Message": {
        "description": "The error message (ASCII, at most 500 characters); for an expired token, exactly"
        " 'Invalid credentials in Authorization header' (the body explains).",
        "required": True,
        "schema": {"type": "string"},
    },
}
_ERROR_HEADERS = {name: {"$ref": f"#/components/headers/{name}"} for name in HEADERS}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/HubError"}}}


def _error(description: str, **headers: Any) -> dict[str, Any]:
    return {"description": description, "headers": {**_ERROR_HEADERS, **headers}, "content": _ERROR_CONTENT}


ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    400: _error(
        "Invalid input: a malformed repo id, revision, path, query parameter or body. Requests that do not match"
        " the declared parameters are answered 400 too, never 422."
    ),
    401: _error(
        "Authentication needed or refused: no token where one is required, an unknown, revoked or expired token"
        " (``InvalidCredentials``), or a missing or private repo asked anonymously (``RepoNotFound``)."
    ),
    403: _error(
        "The token may not do this: a read token writing, a namespace the caller does not belong to, a bad or"
        " expired LFS URL signature."
    ),
    404: _error(
        "Not found: the repo (or one the caller may not see), revision, file, discussion or object.",
        **{
            "X-Repo-Commit": {
                "description": "For a missing file: the commit looked in.",
                "schema": {"type": "string"},
            }
        },
    ),
    409: _error("Conflict: it exists already, or concurrent changes (retry), or a merge conflict."),
    412: _error(
        "``parentCommit`` is no longer the head of the branch (``ParentCommitMismatch``): fetch it and retry."
    ),
    413: _error(
        "The request body (or a part of it: a line, an inline file, an object) exceeds the server's limit."
    ),
    422: _error("The object exists with another size than the one given."),
    503: _error(
        "The hub's database is busy or unavailable; retry in a moment.",
        **{"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
    ),
}

_STR: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_REPO_TYPE: dict[str, Any] = {"type": "string", "enum": ["model", "dataset", "space"], "default": "model"}
_BYTES: dict[str, Any] = {"type": "string", "format": "binary"}


def _obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def _json_body(schema: dict[str, Any], required: bool = False, **more: Any) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}, **more}}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_FLAG = {"type": "boolean"}  # the server reads true / 1 / True as set, anything else as unset
_LIMIT = _query(
    "limit", {"type": "integer", "minimum": 0, "maximum": 10**9}, "Page size (capped by the server)."
)
_CURSOR = _query("cursor", _STR, "Opaque: the next page's URL comes in the ``Link`` header.")
_RANGE = {
    "name": "Range",
    "in": "header",
    "required": False,
    "schema": _STR,
    "description": "Byte range(s), e.g. ``bytes=0-99``.",
}
_BLOB_HEADERS = {
    "ETag": {
        "required": True,
        "schema": _STR,
        "description": "The git blob id, or the SHA-256 of an LFS file.",
    },
    "X-Repo-Commit": {
        "required": True,
        "schema": _STR,
        "description": "The commit the revision resolved to.",
    },
    "X-Linked-Etag": {"schema": _STR, "description": "LFS files: the SHA-256."},
    "X-Linked-Size": {"schema": _STR, "description": "LFS files: the size in bytes."},
}
_BLOB_200 = {"description": "The file's bytes.", "content": {"application/octet-stream": {}}}
_PARTIAL_206 = {
    "description": "The requested range(s).",
    "content": {"application/octet-stream": {}, "multipart/byteranges": {}},
}
_RANGE_416 = {
    "description": "The range is outside the file.",
    "headers": {"Content-Range": {"required": True, "schema": _STR, "description": "``bytes */SIZE``"}},
    "content": {"text/plain": {}},
}
# A malformed Range header is refused by the file response itself, as text; other 400s are the Hub's.
_RANGE_400 = {
    "description": ERROR_RESPONSES[400]["description"] + " A malformed ``Range`` header: plain text.",
    "headers": {name: {**spec, "required": False} for name, spec in HEADERS.items()},
    "content": {**_ERROR_CONTENT, "text/plain": {}},
}
_EMPTY_200 = {"description": "Accepted (no body)."}
# A remote blob store (S3) answers a large file, or a range, with a redirect to a short-lived presigned URL: its
# bytes never pass through the hub (the Hub does the same with its CDN).
_LOCATION = {"Location": {"required": True, "schema": _STR, "description": "A presigned GET URL."}}
_REDIRECT_302 = {
    "description": "The bytes are at ``Location``, a short-lived URL of the blob store (S3 deployments).",
    "headers": _LOCATION,
}

_NDJSON_LINE = _obj(
    ("key", "value"),
    key={"type": "string", "enum": ["header", "file", "lfsFile", "deletedFile", "deletedFolder", "copyFile"]},
    value=_obj(
        summary=_STR,
        description=_STR,
        parentCommit=_STR,
        path=_STR,
        content=_STR,
        encoding={"type": "string", "enum": ["base64", "utf-8"]},
        oid=_STR,
        algo=_STR,
        size=_COUNT,
        srcPath=_STR,
        srcRevision=_STR,
    ),
)
_PATHS_INFO = _obj(paths={"type": "array", "items": _STR, "maxItems": 10_000}, expand=_BOOL)


@dataclass(frozen=True)
class Op:
    """What one operation answers (its statuses; ``responses`` replaces the standard object of a status) and
    takes besides what FastAPI declares (``body``: the requestBody object, ``params``: more parameters)."""

    statuses: tuple[int, ...]
    body: dict[str, Any] | None = None
    params: tuple[dict[str, Any], ...] = ()
    responses: dict[int, dict[str, Any]] = field(default_factory=dict)


# a repo read: id / revision / path checks, the token, readable_repo, resolve, the database
_READ = (200, 400, 401, 404, 503)
_WRITE = (*_READ, 403)  # + writable_repo / require_write
_BODY = (400, 413)  # a JSON (or other) body: not JSON / not an object / missing fields; over the limit
_REPO = "/api/{plural}/{namespace}/{name}"
_RESOLVE = "/{namespace}/{name}/resolve/{revision}/{path}"
_RESOLVE_TYPED = "/{prefix}/{namespace}/{name}/resolve/{revision}/{path}"
_LFS = "/{namespace}/{name}.git/info/lfs/objects"
_LFS_TYPED = "/{prefix}/{namespace}/{name}.git/info/lfs/objects"

_LFS_BATCH = Op(
    (*_WRITE, *_BODY),
    body={
        "required": True,
        "content": {
            "application/vnd.git-lfs+json": {
                "schema": _obj(
                    ("operation", "objects"),
                    operation={"type": "string", "enum": ["upload", "download"]},
                    objects={
                        "type": "array",
                        "maxItems": 10_000,
                        "items": _obj(
                            ("oid", "size"), oid={"type": "string", "pattern": "^[0-9a-f]{64}$"}, size=_COUNT
                        ),
                    },
                    transfers={"type": "array", "items": _STR},
                    hash_algo=_STR,
                )
            }
        },
    },
)
_LFS_VERIFY = Op(
    (*_WRITE, *_BODY, 422),
    body={
        "required": True,
        "content": {"application/vnd.git-lfs+json": {"schema": _obj(("oid",), oid=_STR, size=_COUNT)}},
    },
)
_RESOLVE_GET = Op(
    (*_READ, 403, 206, 302, 416),  # 403 (401 anonymous): a gated repo, X-Error-Code GatedRepo
    params=(_RANGE,),
    responses={
        200: {**_BLOB_200, "headers": _BLOB_HEADERS},
        206: {**_PARTIAL_206, "headers": _BLOB_HEADERS},
        302: {**_REDIRECT_302, "headers": {**_BLOB_HEADERS, **_LOCATION}},
        400: _RANGE_400,
        416: _RANGE_416,
    },
)
_RESOLVE_HEAD = Op(
    (*_READ, 403),
    responses={200: {**_BLOB_200, "description": "The file's headers.", "headers": _BLOB_HEADERS}},
)
# a CAS token for the repo (JSON + X-Xet-* headers); the write token also needs write access (403)
_XET = Op((*_READ, 403), params=(_query("create_pr", _FLAG),))
_TREE = Op(
    _READ,
    params=(
        _query("recursive", _FLAG),
        _query("expand", _FLAG, "Add ``lastCommit`` (pages of at most 100)."),
        _CURSOR,
    ),
)
_REPO_INFO = Op(_READ, params=(_query("blobs", _FLAG, "Add sizes and LFS info to ``siblings``."),))

OPERATIONS: dict[str, Op] = {
    # misc
    "GET /api/health": Op((200,)),
    "GET /api/agent-harnesses": Op((200,)),
    "HEAD /api/telemetry/{rest}": Op((200,), responses={200: _EMPTY_200}),
    "POST /api/telemetry/{rest}": Op((200,), responses={200: _EMPTY_200}),
    # accounts
    "GET /api/whoami-v2": Op((200, 401, 503)),
    # repos
    "GET /api/{plural}": Op(
        (200, 400, 401, 404, 503),  # 404: a plural other than models / datasets / spaces (no such route)
        params=(
            _query("author", _STR, "Namespace."),
            _query("search", _STR, "Substring of the repo id (case-insensitive)."),
            _query(
                "filter", {"type": "array", "items": _STR}, "Tags (or library name) that must all be present."
            ),
            _query("pipeline_tag", _STR, "The task (pipeline tag) the repo's metadata names."),
            _query("sort", _STR, "lastModified (default), createdAt, id, downloads or likes."),
            _query("direction", _STR, "``1`` or ``asc`` for ascending."),
            _LIMIT,
            _CURSOR,
        ),
    ),
    "POST /api/repos/create": Op(
        (200, 401, 403, 409, 503, *_BODY),
        body=_json_body(
            _obj(
                ("name",),
                name=_STR,
                organization=_STR,
                type=_REPO_TYPE,
                private=_BOOL,
                visibility={"type": "string", "enum": ["public", "private", "protected"]},
            ),
            required=True,
        ),
        responses={
            409: {
                "description": "The repo exists already: ``url`` is its address (``exist_ok`` relies on it).",
                "content": {"application/json": {"schema": _obj(("error", "url"), error=_STR, url=_STR)}},
            }
        },
    ),
    "DELETE /api/repos/delete": Op(
        (*_WRITE, *_BODY),
        body=_json_body(_obj(("name",), name=_STR, organization=_STR, type=_REPO_TYPE), required=True),
    ),
    "POST /api/repos/move": Op(
        (*_WRITE, *_BODY, 409),
        body=_json_body(
            _obj(("fromRepo", "toRepo"), fromRepo=_STR, toRepo=_STR, type=_REPO_TYPE), required=True
        ),
    ),
    f"PUT {_REPO}/settings": Op(
        (*_WRITE, *_BODY),
        body=_json_body(
            _obj(
                private=_BOOL,
                visibility={"type": "string", "enum": ["public", "private", "protected"]},
                gated={"enum": [False, "auto", "manual"]},
            )
        ),
    ),
    f"GET {_REPO}": _REPO_INFO,
    f"GET {_REPO}/revision/{{revision}}": _REPO_INFO,
    f"GET {_REPO}/auth-check": Op((*_READ, 403)),  # 403 GatedRepo
    # refs
    f"GET {_REPO}/refs": Op(_READ, params=(_query("include_prs", _FLAG, "Add ``pullRequests``."),)),
    f"GET {_REPO}/commits/{{revision}}": Op(
        _READ,
        params=(_LIMIT, _CURSOR, _query("expand", {"type": "array", "items": _STR}, "``formatted``")),
    ),
    f"POST {_REPO}/branch/{{branch}}": Op((*_WRITE, *_BODY, 409), body=_json_body(_obj(startingPoint=_STR))),
    f"DELETE {_REPO}/branch/{{branch}}": Op(_WRITE),
    f"POST {_REPO}/tag/{{revision}}": Op(
        (*_WRITE, *_BODY, 409), body=_json_body(_obj(("tag",), tag=_STR, message=_STR), required=True)
    ),
    f"DELETE {_REPO}/tag/{{tag}}": Op(_WRITE),
    # files
    f"GET {_REPO}/tree/{{revision}}": _TREE,
    f"GET {_REPO}/tree/{{revision}}/{{path}}": _TREE,
    f"POST {_REPO}/paths-info/{{revision}}": Op(
        (*_READ, *_BODY),
        body=_json_body(
            _PATHS_INFO, required=False, **{"application/x-www-form-urlencoded": {"schema": _PATHS_INFO}}
        ),
    ),
    f"GET {_REPO}/xet-read-token/{{revision}}": _XET,
    f"GET {_REPO}/xet-write-token/{{revision}}": _XET,
    "POST /api/validate-yaml": Op(
        (200, *_BODY),
        body=_json_body(_obj(("content",), content=_STR), required=True),
        responses={
            400: {
                "description": "The front matter is invalid (``errors``), or the body is (the Hub's error).",
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/HubError"},
                                _obj(("errors",), errors={"type": "array", "items": _obj(message=_STR)}),
                            ]
                        }
                    }
                },
            }
        },
    ),
    f"GET {_RESOLVE}": _RESOLVE_GET,
    f"HEAD {_RESOLVE}": _RESOLVE_HEAD,
    f"GET {_RESOLVE_TYPED}": _RESOLVE_GET,
    f"HEAD {_RESOLVE_TYPED}": _RESOLVE_HEAD,
    # upload
    f"POST {_REPO}/preupload/{{revision}}": Op(
        (*_WRITE, *_BODY),
        body=_json_body(
            _obj(
                ("files",),
                files={
                    "type": "array",
                    "maxItems": 10_000,
                    "items": _obj(("path", "size"), path=_STR, sample=_STR, size=_COUNT),
                },
                gitIgnore=_STR,
            ),
            required=True,
        ),
    ),
    f"POST {_REPO}/commit/{{revision}}": Op(
        (*_WRITE, *_BODY, 409, 412),
        params=(_query("create_pr", _FLAG, "Commit to a new pull request instead."),),
        body={
            "required": True,
            "description": "NDJSON: one JSON object per line, a ``header`` line then the operations (the schema"
            " describes the lines as an array).",
            "content": {"application/x-ndjson": {"schema": {"type": "array", "items": _NDJSON_LINE}}},
        },
    ),
    # lfs
    f"POST {_LFS}/batch": _LFS_BATCH,
    f"POST {_LFS_TYPED}/batch": _LFS_BATCH,
    f"POST {_LFS}/verify": _LFS_VERIFY,
    f"POST {_LFS_TYPED}/verify": _LFS_VERIFY,
    "PUT /lfs-upload/{oid}": Op(
        (200, 400, 403, 413, 503),  # no token: the signed URL is the permission
        params=tuple(
            _query(n, _STR, "From the batch API's signed URL.") for n in ("size", "exp", "repo", "sig")
        ),
        body={"required": True, "content": {"application/octet-stream": {"schema": _BYTES}}},
        responses={200: _EMPTY_200},
    ),
    "GET /lfs-objects/{oid}": Op(
        (200, 206, 302, 400, 403, 416),
        params=(
            *(_query(n, _STR, "From the batch API's signed URL.") for n in ("size", "exp", "sig")),
            _RANGE,
        ),
        responses={200: _BLOB_200, 206: _PARTIAL_206, 302: _REDIRECT_302, 400: _RANGE_400, 416: _RANGE_416},
    ),
    # discussions
    f"GET {_REPO}/discussions": Op(
        _READ,
        params=(
            _query("p", _COUNT, "Page number (50 per page)."),
            _query("type", {"type": "string", "enum": ["all", "discussion", "pull_request"]}),
            _query("status", {"type": "string", "enum": ["all", "open", "closed"]}),
            _query("author", _STR),
        ),
    ),
    f"POST {_REPO}/discussions": Op(
        (*_WRITE, *_BODY),
        body=_json_body(_obj(("title",), title=_STR, description=_STR, pullRequest=_BOOL), required=True),
    ),
    f"GET {_REPO}/discussions/{{num}}": Op(_READ, params=(_query("diff", _FLAG, "PRs: add the diff."),)),
    f"POST {_REPO}/discussions/{{num}}/comment": Op(
        (*_WRITE, *_BODY), body=_json_body(_obj(("comment",), comment=_STR), required=True)
    ),
    f"POST {_REPO}/discussions/{{num}}/title": Op(
        (*_WRITE, *_BODY), body=_json_body(_obj(("title",), title=_STR), required=True)
    ),
    f"POST {_REPO}/discussions/{{num}}/comment/{{comment_id}}/edit": Op(
        (*_WRITE, *_BODY), body=_json_body(_obj(("content",), content=_STR), required=True)
    ),
    f"POST {_REPO}/discussions/{{num}}/comment/{{comment_id}}/hide": Op(_WRITE),
    # gated repos
    f"POST {_REPO}/ask-access": Op(
        (*_READ, *_BODY), body=_json_body(_obj(fields={"type": "object", "additionalProperties": _STR}))
    ),
    f"GET {_REPO}/user-access-request/pending": Op(_WRITE),
    f"GET {_REPO}/user-access-request/accepted": Op(_WRITE),
    f"GET {_REPO}/user-access-request/rejected": Op(_WRITE),
    f"POST {_REPO}/user-access-request/handle": Op(
        (*_WRITE, *_BODY),
        body=_json_body(
            _obj(
                ("status",),
                status={"type": "string", "enum": ["pending", "accepted", "rejected"]},
                user=_STR,
                requestId=_STR,
                rejectionReason=_STR,
            ),
            required=True,
        ),
    ),
    f"POST {_REPO}/user-access-request/grant": Op(
        (*_WRITE, *_BODY), body=_json_body(_obj(("user",), user=_STR), required=True)
    ),
    # likes, accounts
    f"POST {_REPO}/like": Op(_WRITE),
    f"DELETE {_REPO}/like": Op(_WRITE),
    f"GET {_REPO}/likers": Op(_READ),
    "GET /api/users/{user}/likes": Op((200, 401, 404, 503)),
    "GET /api/users/{user}/overview": Op((200, 401, 404, 503)),
    "GET /api/organizations/{org}/overview": Op((200, 401, 404, 503)),
    "GET /api/organizations/{org}/members": Op((200, 401, 404, 503)),
    "PUT /api/organizations/{org}/members/{user}": Op(
        (200, 401, 403, 404, 503, *_BODY),
        body=_json_body(
            _obj(("role",), role={"type": "string", "enum": ["read", "contributor", "write", "admin"]}),
            required=True,
        ),
    ),
    "DELETE /api/organizations/{org}/members/{user}": Op((200, 400, 401, 403, 404, 503)),
    # repo copies and history
    f"POST {_REPO}/duplicate": Op(
        (*_WRITE, *_BODY, 409),
        body=_json_body(
            _obj(
                ("repository",),
                repository=_STR,
                private=_BOOL,
                visibility={"type": "string", "enum": ["public", "private", "protected"]},
            ),
            required=True,
        ),
    ),
    f"POST {_REPO}/super-squash/{{branch}}": Op((*_WRITE, *_BODY, 409), body=_json_body(_obj(message=_STR))),
    f"POST {_REPO}/discussions/{{num}}/status": Op(
        (*_WRITE, *_BODY),
        body=_json_body(
            _obj(("status",), status={"type": "string", "enum": ["open", "closed"]}, comment=_STR),
            required=True,
        ),
    ),
    f"POST {_REPO}/discussions/{{num}}/merge": Op(
        (*_WRITE, *_BODY, 409), body=_json_body(_obj(comment=_STR))
    ),
}

# Path parameters routed by a convertor (``_http._PluralConvertor`` / ``_PrefixConvertor``): only these values.
_PATH_ENUMS = {"plural": ["models", "datasets", "spaces"], "prefix": ["datasets", "spaces"]}


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's document in place from ``OPERATIONS`` (see the module docstring) and return it."""
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {})["HubError"] = ERROR_SCHEMA
    components["headers"] = HEADERS
    components["responses"] = {str(status): response for status, response in ERROR_RESPONSES.items()}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            op = OPERATIONS.get(f"{method.upper()} {path}")
            if op is None:  # a new route without an entry: tests/server/test_fuzz.py fails on it
                continue
            _complete_operation(operation, op)
    schemas = components["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return spec


def _complete_operation(operation: dict[str, Any], op: Op) -> None:
    params = operation.setdefault("parameters", [])
    for param in params:
        if param.get("in") == "path" and param["name"] in _PATH_ENUMS:
            param["schema"] = {
                **param.get("schema", {}),
                "type": "string",
                "enum": _PATH_ENUMS[param["name"]],
            }
    known = {(p["in"], p["name"]) for p in params}
    params.extend(p for p in op.params if (p["in"], p["name"]) not in known)
    if not params:
        del operation["parameters"]
    if op.body is not None:
        operation["requestBody"] = op.body
    generated = operation.get("responses", {})
    responses: dict[str, Any] = {}
    for status in sorted(set(op.statuses)):
        if status in op.responses:
            responses[str(status)] = op.responses[status]
        elif status == 200 and "200" in generated:
            responses["200"] = generated["200"]
        elif status in ERROR_RESPONSES:
            responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
        else:
            responses[str(status)] = {"description": "Success."}
    operation["responses"] = responses


def install(app: FastAPI) -> None:
    """Serve the completed document at ``app.openapi_url`` (and to ``/docs``); built once, on first use."""
    generate = app.openapi  # FastAPI's: builds the document once and keeps it in app.openapi_schema
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not done:
            done.append(complete(generate()))
        return done[0]

    app.openapi = openapi  # type: ignore[method-assign]
