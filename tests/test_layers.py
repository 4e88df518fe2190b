"""The layer rules of docs/architecture.md, checked on the source so a broken one fails a test.

- The core (everything in mlv/ but mlv/cli/, including the Python API mlv/api.py) never imports
  mlv.cli, typer, rich or click: it returns data and raises MlvError; only the CLI renders.
- An adapter (mlv/adapters/*) imports nothing of mlv but mlv.errors and the other adapters.
- No import cycle between mlv modules, counting imports inside functions too.
- The git hooks' runtime (mlv/hooks/run.py) imports only builtin modules at module level,
  directly or through the mlv modules it loads, so a hook with nothing to do starts fast.

Imports under `if TYPE_CHECKING:` are never executed: they count for the layer rules (a type is a
dependency too) but not for cycles or start-up cost.
"""

from __future__ import annotations

import _imp
import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mlv"
HOOK_RUNTIME = "mlv.hooks.run"
FRONT_END = ("mlv.cli", "typer", "rich", "click")


@dataclass(frozen=True)
class Import:
    target: str  # the module imported (for `from a import b`: a.b when that is a module, else a)
    line: int
    module_level: bool  # executed on import of the importing module
    type_only: bool  # under `if TYPE_CHECKING:`


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


class _Collector(ast.NodeVisitor):
    def __init__(self, name: str, is_package: bool) -> None:
        self.package = name if is_package else name.rpartition(".")[0]
        self.found: list[Import] = []
        self._function_depth = 0
        self._type_checking_depth = 0

    def _add(self, target: str, node: ast.stmt) -> None:
        self.found.append(Import(target, node.lineno, self._function_depth == 0, self._type_checking_depth > 0))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function_body(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function_body(node)

    def _function_body(self, node: ast.AST) -> None:
        self._function_depth += 1
        self.generic_visit(node)
        self._function_depth -= 1

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
        if name != "TYPE_CHECKING":
            self.generic_visit(node)
            return
        self._type_checking_depth += 1
        for child in node.body:
            self.visit(child)
        self._type_checking_depth -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        submodules = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in modules()]
        if len(submodules) < len(node.names) or not submodules:
            self._add(source, node)  # names from the module itself
        for target in submodules:
            self._add(target, node)


@cache
def imports_of(name: str) -> tuple[Import, ...]:
    path = modules()[name]
    collector = _Collector(name, path.name == "__init__.py")
    collector.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return tuple(collector.found)


def _within(target: str, prefixes: tuple[str, ...] | str) -> bool:
    """TARGET is one of PREFIXES or a module inside one."""
    options = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(target == p or target.startswith(f"{p}.") for p in options)


def _where(name: str, imp: Import) -> str:
    return f"{modules()[name].relative_to(PACKAGE.parent)}:{imp.line} imports {imp.target}"


# -- the rules -----------------------------------------------------------------------------------


def test_the_core_never_imports_the_command_line() -> None:
    broken = [_where(name, imp) for name in modules() if not _within(name, "mlv.cli")
              for imp in imports_of(name) if _within(imp.target, FRONT_END)]
    assert not broken, "core modules must not import the CLI, typer, rich or click:\n" + "\n".join(broken)


def test_adapters_import_nothing_of_mlv_but_its_errors() -> None:
    broken = [_where(name, imp) for name in modules() if _within(name, "mlv.adapters") and name != "mlv.adapters"
              for imp in imports_of(name) if _within(imp.target, "mlv") and imp.target != "mlv.errors"
              and not _within(imp.target, "mlv.adapters")]
    assert not broken, "adapters may import only mlv.errors and each other of mlv:\n" + "\n".join(broken)


def _import_graph() -> dict[str, set[str]]:
    return {name: {imp.target for imp in imports_of(name)
                   if not imp.type_only and imp.target in modules() and imp.target != name}
            for name in modules()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (A, B, ..., A), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = find_cycle(_import_graph())
    assert cycle is None, "import cycle (module-level and function-level imports): " + " -> ".join(cycle or [])


def test_find_cycle_reports_the_loop() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def _costs_nothing(target: str) -> bool:
    """Compiled into the interpreter, frozen into it (os), or the __future__ directive."""
    top = target.partition(".")[0]
    return top == "__future__" or top in sys.builtin_module_names or _imp.is_frozen(target)


def test_the_hook_runtime_imports_only_builtins_at_module_level() -> None:
    broken: list[str] = []
    seen: set[str] = set()
    pending = [HOOK_RUNTIME]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        # Importing mlv.hooks.run runs mlv/__init__.py and mlv/hooks/__init__.py first.
        pending += [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        for imp in imports_of(name):
            if not imp.module_level or imp.type_only:
                continue
            if imp.target in modules():
                pending.append(imp.target)
            elif not _costs_nothing(imp.target):
                broken.append(_where(name, imp))
    assert not broken, (f"{HOOK_RUNTIME} must load only builtin modules when imported "
                        "(import the rest inside the functions that need it):\n" + "\n".join(broken))


def test_the_hook_runtime_loads_only_builtins_when_run() -> None:
    """The same rule, measured: what importing the hook runtime adds to a bare interpreter."""
    probe = ("import sys; before = set(sys.modules); import mlv.hooks.run; "
             "print('\\n'.join(sorted(set(sys.modules) - before)))")
    loaded = subprocess.run([sys.executable, "-S", "-c", probe], cwd=PACKAGE.parent, check=True,
                            capture_output=True, text=True).stdout.split()
    extra = [m for m in loaded if not _within(m, "mlv") and not _costs_nothing(m)]
    assert not extra, f"importing {HOOK_RUNTIME} loads non-builtin modules: {extra}"
