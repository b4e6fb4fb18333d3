"""The package layout: every module imports only its own layer or the ones below, and no module
imports another that (directly or through others) imports it back.

Layers, lowest first (src/trpo/<package>/ holds each):
  base      trpo.version, trpo.config: the version and the hyperparameters
  learning  the numerics: distributions, trust region, advantages, networks, statistics, learner
  envs      making envs, vector backends, Atari, JAX-native envs
  collect   collectors: the NumPy sampler, the Ray sampler, the acting fast path
  training  the training state and step, the TRPO class, the compiled program, checkpoints,
            evaluation, metrics logging
  runs      run folders, compiled runs, several seeds, presets, plots, the console display
  tune      trpo tune: Optuna studies whose trials are runs
  top       trpo (the package's public names) and trpo.cli (the command line)
Imports inside functions count too: a lazy import is still a dependency.
"""

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
LAYERS = [
    ("base", {"trpo.version", "trpo.config"}),
    ("learning", {"trpo.learning"}),
    ("envs", {"trpo.envs"}),
    ("collect", {"trpo.collect"}),
    ("training", {"trpo.training"}),
    ("runs", {"trpo.runs"}),
    ("tune", {"trpo.tune"}),
    ("top", {"trpo", "trpo.cli"}),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in (SRC / "trpo").rglob("*.py")}


def layer_of(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            exact = prefix in ("trpo", "trpo.cli", "trpo.version", "trpo.config")
            if module == prefix or (not exact and module.startswith(prefix + ".")):
                return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in tests/test_layers.py")


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The trpo modules a file imports (a `from package import name` that names a submodule
    counts as importing the submodule)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "trpo")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "trpo":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found & known


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, set(known)) - {name} for name, path in known.items()}


def test_every_module_has_a_layer():
    for name in modules():
        layer_of(name)


def test_no_module_imports_a_layer_above_it():
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {other} ({LAYERS[layer_of(other)][0]})"
        for module, others in graph().items()
        for other in others
        if layer_of(other) > layer_of(module)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circles():
    edges = graph()
    state: dict[str, str] = {}
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for other in sorted(edges[module]):
            if state.get(other) == "open":
                circles.append(" -> ".join(path[path.index(other) :] + [other]))
            elif other not in state:
                visit(other, path + [other])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not circles, "\n".join(circles)


def test_the_checks_catch_a_circle_and_an_upward_import(tmp_path, monkeypatch):
    """The checks above fail on a made-up package with both faults."""
    package = tmp_path / "trpo"
    (package / "learning").mkdir(parents=True)
    (package / "training").mkdir()
    (package / "__init__.py").write_text("")
    (package / "learning" / "__init__.py").write_text("")
    (package / "training" / "__init__.py").write_text("")
    (package / "learning" / "a.py").write_text("from trpo.training import loop\n")
    (package / "training" / "loop.py").write_text("def f():\n    import trpo.learning.a\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    edges = graph()
    assert edges["trpo.learning.a"] == {"trpo.training.loop"}
    assert edges["trpo.training.loop"] == {"trpo.learning.a"}
    for check in (test_no_module_imports_a_layer_above_it, test_no_import_circles):
        try:
            check()
        except AssertionError:
            continue
        raise AssertionError(f"{check.__name__} passed on a package with that fault")
