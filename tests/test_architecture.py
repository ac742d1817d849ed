"""The package's shape: each DVC stage depends on all the code it runs, and imports run one
way between the halves of the pipeline (corpus -> data <- vocoder <- vcagan <- evaluation).

Both read the source statically, so they need nothing built or run. Imports inside
functions count as much as those at the top: a stage runs them all the same.
"""

import ast
import json
import re
from pathlib import Path

import yaml

from tests.helpers import REPO


def _module_file(name: str) -> Path | None:
    """The file of an l2s module or package, or None when `name` is none (an attribute)."""
    path = REPO.joinpath(*name.split("."))
    if (path / "__init__.py").exists():
        return path / "__init__.py"
    if path.with_suffix(".py").exists():
        return path.with_suffix(".py")
    return None


def _imported(source: str, package: bool = False) -> set[str]:
    """The l2s modules a piece of Python imports, with the packages above them (whose
    __init__ runs too); `from l2s.x import y` counts y when it is a module itself.

    Imports inside functions count, except in a package's __init__ (`package`): importing
    a package runs its top level only (l2s/__init__.py imports `l2s.speak` on first use)."""
    found = set()
    tree = ast.parse(source)
    nodes = (
        [n for top in tree.body if not isinstance(top, ast.FunctionDef) for n in ast.walk(top)]
        if package
        else ast.walk(tree)
    )
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] != "l2s" or _module_file(name) is None:
                continue
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


def _notebook_source(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    # IPython's ! and % lines are not Python
    return "\n".join(line for cell in code for line in cell.splitlines() if not line.lstrip().startswith(("!", "%")))


def closure(roots: set[str]) -> set[Path]:
    """Files of every l2s module that importing `roots` (module names) can run."""
    todo, seen = list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        todo += _imported(path.read_text(encoding="utf-8"), package=path.name == "__init__.py") - seen
    return {_module_file(name).relative_to(REPO) for name in seen}


def stage_code(stage: dict) -> set[Path]:
    """The l2s files a dvc.yaml stage runs: what its notebooks (in its command or its
    deps) and the modules its command runs (`python -m`) import, transitively."""
    cmd = stage["cmd"]
    notebooks = set(re.findall(r"(?<![/\w])notebooks/[\w.-]+\.ipynb", cmd))
    notebooks |= {d for d in _dep_paths(stage) if d.startswith("notebooks/") and d.endswith(".ipynb")}
    roots = set(re.findall(r"-m (l2s[\w.]*)", cmd))
    for nb in notebooks:
        roots |= _imported(_notebook_source(REPO / nb))
    return closure(roots)


def _dep_paths(stage: dict) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]


def uncovered(stage: dict) -> list[str]:
    deps = [Path(d) for d in _dep_paths(stage)]
    return sorted(str(f) for f in stage_code(stage) if not any(f == d or d in f.parents for d in deps))


def _stages() -> dict[str, dict]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: s.get("do", s) for name, s in stages.items()}


def test_every_stage_depends_on_the_code_it_runs():
    missing = {name: gaps for name, stage in _stages().items() if (gaps := uncovered(stage))}
    assert not missing, f"dvc.yaml stages run code they do not depend on (add it to their deps): {missing}"


def test_every_code_dependency_exists():
    """A module moved or deleted leaves a dep DVC cannot hash: the stage fails at its turn."""
    gone = {
        name: [d for d in _dep_paths(stage) if d.startswith(("l2s", "notebooks")) and not (REPO / d).exists()]
        for name, stage in _stages().items()
    }
    assert not any(gone.values()), f"dvc.yaml deps that do not exist: {gone}"


def test_the_closure_follows_imports_inside_functions_and_packages():
    # the training notebook reaches the model through the trainer, speak the face
    # tracker inside a method
    assert Path("l2s/data/facecrop.py") in closure({"l2s.vcagan.speak"})
    train = stage_code(_stages()["train"])
    assert {Path("l2s/vcagan/model.py"), Path("l2s/vcagan/__init__.py"), Path("l2s/__init__.py")} <= train
    assert uncovered({"cmd": "python -m l2s.vcagan.train x", "deps": ["l2s/vcagan/train.py"]})


# the halves of the pipeline, in the order they may import each other: each may import
# the shared top-level modules and the halves listed after it, never one before it
LAYERS = {
    # the motion study renders embedded-corpus videos again (evaluation.motion_cost)
    "evaluation": {"vcagan", "vocoder", "corpus", "data"},
    "vcagan": {"vocoder", "data"},  # the neural vocoder stands in for Griffin-Lim
    "vocoder": {"data"},
    "corpus": {"data"},
    "data": set(),
}


def test_imports_run_one_way():
    wrong = []
    for half, allowed in LAYERS.items():
        for path in sorted((REPO / "l2s" / half).rglob("*.py")):
            for name in _imported(path.read_text(encoding="utf-8")):
                parts = name.split(".")
                if len(parts) > 1 and parts[1] in LAYERS and parts[1] != half and parts[1] not in allowed:
                    wrong.append(f"{path.relative_to(REPO)} imports {name}")
    assert not wrong, wrong
