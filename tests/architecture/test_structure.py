"""The shape of src/tgsessions, read from the files (nothing is imported):

* no module over ``MAX_LINES`` lines;
* no module or package with a name that says nothing about what it does (``VAGUE_NAMES``);
* no two classes, and no two module-level type aliases (``X = A | B``, ``X = Callable[...]``, ``X: TypeAlias = ...``,
  ``type X = ...``), share a name anywhere in the package: one name, one concept.

Each check is a function of a root folder, so the tests at the bottom can prove it fails on a tree made to break it.
Every failure message names the files.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

import tgsessions

PACKAGE = Path(tgsessions.__file__).resolve().parent
MAX_LINES = 300
VAGUE_NAMES = frozenset({"core", "services", "workspace", "utils", "util", "misc", "helpers", "common"})
# what a subscripted alias is built from: ``X = Callable[...]``, ``X = Annotated[...]``, ``X = dict[str, int]``
GENERIC_BASES = frozenset(
    {
        "Annotated",
        "AsyncIterable",
        "AsyncIterator",
        "Awaitable",
        "Callable",
        "Coroutine",
        "Generator",
        "Iterable",
        "Iterator",
        "Literal",
        "Mapping",
        "MutableMapping",
        "Optional",
        "Sequence",
        "Union",
        "dict",
        "frozenset",
        "list",
        "set",
        "tuple",
        "type",
    }
)


def modules(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def shown(path: Path, root: Path) -> str:
    return path.relative_to(root.parent).as_posix()


# -- the checks ----------------------------------------------------------------------------------------------------


def long_modules(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path: N lines`` for every module over ``limit`` lines (as ``wc -l`` counts them)."""
    found = []
    for path in modules(root):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found.append(f"{shown(path, root)}: {lines} lines")
    return found


def vague_names(root: Path) -> list[str]:
    """Every module or package (folder) under ``root`` whose name is one of ``VAGUE_NAMES``."""
    found = []
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        if path.is_dir() and path.name in VAGUE_NAMES:
            found.append(f"{shown(path, root)}/ (package)")
        elif path.suffix == ".py" and path.stem in VAGUE_NAMES:
            found.append(f"{shown(path, root)} (module)")
    return found


def _is_type_expression(node: ast.expr) -> bool:
    """Whether an assigned value reads as a type: ``A | B`` of names, types or None; ``Callable[...]`` and kin."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return all(_is_union_member(side) for side in (node.left, node.right))
    if isinstance(node, ast.Subscript):
        base = node.value
        name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else None
        return name in GENERIC_BASES
    return False


def _is_union_member(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.BinOp):
        return _is_type_expression(node)
    return isinstance(node, ast.Name | ast.Attribute | ast.Subscript)


def _is_type_alias_annotation(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "TypeAlias") or (
        isinstance(node, ast.Attribute) and node.attr == "TypeAlias"
    )


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The module's own statements, also inside ``if``/``try`` at module level (``if TYPE_CHECKING:``)."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If):
            yield from _module_statements(statement.body)
            yield from _module_statements(statement.orelse)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from _module_statements(block)
            for handler in statement.handlers:
                yield from _module_statements(handler.body)


def type_aliases(tree: ast.Module) -> Iterator[str]:
    """The names of the module-level type aliases of ``tree``."""
    for statement in _module_statements(tree.body):
        if type(statement).__name__ == "TypeAlias":  # ``type X = ...`` (ast.TypeAlias, Python 3.12+)
            yield statement.name.id  # type: ignore[attr-defined]
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            if _is_type_alias_annotation(statement.annotation):
                yield statement.target.id
        elif (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and not statement.targets[0].id.isupper()  # FLAGS = A | B is a constant, not a type
            and _is_type_expression(statement.value)
        ):
            yield statement.targets[0].id


def shared_names(root: Path) -> list[str]:
    """``Name: file, file`` for every class or module-level type alias name defined more than once under ``root``
    (a class and an alias of one name count too)."""
    where: defaultdict[str, list[str]] = defaultdict(list)
    for path in modules(root):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                where[node.name].append(f"{shown(path, root)}:{node.lineno} (class)")
        for name in type_aliases(tree):
            where[name].append(f"{shown(path, root)} (type alias)")
    return [f"{name}: {', '.join(places)}" for name, places in sorted(where.items()) if len(places) > 1]


# -- src/tgsessions ------------------------------------------------------------------------------------------------


def test_no_module_is_over_the_line_limit() -> None:
    found = long_modules(PACKAGE)
    assert not found, f"modules over {MAX_LINES} lines (split them by what they do):\n" + "\n".join(found)


def test_no_module_or_package_has_a_vague_name() -> None:
    found = vague_names(PACKAGE)
    assert not found, "name these for what they do:\n" + "\n".join(found)


def test_no_two_classes_or_type_aliases_share_a_name() -> None:
    found = shared_names(PACKAGE)
    assert not found, "one name per concept; these are defined more than once:\n" + "\n".join(found)


def test_the_checks_read_the_real_package() -> None:
    assert (PACKAGE / "domain" / "token_bucket.py").is_file()
    assert len(list(modules(PACKAGE))) > 50


# -- each check fails on a tree made to break it ----------------------------------------------------------------


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    write(root, "__init__.py", "")
    write(root, "fine.py", "class Fine:\n    pass\n\nAlias = int | None\n")
    return root


def test_a_long_module_is_found(tree: Path) -> None:
    assert long_modules(tree) == []
    write(tree, "wing/__init__.py", "")
    write(tree, "wing/exact.py", "x = 1\n" * MAX_LINES)
    write(tree, "wing/big.py", "x = 1\n" * (MAX_LINES + 1))
    assert long_modules(tree) == [f"pkg/wing/big.py: {MAX_LINES + 1} lines"]


@pytest.mark.parametrize("name", sorted(VAGUE_NAMES))
def test_a_vague_module_or_package_is_found(tree: Path, name: str) -> None:
    assert vague_names(tree) == []
    write(tree, f"wing/{name}.py", "")
    write(tree, f"{name}/__init__.py", "")
    write(tree, "wing/common_sense.py", "")  # only the whole name counts
    assert sorted(vague_names(tree)) == sorted([f"pkg/wing/{name}.py (module)", f"pkg/{name}/ (package)"])


def test_two_classes_of_one_name_are_found(tree: Path) -> None:
    assert shared_names(tree) == []
    write(tree, "a.py", "class Lease:\n    pass\n")
    write(tree, "b/c.py", "def f():\n    class Lease:\n        pass\n    return Lease\n")
    assert shared_names(tree) == ["Lease: pkg/a.py:1 (class), pkg/b/c.py:2 (class)"]


@pytest.mark.parametrize(
    "alias",
    [
        "Progress = Callable[[int], None]",
        "Progress = typing.Callable[[int], None]",
        "Progress = int | str | None",
        "Progress = list[int] | None",
        "Progress: TypeAlias = int",
        "Progress: typing.TypeAlias = 'int'",
        "if TYPE_CHECKING:\n    Progress = Annotated[int, 'meta']",
        "Progress = Literal['a', 'b']",
    ],
)
def test_two_type_aliases_of_one_name_are_found(tree: Path, alias: str) -> None:
    write(tree, "sweep.py", "Progress = Callable[[int, int, str], None]\n")
    write(tree, "importing.py", alias + "\n")
    assert shared_names(tree) == ["Progress: pkg/importing.py (type alias), pkg/sweep.py (type alias)"]


def test_a_class_and_an_alias_of_one_name_are_found(tree: Path) -> None:
    write(tree, "a.py", "Fine = Callable[[], None]\n")
    assert shared_names(tree) == ["Fine: pkg/a.py (type alias), pkg/fine.py:1 (class)"]


def test_values_are_not_type_aliases(tree: Path) -> None:
    write(
        tree,
        "values.py",
        "FLAGS = os.O_RDONLY | os.O_CREAT\n"
        "mask = 1 | 2\n"
        "first = items[0]\n"
        "Alias = make()\n"
        "def f():\n    Alias = int | None\n    return Alias\n"
        "class C:\n    Alias = int | None\n",
    )
    write(tree, "more.py", "FLAGS = A | B\n")
    assert shared_names(tree) == []
