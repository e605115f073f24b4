"""The shape of the code: domain packages import each other in one direction only.

Read from the source (every import, also inside functions), so a new cycle fails here the day it is written. The
top-level modules (app, cli, deps, wiring, demo, models, migrate, db, config) are the composition roots and the
infrastructure: they may import any domain. `kit` is below every domain and imports none.
"""

from __future__ import annotations

import ast
import graphlib
import pathlib
import sys
from collections import defaultdict

import tierdesk

ROOT = pathlib.Path(tierdesk.__file__).parent
# The layering, lowest first: a package may import only packages listed before it (and kit, db, config, deps).
LAYERS = ["kit", "audit", "jobs", "queues", "brands", "agents", "sla", "tickets", "customers", "surveys", "routing",
          "triage", "intake", "webhooks", "channels", "workspace"]
INFRASTRUCTURE = {"db", "config", "deps"}


def domain_imports() -> dict[str, dict[str, set[str]]]:
    """package -> imported package -> the files that import it."""
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 2 or rel.parts[0] == "migrations":
            continue
        package = rel.parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tierdesk."):
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("tierdesk.")]
            for name in names:
                target = name.split(".")[1]
                if target != package and (ROOT / target).is_dir():
                    found[package][target].add(rel.as_posix())
    return found


def test_every_domain_package_is_in_the_layering():
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and any(p.glob("*.py"))} - {"migrations"}
    assert packages == set(LAYERS), "add the new package to LAYERS, above what it uses"


def test_no_cycles_between_domain_packages():
    graph = {package: set(targets) for package, targets in domain_imports().items()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        raise AssertionError(f"import cycle between domain packages: {' -> '.join(cycle.args[1])}") from None


def test_each_package_imports_only_the_layers_below_it():
    wrong = []
    for package, targets in domain_imports().items():
        for target, files in targets.items():
            if target in INFRASTRUCTURE:
                continue
            if LAYERS.index(target) > LAYERS.index(package):
                wrong.append(f"{package} imports {target} (above it) in {sorted(files)}")
    assert wrong == []


def test_the_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The check itself: an import written inside a function counts (a check that cannot fail is no check)."""
    fake = tmp_path / "tierdesk"
    for package, source in {"kit": "def f():\n    from tierdesk.tickets import mutations\n", "tickets": ""}.items():
        (fake / package).mkdir(parents=True)
        (fake / package / "__init__.py").write_text("")
        (fake / package / "x.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake)
    assert domain_imports()["kit"] == {"tickets": {"kit/x.py"}}
