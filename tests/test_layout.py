"""The shape of the code: imports point one way, one exception root, tables that must agree do.

These read the source (with ``ast``) and the live objects, so a new module, error class or
table entry is checked without anyone remembering to list it here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

import pricing
import router
from pricing.loader import IMAGE_RULES
from router.errors import RouterError
from router.estimate.images import RULES
from router.gateway.wire import DIALECTS

from .conftest import ROOT

PACKAGES = ("pricing", "router")


def modules() -> dict[str, Path]:
    """Every module of both packages, by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = modules()


def _imports(name: str, path: Path) -> Iterator[tuple[ast.ImportFrom | ast.Import, str]]:
    """Each import statement of the module naming one of the project's modules, with that
    module: at the top, inside functions and under TYPE_CHECKING alike."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield node, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:  # ``from . import cli`` imports the submodule
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:
                    yield node, submodule
                elif target in MODULES:
                    yield node, target


def import_graph() -> dict[str, set[str]]:
    return {name: {t for _, t in _imports(name, path)} - {name} for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as the list of modules around it, or None."""
    done: set[str] = set()
    for start in sorted(graph):
        stack = [(start, iter(sorted(graph[start])))]
        path, on_path = [start], {start}
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                done.add(path.pop())
                on_path.discard(node)
            elif child in on_path:
                return [*path[path.index(child) :], child]
            elif child not in done:
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
                on_path.add(child)
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The checker itself can fail: it finds a cycle three modules long, and none in a chain."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles() -> None:
    """No module imports, however indirectly, one that imports it back (TYPE_CHECKING imports
    count: a cycle for the reader is a cycle)."""
    graph = import_graph()
    assert len(graph) >= 40  # the walk saw the whole tree
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_no_project_import_inside_a_function() -> None:
    """Imports between the project's own modules are at the top of the module, where readers
    and tools see them; only third-party libraries load lazily."""
    inside = []
    for name, path in MODULES.items():
        functions = [
            node
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        inner = {id(n) for f in functions for n in ast.walk(f)}
        inside += [f"{name}:{node.lineno}" for node, _ in _imports(name, path) if id(node) in inner]
    assert inside == []


def _exception_classes() -> Iterator[type[BaseException]]:
    for name in MODULES:
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                yield value


def test_every_exception_is_under_the_one_root_and_in_the_tree() -> None:
    """Every exception class either package defines is a RouterError, is listed in
    router.errors (whose docstring draws the tree) and is exported by router."""
    classes = set(_exception_classes())
    assert len(classes) >= 20
    outside = [c.__qualname__ for c in classes if not issubclass(c, RouterError)]
    assert outside == []
    errors = importlib.import_module("router.errors")
    for cls in classes:
        assert cls.__name__ in errors.__all__, cls
        assert cls.__name__ in (errors.__doc__ or ""), cls  # drawn in the tree
        assert getattr(router, cls.__name__) is cls
    assert issubclass(pricing.PricingError, RouterError)


@pytest.mark.parametrize(
    "make",
    [
        lambda: pricing.Usage(-1, 0),
        lambda: pricing.Usage(1, 1, cached_tokens=2),
        lambda: pricing.Range(3, 2, 1),
    ],
)
def test_invalid_values_raise_the_librarys_own_error(make: object) -> None:
    """Invalid values raise InputError, which is a ValueError and a RouterError."""
    with pytest.raises(router.InputError):
        make()  # type: ignore[operator]  # each case is a callable


def test_the_lazy_table_and_the_type_checking_block_name_the_same() -> None:
    """router's public names are listed twice on purpose (types need the imports, speed the
    table); the two lists agree, and __all__ is the table plus the eager names."""
    tree = ast.parse((ROOT / "router" / "__init__.py").read_text(encoding="utf-8"))
    typed = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
        if isinstance(inner, ast.ImportFrom)
        for alias in inner.names
    }
    lazy = set(router._LAZY)
    assert typed == lazy
    assert set(router.__all__) == lazy | {"__version__"}


def test_public_objects_show_public_module_paths() -> None:
    """Every public class and function says where it lives in a path without a private part."""
    for name in router.__all__:
        value = getattr(router, name)
        module = getattr(value, "__module__", None)
        if module is not None and (inspect.isclass(value) or inspect.isfunction(value)):
            assert not any(part.startswith("_") for part in module.split(".")), (name, module)


def test_image_rules_and_the_catalog_loader_agree() -> None:
    """Every rule the catalog loader accepts has token functions, and each function runs with
    exactly the parameters the loader gives it (required, defaults and optional ones)."""
    assert set(IMAGE_RULES) == set(RULES)
    from router.estimate.images import ImageQuery

    optional = pricing.loader._OPTIONAL_NO_DEFAULT
    for rule, (required, defaults) in IMAGE_RULES.items():
        names = (*required, *defaults, *optional.get(rule, ()))
        params = dict.fromkeys(names, 512.0)
        params["budget"] = 1536.0  # a patch budget above one patch
        by_size, bounds = RULES[rule]
        for query in (ImageQuery(1600, 1200), ImageQuery(40, 30, "low", "high")):
            assert by_size(params, 1600, 1200, query) >= 0
            low, high = bounds(params, query)
            assert 0 <= low <= high


def test_dialects_and_provider_roles_cover_every_provider() -> None:
    """Each provider of the catalog has a request dialect and a list of accepted roles."""
    assert set(DIALECTS) == set(pricing.PROVIDERS) == set(pricing.PROVIDER_ROLES)
    for roles in pricing.PROVIDER_ROLES.values():
        assert roles <= set(router.request.ROLES)
    assert {m.provider for m in pricing.Catalog.bundled()} <= set(pricing.PROVIDERS)
