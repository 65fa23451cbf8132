"""The project's packaging: environment.yml mirrors pyproject.toml, and the CLI dispatches."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r.replace(" ", "") for r in project["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_name(r): r.replace(" ", "") for r in pip_block if not r.startswith("-e")}
    assert listed == wanted, "environment.yml and pyproject.toml list different dependencies"


def test_torch_is_not_pinned_to_a_local_wheel():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_specs = [d for d in deps if _name(d) in ("torch", "torchvision")]
    assert sorted(torch_specs) == ["torch", "torchvision"], "install torch and torchvision by plain name"


def test_cli_lists_commands_and_rejects_unknown_ones():
    ok = subprocess.run([sys.executable, "-m", "cmrlib", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "flops" in ok.stdout and "train" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "cmrlib", "fly"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown command 'fly'" in bad.stderr
