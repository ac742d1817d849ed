"""Recipes as DVC experiments, scored on the validation split.

A recipe is params.yaml with some settings changed, so DVC's experiments run it: the whole
pipeline again in a copy of the repository, its params, metrics and per-clip tables kept
as a git commit under refs/exps, listed by `dvc exp show`. `python -m l2s.evaluation.ablation`
writes the commands (`--queue`):

    NAME --set KEY=VALUE ... --seeds 0 1 --queue   # a recipe, once per seed: NAME-s0, NAME-s1
    NAME --preprocess KEY=VALUE ... --queue        # the same on data made with other settings
    --study STUDY --queue                          # each recipe of studies.STUDY with its models

Each experiment sets test.split=val (the test split stays unseen while a default is
chosen) and test.naturalness=false (DNSMOS chooses nothing and took two thirds of the
scoring). `dvc queue start` runs them, `dvc exp show` is their table, and

    --table --experiments NAME ... [--against NAME]

adds what DVC does not compute: each recipe's error rate with its 95 % interval over the
validation clips, and its paired difference from another recipe on the same clips, from
the per-clip transcripts each experiment committed (reports/wer/<model>/<lang>.csv).
"""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
from collections.abc import Iterator

import yaml

from l2s import config, paths
from l2s.evaluation import text

log = logging.getLogger(__name__)

# what every recipe experiment sets besides its own changes
VALIDATION = ("test.split=val", "test.naturalness=false")
SEED = re.compile(r"^(?P<recipe>.+)-s(?P<seed>\d+)$")


def _value(value) -> str:
    """A value in the override grammar DVC's -S reads (Hydra's): YAML flow style."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...").strip()


def set_params(prefix: str, changes: dict, current: dict) -> list[str]:
    """-S items that lay `changes` (nested keys dotted or as dicts) over params.yaml's section
    `prefix` (`current`: its present content). A dict value replaces what is there, as a
    recipe means it (`model: {}` is no memory, not "no change"): DVC would merge it, so
    the key is removed first. `++` sets a key whether or not params.yaml has it."""
    items = []
    for key, value in changes.items():
        path, here = f"{prefix}.{key}", current
        for part in key.split("."):
            here = here.get(part) if isinstance(here, dict) else None
        if isinstance(value, dict) and here is not None:
            items.append(f"~{path}")
        items.append(f"++{path}={_value(value)}")
    return items


def _params_file() -> dict:
    return yaml.safe_load((paths.root() / "params.yaml").read_text(encoding="utf-8"))


def recipe(name: str, overrides: dict, seeds: list[int], data: dict | None = None) -> list[tuple[str, list[str]]]:
    """(experiment name, -S items) of `name`, once per seed: the train `overrides` for every
    model of params.yaml, and `data` ({"preprocess": {...}}) for its data."""
    current = _params_file()
    changes = [
        item for section, values in (data or {}).items() for item in set_params(section, values, current[section])
    ]
    changes += set_params("train", overrides, current["train"])
    return [(f"{name}-s{seed}", [*VALIDATION, *changes, f"train.seed={seed}"]) for seed in seeds]


def study(name: str) -> list[tuple[str, list[str]]]:
    """(experiment name, -S items) of each recipe and seed of studies.<name>: the study's
    models in place of params.yaml's, each with the recipe over its own train overrides
    (what the hand-written runner trains as <study>_<recipe>_<model>), and every model on
    each of its languages as the evaluations."""
    params, current = config.load(), _params_file()
    if name not in params.studies:
        raise config.ConfigError(f"unknown study {name!r}; params.yaml studies: {', '.join(params.studies) or 'none'}")
    s = params.studies[name]
    experiments = []
    for recipe_name, overrides in s.recipes.items():
        for seed in s.seeds:
            items = [*VALIDATION, *(f"~models.{m}" for m in current["models"])]
            items += [f"~evaluations.{key}" for key in current["evaluations"]]
            for model, entry in s.models.items():
                train = {**entry.train, **overrides, "seed": seed}
                items.append(f"++models.{model}={_value({'languages': entry.languages, 'train': train})}")
                items += [
                    f"++evaluations.{model}-{lang}={_value({'model': model, 'lang': lang})}" for lang in entry.languages
                ]
            experiments.append((f"{name}-{recipe_name}-s{seed}", items))
    return experiments


def queue(experiments: list[tuple[str, list[str]]]) -> list[list[str]]:
    """Queue each experiment (`dvc exp run --queue`); returns the commands run."""
    commands = []
    for name, items in experiments:
        command = ["dvc", "exp", "run", "--queue", "-n", name, *(a for item in items for a in ("-S", item))]
        log.info("%s", " ".join(command))
        subprocess.run(command, cwd=paths.root(), check=True)
        commands.append(command)
    log.info("queued %d experiments: run them with `dvc queue start`, then `dvc exp show`", len(experiments))
    return commands


def commits(names: list[str]) -> dict[str, str]:
    """name -> commit of each experiment of this repository called `name` or `name-s<seed>`
    (the seeds of a recipe); an error names those not found."""
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps"],
        cwd=paths.root(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    found = {ref.rsplit("/", 1)[-1]: sha for ref, _, sha in (line.partition(" ") for line in refs if line)}
    kept = {exp: sha for exp, sha in found.items() if exp in names or ((m := SEED.match(exp)) and m["recipe"] in names)}
    missing = [n for n in names if not any(exp == n or exp.startswith(f"{n}-s") for exp in kept)]
    if missing:
        raise FileNotFoundError(f"no DVC experiments named {missing} (dvc exp show lists them: {sorted(found)})")
    return kept


def _show(commit: str, path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=paths.root(), capture_output=True, text=True, check=True
    ).stdout


def heard_errors(commit: str) -> Iterator[tuple[str, str, int, int]]:
    """(evaluation, clip, edits, reference length) of the recogniser on every clip an
    experiment scored: words, or characters in a language written without spaces."""
    import pandas as pd

    params = yaml.safe_load(_show(commit, "params.yaml"))
    for key, ev in params["evaluations"].items():
        unit = ("word_edits", "words") if text.spaced(ev["lang"]) else ("char_edits", "chars")
        table = pd.read_csv(
            io.StringIO(_show(commit, f"reports/wer/{ev['model']}/{ev['lang']}.csv")), keep_default_na=False
        )
        for row in table.to_dict("records"):
            yield key, row["clip_id"], row[unit[0]], row[unit[1]]


def table(names: list[str], against: str | None = None) -> str:
    """A markdown table of DVC experiments: a row per recipe (its seeds pooled), each
    evaluation's WER (CER for an unspaced language) and STOI as means over the seeds, the
    mean error rate over every clip with its 95 % interval, and its paired difference from
    recipe `against` (default: the first) on the clips both scored."""
    import pandas as pd

    from l2s.evaluation.ablation import compare, pool_clips

    found = commits(names)
    rows = []
    for exp, commit in found.items():
        recipe_name = exp if exp in names else SEED.match(exp)["recipe"]
        summary = json.loads(_show(commit, "reports/metrics/summary.json"))
        split = yaml.safe_load(_show(commit, "params.yaml"))["test"]["split"]
        for key, figures in summary.items():
            lang = key.rsplit("-", 1)[-1]
            errors = figures["wer"] if text.spaced(lang) else figures["cer"]
            rows.append(
                {"recipe": recipe_name, "exp": exp, "split": split, "evaluation": key, "error": errors, **figures}
            )
    frame = pd.DataFrame(rows)
    order = [n for n in names if n in set(frame.recipe)]
    against = against or order[0]
    clips = {
        name: pool_clips(row for exp in frame[frame.recipe == name].exp.unique() for row in heard_errors(found[exp]))
        for name in order
    }
    evaluations = list(dict.fromkeys(frame.evaluation))
    units = {key: "WER" if text.spaced(key.rsplit("-", 1)[-1]) else "CER" for key in evaluations}
    lines = [
        "| recipe | split | seeds | "
        + " | ".join(f"{key} {units[key]} / STOI" for key in evaluations)
        + f" | mean WER/CER [95 % CI over clips] | minus {against} [95 % CI] |",
    ]
    lines.append("|" + "---|" * (lines[0].count("|") - 1))
    seed_means = frame.groupby(["recipe", "exp"]).error.mean()
    for recipe_name in order:
        group = frame[frame.recipe == recipe_name]
        cells = []
        for key in evaluations:
            g = group[group.evaluation == key]
            cells.append(f"{g.error.mean():.0%} / {g.stoi.mean():.3f}" if not g.empty else "")
        pooled, difference = compare(
            clips[recipe_name],
            clips[against] if recipe_name != against else {},
            seed_means[recipe_name],
            seed_means[against],
        )
        splits = ", ".join(sorted(group.split.unique()))
        lines.append(
            f"| {recipe_name} | {splits} | {group.exp.nunique()} | "
            + " | ".join(cells)
            + f" | {pooled} | {difference} |"
        )
    return "\n".join(lines)
