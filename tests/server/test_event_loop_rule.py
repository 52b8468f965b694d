"""The rule that keeps blocking work off the event loop, checked on the source (docs/architecture.md).

In the HTTP rooms of the server (``api``, ``web``, ``xet``) an ``async def`` function may await and move bytes,
but may not itself call into the domain or storage layers (database sessions, blob stores, the hub service) or
look up the caller (``principal`` queries the database): such work belongs in a plain ``def`` handler (FastAPI
runs it on the thread pool) or is handed to ``_http.run`` / a thread explicitly. Passing a function to
``run`` is fine; calling it on the loop is not.
"""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "src" / "modelhub" / "server"
ROOMS = ("api", "web", "xet")
LAYERS = ("domain", "storage")
# calls that touch the database or the disk whatever they are reached through
BLOCKING_ATTRS = {
    "sessions",
    "principal",
    "writer",
    "commit",
    "open",
    "put_bytes",
    "exists",
    "size",
    "delete",
}


def _imported_from_layers(tree: ast.Module) -> set[str]:
    """Names bound by imports of ``..domain`` / ``..storage`` (modules or their members)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 2:
            mod = (node.module or "").split(".")[0]
            if mod in LAYERS:
                names.update(a.asname or a.name for a in node.names)
    return names


def _root(expr: ast.expr) -> ast.expr:
    while isinstance(expr, (ast.Attribute, ast.Call, ast.Subscript)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr


def _own_nodes(fn: ast.AsyncFunctionDef):
    """The nodes of ``fn``'s body, without those of functions defined inside it."""
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def violations_in(source: str, filename: str = "<src>") -> list[str]:
    tree = ast.parse(source, filename)
    layer_names = _imported_from_layers(tree)
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.AsyncFunctionDef):
            continue
        # variables that hold the hub service (``service = h.hub(request)``)
        services = {
            t.id
            for node in _own_nodes(fn)
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "hub"
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        for node in _own_nodes(fn):
            if not isinstance(node, ast.Call):
                continue
            root = _root(node.func)
            name = root.id if isinstance(root, ast.Name) else None
            attr = node.func.attr if isinstance(node.func, ast.Attribute) else None
            bad = (
                (name in layer_names and "imported from the domain/storage layer")
                or (name in services and attr is not None and "a method of the hub service")
                or (
                    attr in BLOCKING_ATTRS and name in ("h", "service", "hub", "db", "blobs") and f".{attr}()"
                )
            )
            if bad:
                found.append(
                    f"{filename}:{node.lineno} in async def {fn.name}: calls {ast.unparse(node.func)} ({bad})"
                )
    return found


def test_async_handlers_do_not_call_the_domain_or_storage_on_the_loop() -> None:
    problems: list[str] = []
    for room in ROOMS:
        for path in sorted((SERVER / room).rglob("*.py")):
            problems += violations_in(path.read_text(), str(path.relative_to(SERVER)))
    assert not problems, "blocking work on the event loop:\n" + "\n".join(problems)


def test_the_rule_catches_what_it_should() -> None:
    bad = """
from ..domain import objects
from . import _http as h

async def handler(request):
    service = h.hub(request)
    p = h.principal(request)
    with service.sessions() as db:
        objects.provable(db, p, 1, "x")
"""
    found = violations_in(bad)
    assert len(found) == 3, found
    good = """
from ..domain import objects
from . import _http as h

async def handler(request):
    body = await h.read_json_object(request)
    service = h.hub(request)
    return await h.run(_work, request, body, service.blobs.writer)

def _work(request, body, make):
    with h.hub(request).sessions() as db:
        return objects.provable(db, None, 1, "x")
"""
    assert violations_in(good) == []
