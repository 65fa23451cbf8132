"""The house: cmrlib's modules import each other without a cycle, and no module grows past its one job."""
import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cmrlib"
MODULES = {".".join(("cmrlib", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__"): path
           for path in PACKAGE.rglob("*.py")}


def imported_modules(name: str, path: Path) -> set:
    """cmrlib modules that ``path`` imports anywhere (function-level imports count too): ``from cmrlib.x import
    y`` names cmrlib.x.y when that is a module, else cmrlib.x."""
    found = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


def import_graph() -> dict:
    return {name: imported_modules(name, path) for name, path in MODULES.items()}


def test_the_import_graph_of_cmrlib_has_no_cycle():
    graph = import_graph()
    assert graph["cmrlib.train"] >= {"cmrlib.loaders", "cmrlib.checkpoint"}, "the scan must see imports"
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle among cmrlib modules: {' -> '.join(error.args[1])}")


def test_evaluation_imports_neither_training_nor_experiments():
    graph = import_graph()
    assert not graph["cmrlib.evaluate"] & {"cmrlib.train", "cmrlib.experiments", "cmrlib.experiments.cache"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_stays_under_about_500_lines(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= 550, f"{MODULES[name].relative_to(PACKAGE.parent)} has {lines} lines: split it by job"


def test_no_driver_scripts_live_under_runs():
    """Runs are trained through ``python -m cmrlib runs`` (issue 26); runs/ holds results, logs and, under
    runs/explore/, the tools of a recorded exploration only."""
    import subprocess

    listed = subprocess.run(["git", "ls-files", "runs"], cwd=PACKAGE.parent, capture_output=True, text=True)
    if listed.returncode:
        pytest.skip("not a git checkout")
    scripts = [path for path in listed.stdout.split() if path.endswith((".py", ".sh"))
               and not path.startswith("runs/explore/")]
    assert not scripts, f"driver scripts under runs/: {scripts}"
