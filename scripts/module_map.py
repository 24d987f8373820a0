"""Refresh the module lists in docs/architecture.md from each module's first docstring line.

Usage: .venv/bin/python scripts/module_map.py   (tests/test_architecture.py checks the result)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- modules:start -->", "<!-- modules:end -->"


def summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def module_map() -> str:
    """One fenced block per package under gigachat/: `module  lines  first docstring line`."""
    out = []
    packages = sorted({p.parent for p in (ROOT / "gigachat").rglob("*.py")})
    for package in packages:
        rel = package.relative_to(ROOT).as_posix()
        out += [f"`{rel}/`", "```"]
        for module in sorted(package.glob("*.py")):
            lines = len(module.read_text(encoding="utf-8").splitlines())
            out.append(f"{module.name:<22}{lines:>4}  {summary(module)}")
        out += ["```", ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{module_map()}{END}{tail}", encoding="utf-8")
    print(f"updated {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
