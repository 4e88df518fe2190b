"""The layer rules of docs/architecture.md, checked on the source so a broken one fails a test.

- The core (everything in mlv/ but mlv/cli/, including the Python API mlv/api.py) never imports
  mlv.cli, typer, rich or click: it returns data and raises MlvError; only the CLI renders.
- An adapter (mlv/adapters/*) imports nothing of mlv but the base layer (mlv.errors, ...) and the
  other adapters.
- No import cycle between mlv modules, counting imports inside functions too.
- No cycle between folders (`mlv.snapshot`, `mlv.data`, ...; a top-level module is its own node):
  the folder graph is acyclic, so each folder can be read, tested and moved with what lies below.
- The folders' layers (`LAYERS`): package root -> front ends -> features -> domain -> adapters -> base. An import
  points to a lower layer, or within features or within domain (acyclic, as above).
- The git hooks' runtime (mlv/hooks/run.py) imports only builtin modules at module level,
  directly or through the mlv modules it loads, so a hook with nothing to do starts fast.

Imports under `if TYPE_CHECKING:` are never executed: they count for the layer rules (a type is a
dependency too) but not for cycles or start-up cost. Imports the `import` statement does not show
count too: `importlib.import_module("mlv.x")` with a literal name, and, in a module with a PEP 562
`__getattr__` (mlv/__init__.py), every string literal that names an mlv module (the lazy imports
it answers with); both run inside a function, so they are not module-level.
"""

from __future__ import annotations

import _imp
import ast
import itertools
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mlv"
HOOK_RUNTIME = "mlv.hooks.run"
FRONT_END = ("mlv.cli", "typer", "rich", "click")

# Each mlv folder (or top-level module) and its layer, top to bottom. Features are what a user
# runs (one command or a group), domain folders the concepts they share; docs/architecture.md.
LAYERS: dict[str, tuple[str, ...]] = {
    "package": ("mlv",),  # mlv/__init__.py: the Python API, imported lazily from mlv.api
    "front": ("mlv.cli", "mlv.api"),
    "features": ("mlv.snapshot", "mlv.sweep", "mlv.reproduce", "mlv.diff", "mlv.checkout", "mlv.share", "mlv.status",
                 "mlv.hooks", "mlv.gate", "mlv.report", "mlv.monitor", "mlv.serve"),
    "domain": ("mlv.record", "mlv.project", "mlv.env", "mlv.data", "mlv.pipeline", "mlv.registry",
               "mlv.gates", "mlv.datahealth", "mlv.verdict", "mlv.locking", "mlv.metrics_file"),
    "adapters": ("mlv.adapters",),
    "base": ("mlv.errors", "mlv.text", "mlv._version", "mlv.cachefile", "mlv.toml", "mlv.finite", "mlv.process",
             "mlv.faults"),
}
# Layers whose folders may import each other (the folder graph stays acyclic).
OPEN_LAYERS = ("features", "domain")


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

    def _add(self, target: str, node: ast.stmt | ast.expr) -> None:
        self.found.append(Import(target, node.lineno, self._function_depth == 0, self._type_checking_depth > 0))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called == "import_module" and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            self._add(node.args[0].value, node)
        self.generic_visit(node)

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


def _lazy_imports(tree: ast.Module) -> list[Import]:
    """In a module with a PEP 562 `__getattr__`, the mlv modules it names in string literals: what
    its `__getattr__` may import on first use of an attribute."""
    if not any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in tree.body):
        return []
    return [Import(node.value, node.lineno, module_level=False, type_only=False) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in modules()]


@cache
def imports_of(name: str) -> tuple[Import, ...]:
    path = modules()[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    collector = _Collector(name, path.name == "__init__.py")
    collector.visit(tree)
    return (*collector.found, *_lazy_imports(tree))


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


def test_adapters_import_nothing_of_mlv_but_the_base_layer() -> None:
    broken = [_where(name, imp) for name in modules() if _within(name, "mlv.adapters") and name != "mlv.adapters"
              for imp in imports_of(name) if _within(imp.target, "mlv") and imp.target not in LAYERS["base"]
              and not _within(imp.target, "mlv.adapters")]
    assert not broken, "adapters may import only the base layer and each other of mlv:\n" + "\n".join(broken)


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


def test_nothing_inside_the_package_imports_its_top_level() -> None:
    # mlv/__init__.py imports mlv.api on first use, which imports the features: a module that
    # imported `mlv` itself (`from mlv import __version__`) would close that loop.
    broken = [_where(name, imp) for name in modules() if name != "mlv"
              for imp in imports_of(name) if imp.target == "mlv" and not imp.type_only]
    assert not broken, "import from the module that defines the name, not from `mlv`:\n" + "\n".join(broken)


def folder_of(name: str) -> str:
    """The folder a module belongs to (`mlv.data.walk` -> `mlv.data`); a top-level module is its own."""
    return ".".join(name.split(".")[:2])


def _folder_edges() -> dict[tuple[str, str], str]:
    """(folder, folder) -> where the first import that links them is, for every executed import
    between two different folders."""
    edges: dict[tuple[str, str], str] = {}
    for name in modules():
        for imp in imports_of(name):
            if not imp.type_only and imp.target in modules() and folder_of(imp.target) != folder_of(name):
                edges.setdefault((folder_of(name), folder_of(imp.target)), _where(name, imp))
    return edges


def describe_cycle(cycle: list[str], edges: dict[tuple[str, str], str]) -> str:
    """Each edge of CYCLE (A, B, ..., A) with the import that makes it."""
    return "\n".join(f"{a} -> {b}: {edges[(a, b)]}" for a, b in itertools.pairwise(cycle))


def test_no_cycle_between_folders() -> None:
    edges = _folder_edges()
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    cycle = find_cycle(graph)
    assert cycle is None, ("import cycle between folders; move the module that orchestrates above the one "
                           "it uses, or pass a function in:\n" + describe_cycle(cycle or [], edges))


def _layer_of(name: str) -> str | None:
    return next((layer for layer, folders in LAYERS.items() if folder_of(name) in folders), None)


def test_every_folder_has_a_layer() -> None:
    missing = sorted({folder_of(name) for name in modules() if _layer_of(name) is None})
    assert not missing, f"give these folders a layer in LAYERS (and docs/architecture.md): {missing}"


def test_imports_point_down_the_layers() -> None:
    order = list(LAYERS)
    broken = []
    for name in modules():
        for imp in imports_of(name):
            low, high = _layer_of(imp.target), _layer_of(name)
            if imp.target not in modules() or low is None or high is None:
                continue
            if order.index(low) < order.index(high) or (low == high and low not in OPEN_LAYERS
                                                        and folder_of(name) != folder_of(imp.target)):
                broken.append(f"{_where(name, imp)} ({high} -> {low})")
    assert not broken, f"imports must point down the layers {' -> '.join(order)}:\n" + "\n".join(broken)


def test_lazy_and_importlib_imports_are_seen() -> None:
    package = {imp.target for imp in imports_of("mlv") if not imp.type_only}
    assert {"mlv.api", "mlv.metrics_file"} <= package  # the PEP 562 __getattr__ of mlv/__init__.py
    tree = ast.parse("import importlib\ndef f():\n    importlib.import_module('mlv.api')\n")
    collector = _Collector("mlv.x", is_package=False)
    collector.visit(tree)
    assert [(i.target, i.module_level) for i in collector.found] == [("importlib", True), ("mlv.api", False)]


def test_a_folder_cycle_is_named_edge_by_edge() -> None:
    edges = {("mlv.a", "mlv.b"): "mlv/a/x.py:3 imports mlv.b.y", ("mlv.b", "mlv.a"): "mlv/b/y.py:9 imports mlv.a.z"}
    assert describe_cycle(["mlv.a", "mlv.b", "mlv.a"], edges) == (
        "mlv.a -> mlv.b: mlv/a/x.py:3 imports mlv.b.y\nmlv.b -> mlv.a: mlv/b/y.py:9 imports mlv.a.z")


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


TRANSFERS = ("fetch_objects", "push_objects", "missing_everywhere", "absent_from_remote")


def test_only_the_trust_check_calls_dvcs_transfers() -> None:
    """Every request to a DVC remote goes through mlv.adapters.remote_trust, which checks first that the
    user trusted the remote's URL: a direct call to dvc's transfer functions would skip that."""
    broken = []
    for name, path in modules().items():
        if name in ("mlv.adapters.remote_trust", "mlv.adapters.dvc"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in TRANSFERS
                    and isinstance(node.value, ast.Name) and node.value.id == "dvc"):
                broken.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: dvc.{node.attr}")
    assert not broken, "call mlv.adapters.remote_trust' transfers instead:\n" + "\n".join(broken)
