"""The shape of the code (CONVENTIONS.md): layers import only what they may."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p for p in (ROOT / "services").iterdir() if (p / "app.py").exists())
HTTP_PACKAGES = ("fastapi", "starlette", "shared.http")
API_MODULES = {"api.py", "deps.py"}  # a service's HTTP layer: routes (also `<area>_api.py`) and their dependencies


def imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{module}" if module else base
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from shared import http`
    return names


def starts(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_routes_never_commit() -> None:
    offenders = [str(p.relative_to(ROOT)) for svc in SERVICES for p in [*svc.rglob("api.py"), *svc.rglob("*_api.py")]
                 if "session.commit()" in p.read_text()]
    assert offenders == [], "routes commit through the unit of work only"


def test_only_the_http_layer_of_a_service_imports_http() -> None:
    offenders = [f"{p.relative_to(ROOT)}: {name}" for svc in SERVICES for p in svc.rglob("*.py")
                 if p.name not in API_MODULES and not p.name.endswith("_api.py") and "migrations" not in p.parts
                 for name in imports(p) if starts(name, HTTP_PACKAGES)]
    assert offenders == []


def test_no_service_imports_another() -> None:
    offenders = [f"{p.relative_to(ROOT)}: {name}" for svc in SERVICES for p in svc.rglob("*.py")
                 for name in imports(p)
                 if name.startswith("services.") and not starts(name, (f"services.{svc.name}",))]
    assert offenders == []


def test_the_library_imports_no_runtime_and_no_service() -> None:
    library = [p for p in (ROOT / "shared").rglob("*.py") if "runtime" not in p.relative_to(ROOT).parts]
    offenders = [f"{p.relative_to(ROOT)}: {name}" for p in library for name in imports(p)
                 if starts(name, ("shared.runtime", "services"))]
    assert offenders == []


def test_statuses_are_enums_not_commented_strings() -> None:
    pattern = re.compile(r":\s*str\b[^#\n]*#\s*[A-Z][A-Za-z]*(Status|State|Kind|Outcome)\b")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in [*(ROOT / "services").rglob("*.py"),
                                                        *(ROOT / "shared").rglob("*.py")]
                 for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_routes_are_module_level() -> None:
    """No route defined inside a function (a closure capturing the database)."""
    offenders = []
    for svc in SERVICES:
        for p in svc.rglob("api.py"):
            for fn in ast.walk(ast.parse(p.read_text())):
                if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    for inner in ast.walk(fn):
                        if inner is not fn and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) \
                                and inner.decorator_list:
                            offenders.append(f"{p.relative_to(ROOT)}:{inner.lineno} {inner.name}")
    assert offenders == []
