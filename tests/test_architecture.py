"""The rooms of gigachat/ import only what they may, no module passes 400 lines (issue 11).

The checker below parses every module with `ast` (never imports it) and resolves every form of
import to an absolute module name: `import gigachat.x`, `from gigachat.x import y`, relative
imports, imports inside functions, and `importlib.import_module("gigachat.x")` with a literal.
The synthetic-tree tests at the bottom prove that it reports each kind of violation.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gigachat"
MAX_LINES = 400
ROOMS = ("core", "local", "desktop", "emulator")
DEMO_DOOR = "gigachat.local.service"  # the one local module that may start the emulator (--demo)
DESKTOP_FACADE = "gigachat.local.service"  # the one local module the desktop may import


@dataclass(frozen=True)
class Problem:
    kind: str  # "import", "size", "docstring", "layout"
    path: str  # relative to the folder holding the package, e.g. "gigachat/core/token.py"
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def forbidden(importer: str, imported: str) -> str | None:
    """Why module `importer` may not import module `imported`, or None when it may."""
    if not _within(imported, "gigachat"):
        return None  # the standard library and third-party packages are every room's
    room = importer.split(".")[1] if importer.count(".") >= 1 else None
    if room is None:  # gigachat/__init__.py: everyone imports it, so it imports no room
        if imported != "gigachat":
            return "the top package gigachat imports no room (every room imports it)"
        return None
    if room == "core":
        for other in ("gigachat.local", "gigachat.desktop", "gigachat.emulator"):
            if _within(imported, other):
                return f"core never imports {other}"
    elif room == "local":
        if _within(imported, "gigachat.desktop"):
            return "local never imports gigachat.desktop"
        if _within(imported, "gigachat.emulator") and importer != DEMO_DOOR:
            return f"local imports gigachat.emulator only in {DEMO_DOOR} (for --demo)"
    elif room == "desktop":
        if _within(imported, "gigachat.emulator"):
            return "desktop never imports gigachat.emulator"
        if _within(imported, "gigachat.local") and not _within(imported, DESKTOP_FACADE):
            return f"desktop imports from gigachat.local only the façade {DESKTOP_FACADE}"
    elif room == "emulator" and not _within(imported, "gigachat.emulator"):
        return "the emulator imports nothing of ours outside gigachat.emulator"
    return None


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in the tree, nested ones included."""
    found: list[tuple[int, str]] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                if node.level - 1 >= len(parts):
                    found.append((node.lineno, "<beyond the top package>"))
                    continue
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((node.lineno, candidate if candidate in known else base))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and _dynamic_import(node.func)):
            found.append((node.lineno, node.args[0].value))
    return found


def _dynamic_import(func: ast.expr) -> bool:
    """importlib.import_module(...), import_module(...) or __import__(...)."""
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def check_tree(package_dir: Path) -> list[Problem]:
    """Every boundary, size, docstring and layout problem in the package at `package_dir`."""
    root = package_dir.parent
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    known = {_module_name(p, root) for p in files}
    problems: list[Problem] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        module = _module_name(path, root)
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_LINES:
            problems.append(Problem("size", rel, lines, f"{lines} lines (more than {MAX_LINES})"))
        parts = module.split(".")
        if len(parts) >= 2 and parts[1] not in ROOMS:
            problems.append(Problem("layout", rel, 1, f"{module} is in no room ({', '.join(ROOMS)})"))
        tree = ast.parse(text, filename=rel)
        for line, imported in _imports(tree, module, path.name == "__init__.py", known):
            if imported.startswith("<"):
                problems.append(Problem("import", rel, line, f"relative import {imported}"))
            elif reason := forbidden(module, imported):
                problems.append(Problem("import", rel, line, f"{module} imports {imported}: {reason}"))
    for room in ROOMS:
        init = package_dir / room / "__init__.py"
        rel = init.relative_to(root).as_posix()
        if not init.is_file():
            problems.append(Problem("layout", rel, 0, f"room {room} has no __init__.py"))
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if not re.search(r"\bimport", doc, re.IGNORECASE):
            problems.append(Problem("docstring", rel, 1,
                                    f"room {room}'s docstring must say what it may import"))
    return problems


def _report(problems: list[Problem], kind: str) -> str:
    return "\n".join(str(p) for p in problems if p.kind == kind)


# --------------------------------------------------------------------------- the real tree


@pytest.fixture(scope="module")
def real_problems() -> list[Problem]:
    assert (PACKAGE / "__init__.py").is_file()
    return check_tree(PACKAGE)


def test_rooms_import_only_what_they_may(real_problems):
    assert not _report(real_problems, "import"), "forbidden imports:\n" + _report(real_problems, "import")


def test_no_module_over_400_lines(real_problems):
    assert not _report(real_problems, "size"), "modules too long:\n" + _report(real_problems, "size")


def test_every_room_says_what_it_may_import(real_problems):
    bad = _report(real_problems, "docstring") + _report(real_problems, "layout")
    assert not bad, bad


def test_the_checker_sees_the_real_imports():
    """Guard against a checker that silently finds nothing: the real tree's known edges show up."""
    root = PACKAGE.parent
    files = [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    known = {_module_name(p, root) for p in files}
    edges = set()
    for path in files:
        module = _module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges |= {(module, imported)
                  for _, imported in _imports(tree, module, path.name == "__init__.py", known)}
    assert len(known) > 25
    assert any(_within(a, "gigachat.local") and _within(b, "gigachat.core") for a, b in edges)
    assert any(_within(a, "gigachat.desktop") and b == DESKTOP_FACADE for a, b in edges)
    # the --demo import, inside a function
    assert any(a == DEMO_DOOR and _within(b, "gigachat.emulator") for a, b in edges)


# --------------------------------------------------------------------------- synthetic trees


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "gigachat"


CLEAN = {
    "gigachat/__init__.py": '"""Top."""\nimport sys\n',
    "gigachat/core/__init__.py": '"""Core. May import: gigachat."""\n',
    "gigachat/core/settings.py": "from gigachat import APP_NAME\nfrom . import errors\n",
    "gigachat/core/errors.py": "import json\n",
    "gigachat/local/__init__.py": '"""Local. May import: core."""\n',
    "gigachat/local/routes.py": "from gigachat.core import settings\nfrom ..core.errors import X\n",
    "gigachat/local/service.py": ("from gigachat.local.routes import app\n"
                                  "def demo():\n    from gigachat.emulator import Emulator\n"),
    "gigachat/desktop/__init__.py": '"""Desktop. May import: core, local.service."""\n',
    "gigachat/desktop/tray.py": ("from gigachat.local.service import Service\n"
                                 "from gigachat.local import service\nfrom ..core import settings\n"
                                 "from . import icons\n"),
    "gigachat/desktop/icons.py": "from PIL import Image\n",
    "gigachat/emulator/__init__.py": '"""Emulator: imports nothing of ours."""\nfrom .app import E\n',
    "gigachat/emulator/app.py": "import http.server\nfrom gigachat.emulator import faults\n",
    "gigachat/emulator/faults.py": "\n" * MAX_LINES,  # exactly 400 lines is allowed
}


def test_a_clean_synthetic_tree_has_no_problems(tmp_path):
    assert [str(p) for p in check_tree(_write(tmp_path, CLEAN))] == []


def test_the_checker_reports_every_kind_of_violation(tmp_path):
    bad = {
        **CLEAN,
        # core importing the desktop, plain form
        "gigachat/core/token.py": "import json\nimport gigachat.desktop.tray\n",
        # a relative import escaping the room (core -> local), inside a function
        "gigachat/core/client.py": "def f():\n    from ..local import routes\n",
        # a local module importing the desktop (from-form naming a module)
        "gigachat/local/guards.py": "from gigachat.desktop import tray\n",
        # a local module other than service starting the emulator
        "gigachat/local/render.py": "import importlib\nE = importlib.import_module('gigachat.emulator')\n",
        # the desktop reaching past the façade, and into the emulator
        "gigachat/desktop/dialogs.py": ("from gigachat.local.routes import app\n"
                                        "from gigachat import emulator\n"),
        # the emulator importing something of ours outside itself
        "gigachat/emulator/chat.py": "from gigachat import APP_NAME\nfrom ..core.errors import X\n",
        # the top package importing a room
        "gigachat/__init__.py": '"""Top."""\nfrom gigachat.core import settings\n',
        # a relative import above the top package
        "gigachat/core/gate.py": "from .... import nothing\n",
        # a 401-line module
        "gigachat/core/big.py": "x = 1\n" * (MAX_LINES + 1),
        # a module in no room, and a room whose docstring says nothing about imports
        "gigachat/helpers.py": "",
        "gigachat/local/__init__.py": '"""The local API."""\n',
    }
    problems = check_tree(_write(tmp_path, bad))
    got = {(p.kind, p.path, p.line) for p in problems}
    assert got == {
        ("import", "gigachat/core/token.py", 2),
        ("import", "gigachat/core/client.py", 2),
        ("import", "gigachat/local/guards.py", 1),
        ("import", "gigachat/local/render.py", 2),
        ("import", "gigachat/desktop/dialogs.py", 1),
        ("import", "gigachat/desktop/dialogs.py", 2),
        ("import", "gigachat/emulator/chat.py", 1),
        ("import", "gigachat/emulator/chat.py", 2),
        ("import", "gigachat/__init__.py", 2),
        ("import", "gigachat/core/gate.py", 1),
        ("size", "gigachat/core/big.py", MAX_LINES + 1),
        ("layout", "gigachat/helpers.py", 1),
        ("docstring", "gigachat/local/__init__.py", 1),
    }, "\n".join(map(str, problems))
    messages = "\n".join(map(str, problems))
    assert ("gigachat.core.token imports gigachat.desktop.tray: core never imports gigachat.desktop"
            in messages)
    assert "gigachat.core.client imports gigachat.local.routes" in messages
    assert "gigachat.local.guards imports gigachat.desktop.tray" in messages
    assert "only in gigachat.local.service" in messages
    assert "gigachat.desktop.dialogs imports gigachat.local.routes" in messages
    assert "gigachat.emulator.chat imports gigachat.core.errors" in messages


@pytest.mark.parametrize(("importer", "imported", "allowed"), [
    ("gigachat.core.token", "requests", True),
    ("gigachat.core.token", "gigachat", True),
    ("gigachat.core.token", "gigachat.core.errors", True),
    ("gigachat.core.token", "gigachat.local", False),
    ("gigachat.core.token", "gigachat.emulator.app", False),
    ("gigachat.local.routes", "gigachat.core.bridge", True),
    ("gigachat.local.routes", "gigachat.desktop", False),
    ("gigachat.local.service", "gigachat.emulator", True),
    ("gigachat.local.routes", "gigachat.emulator", False),
    ("gigachat.desktop.tray", "gigachat.local.service", True),
    ("gigachat.desktop.tray", "gigachat.local", False),
    ("gigachat.desktop.tray", "gigachat.local.guards", False),
    ("gigachat.desktop.tray", "gigachat.emulator", False),
    ("gigachat.desktop.tray", "gigachat.core.settings", True),
    ("gigachat.emulator.app", "gigachat.emulator.faults", True),
    ("gigachat.emulator.app", "gigachat", False),
    ("gigachat.emulator.app", "gigachatx", True),  # another package whose name merely starts so
])
def test_the_rules(importer, imported, allowed):
    assert (forbidden(importer, imported) is None) is allowed


def test_architecture_doc_lists_every_module():
    """docs/architecture.md names every module of the tree (scripts/module_map.py writes it)."""
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = doc.split("<!-- modules:start -->", 1)[1].split("<!-- modules:end -->", 1)[0]
    listed, package = set(), None
    for line in block.splitlines():
        if line.startswith("`gigachat"):
            package = line.strip("`/")
        elif package and line.split(" ", 1)[0].endswith(".py"):
            listed.add(f"{package}/{line.split(' ', 1)[0]}")
    actual = {p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*.py")
              if "__pycache__" not in p.parts}
    assert actual - listed == set(), "run: .venv/bin/python scripts/module_map.py"
    assert listed - actual == set(), "run: .venv/bin/python scripts/module_map.py"
