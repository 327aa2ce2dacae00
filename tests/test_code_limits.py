"""Size limits that keep the package readable: modules, functions and ``__init__.py`` files stay small.

A module under src/ has at most 500 lines, a function (or method) at most 80, an ``__init__.py`` at most 60
(re-exports, not logic). The few that are longer are listed below, each with why; an entry whose file or function
is back under its limit (or gone) fails too, so the list only ever shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MODULE_LINES = 500
INIT_LINES = 60
FUNCTION_LINES = 80

#: Modules allowed over their limit (path under src/ -> why). Each is still to be split; none has to be this long.
LONG_MODULES: dict[str, str] = {}

#: Functions allowed over 80 lines ("path under src/::qualified name" -> why). Each is still to be split.
LONG_FUNCTIONS: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def _module_limit(path: Path) -> int:
    return INIT_LINES if path.name == "__init__.py" else MODULE_LINES


def _long_modules() -> dict[str, int]:
    out = {}
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > _module_limit(path):
            out[_name(path)] = lines
    return out


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, lines) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + node.name
            yield name, node.end_lineno - node.lineno + 1
            yield from _functions(node, name + ".")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, prefix + node.name + ".")
        else:
            yield from _functions(node, prefix)


def _long_functions() -> dict[str, int]:
    out = {}
    for path in _modules():
        for name, lines in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            if lines > FUNCTION_LINES:
                out[f"{_name(path)}::{name}"] = lines
    return out


def test_modules_stay_under_their_line_limit():
    found = _long_modules()
    over = {k: v for k, v in found.items() if k not in LONG_MODULES}
    assert not over, (
        f"modules over {MODULE_LINES} lines ({INIT_LINES} for __init__.py): {over}; split them by concern "
        "(or, if one must stay long, add it to LONG_MODULES in tests/test_code_limits.py with why)"
    )
    stale = sorted(set(LONG_MODULES) - set(found))
    assert not stale, f"these modules are within their limit now (or gone): remove them from LONG_MODULES: {stale}"


def test_functions_stay_under_80_lines():
    found = _long_functions()
    over = {k: v for k, v in found.items() if k not in LONG_FUNCTIONS}
    assert not over, (
        f"functions over {FUNCTION_LINES} lines: {over}; split them into named steps "
        "(or, if one must stay long, add it to LONG_FUNCTIONS in tests/test_code_limits.py with why)"
    )
    stale = sorted(set(LONG_FUNCTIONS) - set(found))
    assert not stale, f"these functions are within 80 lines now (or gone): remove them from LONG_FUNCTIONS: {stale}"


def test_the_checks_see_long_code():
    body = [f"        x{i} = {i}" for i in range(FUNCTION_LINES)]
    tree = ast.parse("\n".join(["class A:", "    def f(self):", *body, "        def g():", "            return 1"]))
    assert dict(_functions(tree)) == {"A.f": FUNCTION_LINES + 3, "A.f.g": 2}
