"""The repository's promises: layout, notebooks without outputs, one list of packages,
and a dvc.yaml whose stages read only params that exist."""

import json
import re
import tomllib

import yaml

from tests.helpers import REPO

TOP_LEVEL = {
    "notebooks",
    "l2s",
    "dvc.yaml",
    "params.yaml",
    "data",
    "reports",
    "tests",
    "environment.yml",
    "README.md",
    "pyproject.toml",
    "Makefile",
    ".ci",
    ".gitignore",
    ".dvc",
    ".dvcignore",
    "dvc.lock",
    "models",  # trained models, DVC-tracked (the train stage)
    "outputs",  # generated speech, DVC-tracked (the test stage)
}


def test_top_level_layout():
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    top = {p.split("/")[0] for p in tracked}
    assert top <= TOP_LEVEL, top - TOP_LEVEL


def test_notebooks_are_committed_without_outputs():
    # a saved output changes the notebook's hash, and with it every stage depending on it
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        dirty = [i for i, c in enumerate(cells) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, (
            f"{nb.name}: cells {dirty} have outputs; clear them (jupyter nbconvert --clear-output --inplace)"
        )
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), (
            f"{nb.name}: no parameters cell"
        )


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_pyproject_packages():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_name(d) for d in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    named = {_name(d) for d in pip if not d.startswith("-e")}
    assert named == wanted, {"only in environment.yml": named - wanted, "only in pyproject.toml": wanted - named}
    conda = {d.split("=")[0] for d in env["dependencies"] if isinstance(d, str)}
    assert {"python", "ffmpeg", "espeak-ng"} <= conda


def test_dvc_stages_read_existing_params():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        keys = [None]
        if "foreach" in stage:
            node = params
            for part in stage["foreach"].strip("${}").split("."):
                node = node[part]
            keys = list(node)
        body = stage.get("do", stage)
        for key in keys:
            for p in body.get("params", []):
                node = params
                for part in p.replace("${key}", str(key)).split("."):
                    assert isinstance(node, dict) and part in node, f"stage {name}: params.yaml has no {p} (item {key})"
                    node = node[part]
        # a notebook through papermill with the environment's kernel, or the module that does so
        assert ("papermill" in body["cmd"] and "-k python3" in body["cmd"]) or "python -m l2s." in body["cmd"]
        # the l2s of the folder the stage runs in: `dvc exp run --queue` runs it in a copy
        assert 'PYTHONPATH="$PWD" ' in body["cmd"], f"stage {name} would import the l2s that pip installed"
