"""No ``Any`` in the public signatures of the checked packages, and their errors under one root (issue 13, item 4).

An AST walk, so it needs no import of the code and sees what a reader sees: every public module-level
function, every public method of a public class (dunders such as ``__init__`` included: they are the
class's interface), and every annotated field of a public class (a dataclass's or TypedDict's fields are
its constructor). A parameter, ``*args``/``**kwargs``, return or field annotation fails when it mentions
``Any`` — directly, as ``typing.Any``, inside a string annotation, or through a type alias defined with
``Any`` in the same module or imported from another checked module. Private names (a leading ``_``) and
nested functions are the module's own business and are not checked.

Every exception class a checked package defines must hang from ``loadtest.errors.LoadtestError`` (its repr
stays its own: Locust groups failures by repr).

To check another package, add its folder to ``PACKAGES``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from loadtest.errors import LoadtestError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    "loadtest/server",
    "loadtest/mockllm",
    "loadtest/realoh",
    "loadtest/harness",
]


def package_files(packages: Iterable[str]) -> list[Path]:
    """The checked files of ``packages``."""
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


@dataclass(frozen=True)
class Offence:
    where: str  # path:line
    name: str  # Class.method or function or Class.field
    part: str  # "parameter x", "return", "field"

    def __str__(self) -> str:
        return f"{self.where}: {self.name} ({self.part}) mentions Any"


def is_public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def mentions(node: ast.expr | None, tainted: frozenset[str]) -> bool:
    """Whether an annotation names ``Any`` (or an alias of it in ``tainted``), string annotations included."""
    if node is None:
        return False
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and (sub.id == "Any" or sub.id in tainted):
            return True
        if isinstance(sub, ast.Attribute) and sub.attr == "Any":
            return True
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            try:
                inner = ast.parse(sub.value, mode="eval").body
            except SyntaxError:
                continue
            if mentions(inner, tainted):
                return True
    return False


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def alias_value(stmt: ast.stmt) -> tuple[str, ast.expr] | None:
    """``X = <expr>``, ``X: TypeAlias = <expr>`` or ``type X = <expr>`` at module level, as (name, expr)."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
        return stmt.target.id, stmt.value
    type_alias = getattr(ast, "TypeAlias", None)
    if type_alias is not None and isinstance(stmt, type_alias):
        return stmt.name.id, stmt.value
    return None


def tainted_aliases(trees: dict[str, ast.Module]) -> dict[str, frozenset[str]]:
    """Per module, the names that stand for a type mentioning Any (own aliases, then imports of them)."""
    own: dict[str, set[str]] = {}
    for mod, tree in trees.items():
        names: set[str] = set()
        for stmt in tree.body:
            found = alias_value(stmt)
            if found and mentions(found[1], frozenset(names)):
                names.add(found[0])
        own[mod] = names
    result: dict[str, frozenset[str]] = {}
    for mod, tree in trees.items():
        names = set(own[mod])
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module in own and stmt.level == 0:
                names.update(a.asname or a.name for a in stmt.names if a.name in own[stmt.module])
        result[mod] = frozenset(names)
    return result


def function_offences(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, qual: str, where: str, tainted: frozenset[str]
) -> Iterator[Offence]:
    args = fn.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        if mentions(arg.annotation, tainted):
            yield Offence(where, qual, f"parameter {arg.arg}")
    for star, arg in (("*", args.vararg), ("**", args.kwarg)):
        if arg is not None and mentions(arg.annotation, tainted):
            yield Offence(where, qual, f"parameter {star}{arg.arg}")
    if mentions(fn.returns, tainted):
        yield Offence(where, qual, "return")


def module_offences(path: Path, tree: ast.Module, tainted: frozenset[str]) -> Iterator[Offence]:
    rel = path.relative_to(ROOT).as_posix()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_public(stmt.name):
            yield from function_offences(stmt, stmt.name, f"{rel}:{stmt.lineno}", tainted)
        elif isinstance(stmt, ast.ClassDef) and is_public(stmt.name):
            yield from class_offences(stmt, stmt.name, rel, tainted)


def class_offences(cls: ast.ClassDef, qual: str, rel: str, tainted: frozenset[str]) -> Iterator[Offence]:
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_public(stmt.name):
            yield from function_offences(stmt, f"{qual}.{stmt.name}", f"{rel}:{stmt.lineno}", tainted)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and is_public(stmt.target.id):
            if mentions(stmt.annotation, tainted):
                yield Offence(f"{rel}:{stmt.lineno}", f"{qual}.{stmt.target.id}", "field")
        elif isinstance(stmt, ast.ClassDef) and is_public(stmt.name):
            yield from class_offences(stmt, f"{qual}.{stmt.name}", rel, tainted)


def offences(packages: Iterable[str]) -> list[Offence]:
    paths = package_files(packages)
    trees = {module_name(p): ast.parse(p.read_text(), str(p)) for p in paths}
    tainted = tainted_aliases(trees)
    found: list[Offence] = []
    for path in paths:
        mod = module_name(path)
        found.extend(module_offences(path, trees[mod], tainted[mod]))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_any_in_public_signatures(package: str) -> None:
    assert (ROOT / package).is_dir(), f"{package} is not a folder of the repo"
    found = offences(PACKAGES)
    mine = [o for o in found if o.where.startswith(package + "/")]
    assert not mine, "public signatures that mention Any:\n" + "\n".join(map(str, mine))


SAMPLE = """
from typing import Any
import typing
Json = dict[str, Any]
_Hidden = list[Json]

def public(a: int, *rest: Any) -> None: ...
def via_alias() -> _Hidden: ...
def quoted(x: "typing.Any") -> int: ...
def _private(x: Any) -> Any: ...
def clean(x: object, y: dict[str, object]) -> list[int]:
    def nested(z: Any) -> Any: ...
    return []

class Open:
    field: Any
    _own: Any
    def __init__(self, **kw: Any) -> None: ...
    def method(self) -> "Json": ...
    def _helper(self, x: Any) -> Any: ...
    class Inner:
        deep: typing.Any

class _Closed:
    def method(self, x: Any) -> Any: ...
"""


def test_the_walk_finds_each_kind_of_mention() -> None:
    """The checker itself: each way of spelling Any in a public place is found, and nothing private."""
    tree = ast.parse(SAMPLE)
    mod = "sample"
    tainted = tainted_aliases({mod: tree})[mod]
    path = ROOT / "sample.py"
    found = {(o.name, o.part) for o in module_offences(path, tree, tainted)}
    assert found == {
        ("public", "parameter *rest"),
        ("via_alias", "return"),
        ("quoted", "parameter x"),
        ("Open.field", "field"),
        ("Open.__init__", "parameter **kw"),
        ("Open.method", "return"),
        ("Open.Inner.deep", "field"),
    }


def defined_errors(packages: Iterable[str]) -> list[type[BaseException]]:
    """The exception classes defined (not imported) in the packages' modules."""
    found: list[type[BaseException]] = []
    for path in package_files(packages):
        module = importlib.import_module(module_name(path))
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_errors_hang_from_loadtest_error(package: str) -> None:
    errors = defined_errors([package])
    strays = [f"{e.__module__}.{e.__qualname__}" for e in errors if not issubclass(e, LoadtestError)]
    assert not strays, f"error classes outside LoadtestError: {strays}"


def test_error_reprs_stay_their_own() -> None:
    from loadtest.mockllm.replies import BadRequest
    from loadtest.realoh.python312 import PythonNotFound
    from loadtest.server.config import ConfigError

    assert repr(BadRequest("body must be a JSON object")) == "BadRequest('body must be a JSON object')"
    assert repr(PythonNotFound("no 3.12")) == "PythonNotFound('no 3.12')"
    assert isinstance(ConfigError("--port", "x", "3000"), ValueError)  # callers that catch ValueError still do
    assert isinstance(BadRequest("x"), ValueError) and isinstance(PythonNotFound("x"), RuntimeError)


def test_harness_error_reprs_stay_their_own() -> None:
    from loadtest.harness.failures import RestFailed, TurnFailed
    from loadtest.harness.values import SloValueError

    assert repr(TurnFailed("timeout")) == "TurnFailed('timeout')"
    assert repr(RestFailed(404)) == "RestFailed(status=404)"
    assert repr(SloValueError("gaps<x", "not a number")) == "SloValueError('not a number')"
    assert isinstance(SloValueError("e", "w"), ValueError)  # options.py catches it before ValueError
