"""Only the composition root constructs adapters: no module of src/tgsessions and bench/ imports
``tgsessions.adapters`` but the adapters themselves and ``src/tgsessions/bootstrap.py`` (read from the files with
``ast``; nothing is imported). Every form counts: ``import``, ``from ... import``, ``from tgsessions import adapters``,
relative imports, and ``importlib.import_module`` / ``__import__`` with a literal name, at any depth (inside
functions, under ``if TYPE_CHECKING``).

The check is a function of a root folder, so the tests at the bottom can prove it fails on a tree made to break it.
Every failure names the file and the line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import tgsessions

PACKAGE = Path(tgsessions.__file__).resolve().parent
ROOT = PACKAGE.parents[1]
ADAPTERS = "tgsessions.adapters"
ALLOWED = (Path("src/tgsessions/adapters"), Path("src/tgsessions/bootstrap.py"))
SCANNED = (Path("src/tgsessions"), Path("bench"))


def _is_adapters(module: str) -> bool:
    return module == ADAPTERS or module.startswith(ADAPTERS + ".")


def _package_of(path: Path, root: Path) -> list[str] | None:
    """The dotted package a file under src/ belongs to (None outside src/: relative imports name no package)."""
    relative = path.relative_to(root)
    if relative.parts[0] != "src":
        return None
    parts = list(relative.with_suffix("").parts[1:])
    return parts if relative.name == "__init__.py" else parts[:-1]


def _absolute(node: ast.ImportFrom, package: list[str] | None) -> str | None:
    if not node.level:
        return node.module or ""
    if package is None or node.level - 1 > len(package):
        return None
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def adapter_imports(source: str, path: Path, root: Path) -> Iterator[int]:
    """The lines of ``source`` (the file at ``path``) that import ``tgsessions.adapters`` or a module in it."""
    package = _package_of(path, root)
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            if any(_is_adapters(alias.name) for alias in node.names):
                yield node.lineno
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if module is None:
                continue
            if _is_adapters(module) or any(_is_adapters(f"{module}.{alias.name}") for alias in node.names):
                yield node.lineno
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            name = node.args[0].value
            if called in ("import_module", "__import__") and isinstance(name, str) and _is_adapters(name):
                yield node.lineno


def violations(root: Path) -> list[str]:
    """``path:line`` of every import of the adapters outside the adapters and the composition root."""
    found = []
    for scanned in SCANNED:
        for path in sorted((root / scanned).rglob("*.py")):
            relative = path.relative_to(root)
            if any(relative == allowed or allowed in relative.parents for allowed in ALLOWED):
                continue
            lines = adapter_imports(path.read_text(encoding="utf-8"), path, root)
            found += [f"{relative}:{line}" for line in lines]
    return found


def test_only_the_composition_root_imports_the_adapters() -> None:
    found = violations(ROOT)
    assert not found, "tgsessions.adapters imported outside src/tgsessions/bootstrap.py: " + ", ".join(found)


def test_the_scan_sees_the_composition_root_and_the_benches() -> None:
    """A check that scanned nothing would pass: bootstrap.py does import the adapters, and bench/ is there."""
    bootstrap = ROOT / "src" / "tgsessions" / "bootstrap.py"
    assert list(adapter_imports(bootstrap.read_text(encoding="utf-8"), bootstrap, ROOT))
    assert list((ROOT / "bench").glob("*.py"))


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"src/tgsessions/__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_every_form_of_import_is_named_with_file_and_line(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {
        "src/tgsessions/cli/commands.py": "import os\nfrom tgsessions.adapters.sql import SqlDatabase\n",
        "src/tgsessions/cli/lazy.py": "def f():\n    import tgsessions.adapters.logs as logs\n    return logs\n",
        "src/tgsessions/demo.py": "from tgsessions import adapters\n",
        "src/tgsessions/service/relative.py": "from ..adapters import files\n",
        "src/tgsessions/api/dynamic.py": "import importlib\nimportlib.import_module('tgsessions.adapters.mongo')\n",
        "bench/factory.py": "x = 1\n\n\nfrom tgsessions.adapters.crypto import AesGcmCipher\n",
    })  # fmt: skip
    assert violations(root) == [
        "src/tgsessions/api/dynamic.py:2",
        "src/tgsessions/cli/commands.py:2",
        "src/tgsessions/cli/lazy.py:2",
        "src/tgsessions/demo.py:1",
        "src/tgsessions/service/relative.py:1",
        "bench/factory.py:4",
    ]


def test_the_adapters_and_the_composition_root_may_import_them(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {
        "src/tgsessions/bootstrap.py": "from tgsessions.adapters.sql import SqlDatabase\n",
        "src/tgsessions/adapters/sql/database.py": "from tgsessions.adapters.sql.engine import create_engine\n",
        "src/tgsessions/adapters/sql/engine.py": "from . import errors\n",
        "src/tgsessions/service/factory.py": "from tgsessions.adapters_x import y\nfrom tgsessions import service\n",
        "bench/chaos.py": "from tgsessions.bootstrap import open_runtime\n",
    })  # fmt: skip
    assert violations(root) == []
