"""The book: notebook structure, the toc, bad parameters, and a smoke build of the whole book.

The smoke build (marked slow) runs ``python -m cmrlib book --profile smoke``: papermill executes every
notebook into runs/smoke/ (reusing the cached smoke runs that nbval and earlier builds trained), then
jupyter-book builds _build/html. It checks that every chapter is rendered and that no notebook holds an
error output.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cmrlib import book, experiments

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
OWN = ["intro", "table1_something", "table2_kinetics", "table3_reduction", "table4_baselines", "table5_insertion",
       "table6_modules", "table7_runtime", "longrange", "claims", "reproducibility", "model_zoo"]


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_every_chapter_of_the_issue_has_a_notebook():
    names = {p.stem for p in NOTEBOOKS}
    assert set(OWN) <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_starts_with_a_title_then_a_parameters_cell_of_literals(path):
    notebook = cells(path)
    assert notebook[0]["cell_type"] == "markdown" and source(notebook[0]).startswith("# "), "first a markdown title"
    code = [c for c in notebook if c["cell_type"] == "code"]
    assert code and "parameters" in code[0].get("metadata", {}).get("tags", []), "first code cell tagged parameters"
    tree = ast.parse(source(code[0]))
    names = []
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            continue
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1, ast.unparse(statement)
        names.append(statement.targets[0].id)
        value = statement.value
        if isinstance(value, ast.Call):  # only os.environ.get("CMR_...", literal) is allowed
            assert ast.unparse(value.func) == "os.environ.get", ast.unparse(statement)
            ast.literal_eval(value.args[1])
        else:
            ast.literal_eval(value)
    assert "profile" in names
    for cell in code:  # no Agg backend: it turns glued figures into text
        assert "matplotlib.use(" not in source(cell)
    if path.stem in OWN:  # papermill skips a parameter line with a second "=" (e.g. in its comment)
        for line in source(code[0]).splitlines():
            assert line.count("=") <= 1, line


@pytest.mark.parametrize("name", [n for n in OWN if n not in ("intro", "reproducibility", "model_zoo")])
def test_pages_that_train_take_the_force_parameter(name):
    import papermill

    declared = papermill.inspect_notebook(str(ROOT / "book" / f"{name}.ipynb"))
    assert {"profile", "retrain_before"} <= set(declared)


def test_toc_points_at_the_executed_notebooks_of_the_profile():
    text = book.toc_text("smoke")
    for path in NOTEBOOKS:
        assert f"runs/smoke/{path.stem}" in text
    assert "root: runs/smoke/intro" in text.splitlines()
    assert (ROOT / "_toc.yml").read_text() == book.toc_text(book.DEFAULT_PROFILE), \
        "the committed _toc.yml is stale: `python -m cmrlib book --profile cpu` (or cmrlib.book.write_toc('cpu')) rewrites it"


def test_config_never_executes_notebooks():
    text = (ROOT / "_config.yml").read_text()
    assert 'execute_notebooks: "off"' in text and "only_build_toc_files: true" in text


def test_unknown_profile_fails_at_once_with_the_choices():
    result = subprocess.run([sys.executable, "-m", "cmrlib", "book", "--profile", "laptop"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert "unknown profile 'laptop'" in result.stderr and "cpu" in result.stderr


def test_unknown_notebook_is_rejected():
    with pytest.raises(ValueError, match="unknown notebook"):
        book.execute("smoke", ["table99"])


def test_papermill_with_a_bad_parameter_fails_in_the_first_cells(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="unknown method"):
        papermill.execute_notebook(str(ROOT / "book" / "table1_something.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": "smoke", "methods": "tsn,cmrr"}, kernel_name="python3",
                                   progress_bar=False, cwd=str(ROOT / "book"))
    executed = json.loads((tmp_path / "out.ipynb").read_text())
    failed = [i for i, c in enumerate(executed["cells"]) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    first_code = [i for i, c in enumerate(executed["cells"]) if c["cell_type"] == "code"]
    assert failed and failed[0] <= first_code[2], "the error comes before any training"


@pytest.mark.slow
def test_smoke_book_builds_every_chapter_without_errors():
    env = {**os.environ, "CMR_PROFILE": "smoke"}
    result = subprocess.run([sys.executable, "-m", "cmrlib", "book", "--profile", "smoke"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for path in NOTEBOOKS:
        executed = experiments.root() / "runs" / "smoke" / f"{path.stem}.ipynb"
        assert executed.exists(), path.stem
        assert book.notebook_errors(executed) == [], path.stem
        html = ROOT / "_build" / "html" / "runs" / "smoke" / f"{path.stem}.html"
        assert html.exists(), f"chapter {path.stem} missing from the HTML"
    intro = (ROOT / "_build" / "html" / "runs" / "smoke" / "intro.html").read_text()
    assert "inconclusive" in intro  # the verdict summary is glued in from the claims chapter
