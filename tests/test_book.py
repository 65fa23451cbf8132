"""The book: notebook structure, the toc, bad parameters, and a smoke build of the whole book.

The smoke build (marked slow) runs ``python -m cmrlib book --profile smoke``: papermill executes every
notebook into runs/smoke/ (reusing the committed smoke runs; nbval runs only the method chapters), then
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
METHODS = [p for p in NOTEBOOKS if p.stem.startswith("methods_")]
RESULTS = [p for p in NOTEBOOKS if not p.stem.startswith("methods_")]  # pages that read like a paper
HIDING = ("hide-input", "remove-input", "remove-cell", "hide-cell")  # jupyter-book 1.x tags that hide code


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell, key="source"):
    return "".join(cell[key]) if isinstance(cell[key], list) else cell[key]


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def hidden(cell):
    return any(tag in tags(cell) for tag in HIDING)


# A displayed value that is (almost surely) a DataFrame: a bare name or subscript, a DataFrame method, or a
# cmrlib page/frame/table builder. It would show pandas' index column; cmrlib.show.table(...) hides it.
FRAME_METHODS = {"round", "reset_index", "unstack", "agg", "aggregate", "assign", "drop_duplicates", "set_index",
                 "sort_values", "head", "tail", "describe", "pivot", "pivot_table", "merge", "rename", "median",
                 "mean", "sum", "to_frame", "query", "drop"}


def shows_a_frame(node) -> bool:
    if isinstance(node, ast.IfExp):
        return shows_a_frame(node.body) or shows_a_frame(node.orelse)
    if isinstance(node, (ast.Name, ast.Subscript)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if ast.unparse(node.func) == "show.table":
            return False
        return node.func.attr in FRAME_METHODS or node.func.attr.endswith(("_page", "_frame", "_table"))
    return False


def frames_shown_with_an_index(code: str) -> list:
    """The expressions of a cell that display a DataFrame with its index: the cell's last expression, and
    the argument of any top-level display(...)."""
    body = ast.parse(code).body
    shown = []
    for statement in body:
        if not isinstance(statement, ast.Expr):
            continue
        value = statement.value
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "display":
            shown += [arg for arg in value.args if shows_a_frame(arg)]
        elif statement is body[-1] and shows_a_frame(value):
            shown.append(value)
    return [ast.unparse(node) for node in shown]


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_removed_from_the_page(path):
    parameters = next(c for c in cells(path) if c["cell_type"] == "code")
    assert "remove-cell" in tags(parameters), f"{path.stem}: tag the parameters cell remove-cell"


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.stem)
def test_results_pages_collapse_plot_and_glue_code(path):
    for index, cell in enumerate(cells(path)):
        if cell["cell_type"] != "code" or "parameters" in tags(cell):
            continue
        code = source(cell)
        if any(marker in code for marker in ("plt.", "sns.", "glue(")):
            assert hidden(cell), f"{path.stem} cell {index}: plotting or glue code needs hide-input (or remove-input)"


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.stem)
def test_results_pages_show_tables_without_the_index(path):
    for index, cell in enumerate(cells(path)):
        if cell["cell_type"] == "code" and "parameters" not in tags(cell):
            shown = frames_shown_with_an_index(source(cell))
            assert not shown, f"{path.stem} cell {index}: display {shown} through show.table(...), without the index"


def test_the_table_check_catches_frames_and_passes_show_table():
    assert frames_shown_with_an_index("table = ex.ablation_page(runs)\ntable") == ["table"]
    assert frames_shown_with_an_index("runs[['label', 'top1']].round(3)") == ["runs[['label', 'top1']].round(3)"]
    assert frames_shown_with_an_index("claims.differences_frame(runs, 'TIM')")
    assert frames_shown_with_an_index("ex.zoo_page(p) if len(x) else print('none')")
    assert frames_shown_with_an_index("display(scores.round(3))\nx = 1")
    assert not frames_shown_with_an_index("show.table(ex.zoo_page(p)) if len(x) else print('none')")
    assert not frames_shown_with_an_index("display(show.table(scores))\nshow.table(summary.round(3))")
    assert not frames_shown_with_an_index("table\nplt.show()")


def test_show_table_drops_the_index_and_keeps_a_named_one_as_columns():
    import pandas as pd

    from cmrlib import show

    frame = pd.DataFrame({"label": ["TSN", "CMR"], "top1": [51.33, 49.5]}, index=[7, 9])
    html = show.table(frame)._repr_html_()
    assert "<th>7</th>" not in html and "<th></th>" not in html and "<td>51.33</td>" in html
    assert repr(show.table(frame)).splitlines() == ["label  top1", "  TSN 51.33", "  CMR 49.50"]
    grouped = frame.groupby("label", sort=False)["top1"].mean()  # index "label" carries the labels
    assert list(show.table(grouped).frame.columns) == ["label", "top1"]
    wide = pd.DataFrame({"label": ["A", "A"], "frames": [8, 16], "ms": [1.0, 2.0]}).pivot(index="label", columns="frames")
    assert "frames" not in show.table(wide["ms"])._repr_html_()  # no orphan header cell for the columns' name


@pytest.mark.parametrize("path", METHODS, ids=lambda p: p.stem)
def test_method_chapters_keep_their_code_visible(path):
    for index, cell in enumerate(cells(path)):
        if cell["cell_type"] == "code" and "parameters" not in tags(cell):
            assert not hidden(cell), f"{path.stem} cell {index}: a method chapter teaches with its code: do not hide it"


def _notebook(cells_):
    return {"cells": cells_, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _code(cell_id, text, cell_tags):
    return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": {"tags": cell_tags},
            "outputs": [], "source": text}


def test_propagate_tags_hides_the_injected_parameters_like_the_parameters_cell(tmp_path):
    path = tmp_path / "page.ipynb"
    path.write_text(json.dumps(_notebook([
        _code("a", "profile = 'smoke'", ["parameters", "remove-cell"]),
        _code("b", "profile = 'cpu'", ["injected-parameters"]),
        _code("c", "print(profile)", ["hide-input"])])))
    book._propagate_tags(path)
    tagged = [c["metadata"]["tags"] for c in json.loads(path.read_text())["cells"]]
    assert tagged == [["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["hide-input"]]


def test_papermill_run_of_the_book_hides_the_injected_parameters_cell(tmp_path):
    """book._execute_one (papermill, then _propagate_tags): the cell papermill injects is removed from the page."""
    page = tmp_path / "page.ipynb"
    page.write_text(json.dumps(_notebook([
        {"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# A page"},
        _code("p", "profile = 'smoke'", ["parameters", "remove-cell"]),
        _code("q", "print(profile)", [])])))
    output = tmp_path / "out.ipynb"
    seconds, error = book._execute_one(str(page), str(output), {"profile": "cpu"}, str(tmp_path))
    assert error is None
    executed = json.loads(output.read_text())["cells"]
    injected = [c for c in executed if "injected-parameters" in tags(c)]
    assert len(injected) == 1 and "remove-cell" in tags(injected[0])
    assert "cpu" in "".join(source(o, "text") for o in executed[-1]["outputs"] if "text" in o)


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
        f"the committed _toc.yml is stale: cmrlib.book.write_toc({book.DEFAULT_PROFILE!r}) rewrites it"


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
    result = subprocess.run([sys.executable, "-m", "cmrlib", "book", "--profile", "smoke", "--reexecute"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for path in NOTEBOOKS:
        executed = experiments.root() / "runs" / "smoke" / f"{path.stem}.ipynb"
        assert executed.exists(), path.stem
        assert book.notebook_errors(executed) == [], path.stem
        html = ROOT / "_build" / "html" / "runs" / "smoke" / f"{path.stem}.html"
        assert html.exists(), f"chapter {path.stem} missing from the HTML"
    intro = (ROOT / "_build" / "html" / "runs" / "smoke" / "intro.html").read_text()
    assert "inconclusive" in intro  # the verdict summary is glued in from the claims chapter


def test_a_page_is_reused_only_while_its_committed_inputs_are_unchanged(tmp_path, monkeypatch):
    """``make book`` on a clean clone executes no page whose source, code and runs are those it was made from; a
    committed new result, an uncommitted change or --reexecute executes it again."""
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(tmp_path)]
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.ipynb").write_text(json.dumps(_notebook([
        _code("p", "profile = 'cpu'", ["parameters", "remove-cell"]), _code("q", "print(profile)", [])])))
    (tmp_path / "cmrlib").mkdir()
    (tmp_path / "cmrlib" / "a.py").write_text("A = 1\n")
    result = tmp_path / "runs" / "smoke" / "bench" / "run" / "final.json"
    result.parent.mkdir(parents=True)
    result.write_text("{}\n")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "inputs"], check=True)
    monkeypatch.setenv("CMR_ROOT", str(tmp_path))

    def executed(**options):
        lines = []
        book.execute("smoke", warm=False, jobs=1, log=lines.append, **options)
        return "reused" not in lines[0]

    assert executed()
    page = tmp_path / "runs" / "smoke" / "intro.ipynb"
    assert json.loads(page.read_text())["metadata"]["cmr_page_inputs"] == book.page_inputs("intro", "smoke")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "the executed page"], check=True)
    assert not executed()  # committing the page itself changes none of its inputs
    assert executed(reexecute=True)
    result.write_text('{"val_top1": 0.5}\n')
    assert book.page_inputs("intro", "smoke") is None and executed()  # uncommitted: executed, key None
    assert json.loads(page.read_text())["metadata"]["cmr_page_inputs"] is None
    subprocess.run([*git, "commit", "-qam", "a new result"], check=True)
    assert executed() and not executed()
