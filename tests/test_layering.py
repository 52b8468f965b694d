"""The package's layering, checked on the source: who may import whom (docs/architecture.md).

- every ``modelhub.client.*`` module imports on its own, in a fresh interpreter, and pulls in no framework, no
  server and no mixin;
- every import under ``src/modelhub`` (top level, inside functions, under ``TYPE_CHECKING``, and the lazy
  ``_EXPORTS`` tables of the front doors) obeys :data:`RULES`;
- the imports among the client's modules form no cycle.

The import statements are read with ``ast``, so an import that only runs on some code path counts as much as one
at the top of the file.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "modelhub"

FRAMEWORKS = (
    "torch",
    "keras",
    "tf_keras",
    "tensorflow",
    "fastai",
    "fastcore",
    "jax",
    "flax",
    "safetensors.torch",
)


@dataclass(frozen=True)
class Rule:
    importer: str  # a module or package: the rule applies to it and everything below it
    forbidden: tuple[str, ...]  # modules or packages it must not import (nor anything below them)
    why: str


RULES = (
    Rule(
        "modelhub.mixins",
        ("modelhub.server",),
        "the mixins talk to a hub through modelhub.client only, never to the server's code",
    ),
    Rule("modelhub.cards", ("modelhub.server",), "model cards talk to a hub through modelhub.client only"),
    Rule(
        "modelhub.serialization", ("modelhub.server",), "serialization is local file I/O, it has no hub side"
    ),
    Rule(
        "modelhub.client",
        ("modelhub.mixins", "modelhub.cards", "modelhub.serialization", "modelhub.server", *FRAMEWORKS),
        "the client is the framework-free bottom layer: mixins, cards and serialization build on it, not the "
        "other way round, and it talks to the server over HTTP only",
    ),
    Rule(
        "modelhub.server",
        ("modelhub.mixins", "modelhub.client"),
        "the server shares only modelhub._common, modelhub.errors, modelhub.constants and modelhub._version "
        "with the rest of the package",
    ),
    Rule(
        "modelhub", ("huggingface_hub",), "huggingface_hub is a test oracle, never a dependency of modelhub"
    ),
    Rule(
        "modelhub.server.domain",
        (
            "modelhub.server.api",
            "modelhub.server.web",
            "modelhub.server.xet",
            "fastapi",
            "starlette",
            "uvicorn",
        ),
        "the domain layer knows nothing of HTTP: the API and the web pages call it, never the other way round",
    ),
    Rule(
        "modelhub.server.storage",
        (
            "modelhub.server.domain",
            "modelhub.server.api",
            "modelhub.server.web",
            "modelhub.server.xet",
            "fastapi",
        ),
        "storage (database schema, blob stores) is the bottom layer of the server",
    ),
    Rule(
        "modelhub.server.api",
        ("modelhub.server.web", "modelhub.server.xet"),
        "the JSON API and the web pages are siblings that share the domain's read models",
    ),
)

# Packages whose modules must import what they need from the module that defines it, not pick names off a
# package front door (``modelhub/__init__.py``, ``modelhub/client/__init__.py``...): a front door re-exports
# everything lazily, so a name taken from it hides the real dependency (and, in the client, a cycle).
NO_FRONT_DOOR_NAMES = ("modelhub.client", "modelhub.server")


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module
    target: str  # the module imported (absolute)
    where: str  # "path:line (top level | in function f | type-checking only | lazy export table)"
    front_door_name: str | None = None  # set when a non-module name is taken from an ancestor package


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _absolute(module: str | None, level: int, package: str) -> str:
    if not level:
        return module or ""
    base = package.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(
    module: str, source: str, *, is_package: bool = False, filename: str = "<src>"
) -> list[Import]:
    """Every import ``module`` makes (top level, inside functions, typing-only, lazy export tables)."""
    package = module if is_package else module.rpartition(".")[0]
    tree = ast.parse(source, filename)
    found: list[Import] = []

    def visit(node: ast.AST, context: str) -> None:
        for child in ast.iter_child_nodes(node):
            ctx = context
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                ctx = f"in function {child.name}"
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                ctx = "type-checking only"
            where = f"{filename}:{getattr(child, 'lineno', '?')} ({ctx})"
            if isinstance(child, ast.Import):
                found.extend(Import(module, alias.name, where) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(child.module, child.level, package)
                found.append(Import(module, base, where))
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    if _is_module(full):
                        found.append(Import(module, full, where))
                    elif alias.name != "*" and (module == base or module.startswith(base + ".")):
                        found.append(Import(module, base, where, front_door_name=alias.name))
            elif isinstance(child, ast.Call) and child.args and isinstance(child.args[0], ast.Constant):
                func, arg = child.func, child.args[0].value
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("import_module", "__import__") and isinstance(arg, str):
                    level = len(arg) - len(arg.lstrip("."))
                    found.append(Import(module, _absolute(arg.lstrip(".") or None, level, package), where))
            elif (
                isinstance(child, (ast.Assign, ast.AnnAssign))
                and isinstance(node, ast.Module)
                and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in _targets(child))
                and isinstance(child.value, ast.Dict)
            ):
                lazy = f"{filename}:{child.lineno} (lazy export table _EXPORTS)"
                for value in child.value.values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        rel = value.value
                        level = len(rel) - len(rel.lstrip("."))
                        found.append(Import(module, _absolute(rel.lstrip(".") or None, level, package), lazy))
            visit(child, ctx)

    visit(tree, "top level")
    return found


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return list(node.targets) if isinstance(node, ast.Assign) else [node.target]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(imports: list[Import]) -> list[str]:
    # one report per statement and rule, naming the most precise module (``from ..mixins import base`` imports
    # both modelhub.mixins and modelhub.mixins.base)
    broken: dict[tuple[str, str, Rule, str], str] = {}
    for imp in imports:
        for rule in RULES:
            if not _within(imp.importer, rule.importer):
                continue
            for forbidden in rule.forbidden:
                if _within(imp.target, forbidden):
                    key = (imp.importer, imp.where, rule, forbidden)
                    broken[key] = max(broken.get(key, ""), imp.target, key=len)
    problems = [
        f"{importer} imports {target} at {where}: breaks the rule '{rule.importer} never imports {forbidden}' "
        f"({rule.why})"
        for (importer, where, rule, forbidden), target in broken.items()
    ]
    for imp in imports:
        if imp.front_door_name and any(_within(imp.importer, p) for p in NO_FRONT_DOOR_NAMES):
            problems.append(
                f"{imp.importer} takes {imp.front_door_name!r} from the package front door {imp.target} at "
                f"{imp.where}: breaks the rule 'client and server modules import names from the module that "
                f"defines them' (e.g. __version__ from modelhub._version)"
            )
    return problems


def client_cycles(imports: list[Import]) -> list[str]:
    """One description per cycle-forming group of client modules (Tarjan's strongly connected components)."""
    graph: dict[str, dict[str, str]] = {}
    for imp in imports:
        if _within(imp.importer, "modelhub.client") and imp.importer != "modelhub.client":
            graph.setdefault(imp.importer, {})
            if (
                _within(imp.target, "modelhub.client")
                and imp.target not in ("modelhub.client", imp.importer)
                and not imp.importer.startswith(imp.target + ".")
            ):
                graph[imp.importer].setdefault(imp.target, imp.where)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    out = []
    for group in groups:
        members = set(group)
        edges = [
            f"  {a} -> {b} at {where}" for a in group for b, where in sorted(graph[a].items()) if b in members
        ]
        out.append(f"import cycle among {', '.join(group)}:\n" + "\n".join(edges))
    return out


def all_imports() -> list[Import]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module, is_package = _module_name(path)
        rel = str(path.relative_to(SRC.parent))
        found += imports_of(module, path.read_text(encoding="utf-8"), is_package=is_package, filename=rel)
    return found


def client_modules() -> list[str]:
    return sorted(_module_name(p)[0] for p in (PACKAGE / "client").glob("*.py") if p.name != "__init__.py")


# --- the checks ------------------------------------------------------------------------------------------------
def test_layering_rules() -> None:
    problems = violations(all_imports())
    assert not problems, "layering rules broken (see docs/architecture.md):\n" + "\n".join(problems)


def test_client_imports_are_acyclic() -> None:
    cycles = client_cycles(all_imports())
    assert not cycles, (
        "the client's modules import each other in a circle (counting imports inside functions and under "
        "TYPE_CHECKING; see the layering in docs/architecture.md):\n" + "\n".join(cycles)
    )


_ALONE = """
import sys
import {module}
bad = [p for p in {forbidden!r} if any(m == p or m.startswith(p + ".") for m in sys.modules)]
assert not bad, "importing {module} also imported " + ", ".join(bad)
"""


def test_each_client_module_imports_alone_in_a_fresh_interpreter() -> None:
    forbidden = (
        "modelhub.mixins",
        "modelhub.cards",
        "modelhub.serialization",
        "modelhub.server",
        *FRAMEWORKS,
    )

    def run(module: str) -> tuple[str, subprocess.CompletedProcess[str]]:
        code = _ALONE.format(module=module, forbidden=forbidden)
        return module, subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=SRC.parent
        )

    modules = ["modelhub.client", *client_modules()]
    assert len(modules) > 10
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, modules))
    failed = [f"{m}:\n{r.stderr.strip()}" for m, r in results if r.returncode != 0]
    assert not failed, "client modules that fail to import on their own:\n" + "\n\n".join(failed)


# --- the checker itself catches what it must -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "modelhub.client.download",
            "def f():\n    from ..mixins import base\n",
            "never imports modelhub.mixins",
        ),
        ("modelhub.client.api", "import torch\n", "never imports torch"),
        (
            "modelhub.client.api",
            "from safetensors.torch import load_file\n",
            "never imports safetensors.torch",
        ),
        ("modelhub.client.http", "from .. import __version__\n", "front door"),
        ("modelhub.server.app", "from ..client import HubApi\n", "never imports modelhub.client"),
        ("modelhub.mixins.base", "import modelhub.server.app\n", "never imports modelhub.server"),
        ("modelhub.cards._card", "from huggingface_hub import ModelCard\n", "never imports huggingface_hub"),
        (
            "modelhub.client",
            '_EXPORTS = {"PyTorchModelHubMixin": "..mixins.pytorch"}\n',
            "never imports modelhub.mixins",
        ),
        (
            "modelhub.client.upload",
            "import importlib\nimportlib.import_module('modelhub.server')\n",
            "never imports modelhub.server",
        ),
    ],
)
def test_checker_reports_forbidden_imports(module: str, source: str, expected: str) -> None:
    is_package = module == "modelhub.client"
    problems = violations(imports_of(module, source, is_package=is_package, filename="x.py"))
    assert problems and expected in problems[0] and module in problems[0], problems


def test_checker_allows_what_the_rules_allow() -> None:
    ok = "from .. import constants\nfrom . import http\nfrom .._version import __version__\nimport httpx\n"
    assert violations(imports_of("modelhub.client.api", ok)) == []
    assert (
        violations(imports_of("modelhub.server.app", "from .._common.validation import is_commit_hash\n"))
        == []
    )


def test_checker_finds_lazy_and_typing_only_cycles() -> None:
    imports = [
        *imports_of("modelhub.client.api", "def f():\n    from .upload import create_commit\n"),
        *imports_of("modelhub.client.upload", "if TYPE_CHECKING:\n    from .api import HubApi\n"),
        *imports_of("modelhub.client.types", "from .operations import CommitOperation\n"),
    ]
    (cycle,) = client_cycles(imports)
    assert "modelhub.client.api -> modelhub.client.upload" in cycle
    assert "modelhub.client.upload -> modelhub.client.api" in cycle and "type-checking only" in cycle
