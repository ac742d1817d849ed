"""Training-recipe ablations, scored on the validation split: `python -m l2s.evaluation.ablation`.

Whole recipes run as DVC experiments (`--queue`, l2s.evaluation.experiments: `dvc exp show`
is their table, `--table --experiments` adds intervals). What this runner trains itself
is what an experiment of the whole pipeline cannot be: the lip reader alone
(`--reader-only`), a decoder trained from another run's frozen reader (`--from-reader`),
and data made again from a larger corpus that keeps this repository's validation clips
(`--corpus`). The rows it made before experiments existed stay in reports/ablations.csv.

    python -m l2s.evaluation.ablation ctc5 --set ctc_weight=5 window=75 --seeds 0 1
    python -m l2s.evaluation.ablation --study multilingual
    python -m l2s.evaluation.ablation default_bf16 --from-reader default --set precision=bf16

The first trains a model of params.yaml (`--model`, default the first) with the given train
overrides once per seed into models/ablations/<name>/s<seed>/ (a finished run is reused),
then speaks each of its languages' validation clips and scores them as the test and wer
stages score the test split: STOI and ESTOI of Griffin-Lim audio, WER and CER of the
project's recogniser (models/asr/<lang>, which never trains the generator), and the lip
reader's phoneme error rate. Rows go to reports/ablations.csv (one per name, seed and
language, with the training's step time and compute), so that defaults are chosen on
validation data and the test split stays unseen. The second runs every row of a study
in params.yaml (`studies:`): each of its models (languages + train overrides) with each
of its recipes, named `<study>_<recipe>_<model>`. `--rescore` scores every row again
(after the recogniser was retrained, say). A whole run also keeps its state at the end of
the lip-reading pre-training (reader.pt), and the third starts each seed there: the
frozen reader is shared, and only what follows it trains again (in bf16 here).

    python -m l2s.evaluation.ablation temporal --reader-only --set "model={temporal_blocks: 2}"
    python -m l2s.evaluation.ablation similar --reader-only --preprocess crop.align=similarity
    python -m l2s.evaluation.ablation utt120 --reader-only --corpus utterances_per_speaker=120
    python -m l2s.evaluation.ablation --table [--reader-only] [--against NAME]

`--reader-only` trains the lip-reading pre-training alone and scores its lip reading
(reports/reader_ablations.csv); `--preprocess` and `--corpus` make its data again with
other preprocess or embedded-corpus settings in a scratch repository (a larger corpus keeps
this repository's validation clips). Each run keeps its per-clip tables, so `--table` gives
every row's mean error with a 95 % bootstrap interval over the validation clips and its
paired difference from another row (l2s.evaluation.bootstrap).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import functools
import logging
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
import yaml

from l2s import config, paths
from l2s.evaluation import experiments, lipreading, test, text, wer
from l2s.evaluation.lipreading import LipReader
from l2s.vcagan import train

log = logging.getLogger(__name__)

TABLE = "ablations.csv"
READER_TABLE = "reader_ablations.csv"  # lip readers alone (--reader-only): what the lips carry


def with_overrides(
    params: config.Params, model: str, overrides: dict, entry: config.ModelEntry | None = None
) -> config.Params:
    """params with `overrides` laid over the train settings of `model` (or of `entry`, a
    model that params.yaml's models do not list, such as a study's)."""
    entry = entry or params.models[model]
    entry = dataclasses.replace(entry, train={**entry.train, **overrides})
    evaluations = {f"{model}-{lang}": config.Evaluation(model, lang) for lang in entry.languages}
    params = dataclasses.replace(
        params, models={**params.models, model: entry}, evaluations={**params.evaluations, **evaluations}
    )
    params.train_config(model)  # a bad override fails before training
    return params


@contextlib.contextmanager
def variant_repository(folder: Path, changes: dict, raw_from: Path | None = None) -> Iterator[config.Params]:
    """A scratch repository at `folder`, with this repository's params.yaml under `changes`
    (nested sections merged: {"corpus": {"motion": {"blinks": False}}}), in which the
    stages' code runs while the context is open (l2s.paths.rooted_at); yields its params.
    `raw_from`: a repository whose data/raw/<lang> folders it reads (linked, never written:
    preprocessing only reads raw videos), instead of building its own. The folder is
    removed when the context ends without an error; after one, what it built is kept for
    the next try."""
    import yaml

    here, folder = paths.root(), folder.resolve()
    merged = yaml.safe_load((here / "params.yaml").read_text(encoding="utf-8"))
    _merge(merged, changes)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(merged, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with paths.rooted_at(folder):
        params = config.load()
        if raw_from is not None:
            for lang in params.languages:
                link = params.raw_dir(lang)  # a source's own path when it is absolute, else under folder
                if link.is_relative_to(folder) and not link.exists():
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(raw_from / link.relative_to(folder), target_is_directory=True)
        yield params
    shutil.rmtree(folder)


def _merge(into: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def variant(
    name: str,
    changes: dict,
    seeds: list[int],
    scratch: Path,
    overrides: dict | None = None,
    reader_only: bool = True,
) -> list[dict]:
    """Runs of `name` (the default recipe with the train `overrides`, `seeds`; the lip reader
    alone unless `reader_only` is false) on data made again in a scratch repository under
    `scratch` with `changes` to params.yaml's corpus and preprocess sections ({"preprocess":
    {"crop": {"align": "affine"}}}); runs and rows go to this repository. Preprocess changes
    alone read this repository's raw videos; corpus changes build the embedded corpus again
    (every language must be synthetic), and each rebuilt clip this repository holds keeps its
    split here (`pin_splits`), so a larger corpus adds training clips and is scored on the
    same validation clips, paired. Whole runs are heard by this repository's recognisers
    (models/asr, linked), which its own recorded speech trained."""
    from l2s.corpus import build
    from l2s.data import preprocess

    unknown = set(changes) - {"corpus", "preprocess"}
    if unknown:
        raise config.ConfigError(f"a data variant changes corpus and preprocess settings, not {sorted(unknown)}")
    here, rebuild = paths.root(), "corpus" in changes
    if rebuild:
        base = config.load()
        own = [lang for lang in base.languages if base.source(lang).source != "synthetic"]
        if own:
            raise config.ConfigError(f"corpus changes rebuild the embedded corpus; {own} are not synthetic")
        kept = {lang: kept_splits(lang) for lang in base.languages}
    with variant_repository(scratch / name, changes, raw_from=None if rebuild else here) as params:
        for lang in params.languages if not reader_only else ():
            recogniser = paths.asr_dir(lang)
            if not recogniser.exists():
                recogniser.parent.mkdir(parents=True, exist_ok=True)
                recogniser.symlink_to(here / recogniser.relative_to(paths.root()), target_is_directory=True)
        for lang in params.languages:
            if not (paths.processed_dir(lang) / "clips.csv").exists():  # a killed run keeps what it built
                if rebuild:
                    build.run(lang, params)
                    pin_splits(paths.raw_dir(lang) / build.MANIFEST, kept[lang])
                preprocess.run(lang, params)
                shutil.rmtree(paths.interim_dir(lang))  # the per-video cache: a gigabyte, not read again
        return run(name, overrides or {}, seeds, reader_only=reader_only, into=here, data=changes)


def kept_splits(lang: str) -> dict[str, str]:
    """utt_id -> split of every clip in this repository's processed `lang` (empty before
    its preprocess stage ran)."""
    folder = paths.processed_dir(lang)
    if not (folder / "clips.csv").exists():
        return {}
    with open(folder / "clips.csv", newline="", encoding="utf-8") as f:
        utt = {row["clip_id"]: row["utt_id"] for row in csv.DictReader(f)}
    return {
        utt[clip]: split
        for split in ("train", "val", "test")
        for clip in (folder / "splits" / f"{split}.txt").read_text(encoding="utf-8").split()
    }


def pin_splits(manifest: Path, splits: dict[str, str]) -> None:
    """Give each row of a rebuilt corpus's manifest the split its utterance has in `splits`,
    and every utterance new to it `train`: the corpus's own split column, which preprocessing
    keeps (l2s.data.sources)."""
    with open(manifest, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, rows = [c for c in reader.fieldnames or [] if c != "split"], list(reader)
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[*fields, "split"])
        writer.writeheader()
        writer.writerows({**row, "split": splits.get(row["utt_id"], "train")} for row in rows)


def training_compute(params: config.Params, model: str) -> float:
    """FLOP of a whole training run of `model`: each kind of step (lip-reading pre-training,
    the whole model before train.gan_start, after it) counted once and multiplied by its
    number of steps. R1's double backward is left out (torch's counter cannot follow it)."""
    from l2s.bench import training_flops

    cfg = params.train_config(model)
    reading = min(cfg.reader_steps, cfg.steps)
    plain = max(0, min(cfg.gan_start, cfg.steps) - reading)
    adversarial = cfg.steps - reading - plain
    with torch.random.fork_rng():
        trainer = train.Trainer(model, params, Path("unused"), Path("unused"), train.Dist(), torch.device("cpu"))
        total = 0.0
        for dataset, size, count, step in (
            (trainer.reader_set, cfg.reader_batch, reading, 0),
            (trainer.train_set, cfg.batch_size, plain, reading),
            (trainer.train_set, cfg.batch_size, adversarial, max(reading, cfg.gan_start)),
        ):
            if count:
                batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=size)))
                total += count * training_flops(trainer, batch, step)
    return total


def score_split(
    checkpoint: Path,
    lang: str,
    split: str = "val",
    seed: int = 0,
    keep: Path | None = None,
    reader: LipReader | None = None,
) -> dict:
    """STOI, ESTOI, recogniser WER/CER and lip-reading PER/WER of a model on one split,
    spoken and heard as the test and wer stages do it (l2s.evaluation.test.speak, wer.transcribe).
    `keep`: a folder for the per-clip tables (scores.csv, transcripts.csv, lipreading.csv),
    which the summary's intervals and paired comparisons read; `reader`: the words the lip
    reader reads (default: those of the language's training split)."""
    params = config.load()
    # no DNSMOS: a recipe is chosen by what is understood, and it took two thirds of the scoring
    cfg = dataclasses.replace(params.test, seed=seed, save_wav=True, save_mel=False, naturalness=False)
    with tempfile.TemporaryDirectory(prefix=f"l2s-{lang}-{split}-") as tmp:
        spoken = test.speak(checkpoint, lang, split, cfg, Path(tmp), reader)
        # the first recogniser alone: the second never chooses a recipe (asr.second)
        transcripts, heard = wer.transcribe(Path(tmp), lang, params, second=False)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for table in ("scores.csv", "lipreading.csv"):
                if (Path(tmp) / table).exists():
                    shutil.copyfile(Path(tmp) / table, keep / table)
            paths.write_csv(keep / "transcripts.csv", transcripts)
    row = {"stoi": spoken["stoi"], "estoi": spoken["estoi"], "wer": heard["wer"], "cer": heard["cer"]}
    if "lip_reading" in spoken:
        lips = spoken["lip_reading"]
        row.update(lip_per=lips["per"], lip_wer=lips["wer"], lip_cer=lips["cer"])
    return {k: round(float(v), 4) for k, v in row.items()}


def read_split(
    checkpoint: Path, lang: str, split: str = "val", out: Path | None = None, reader: LipReader | None = None
) -> dict:
    """The lip reader of `checkpoint` alone (front-end and CTC head, no speech) on one split:
    phoneme error rate, WER and CER as the test stage scores it; its lipreading.csv to `out`.
    `reader`: the words to read (default: those of the language's training split)."""
    from l2s.data.dataset import ClipDataset, ProcessedLanguage
    from l2s.vcagan.inference import language_index, load_generator
    from l2s.vcagan.model import normalise_frames

    data = ProcessedLanguage(lang)
    gen, meta = load_generator(checkpoint)
    language = language_index(gen, meta["languages"], lang)
    clips, reader, reading = ClipDataset(data, split), reader or LipReader(data), []
    with torch.no_grad():
        for batch in torch.utils.data.DataLoader(clips, batch_size=16):
            lengths = batch["valid_frames"]
            lang_ids = None if language is None else torch.full_like(lengths, language)
            logits = gen(normalise_frames(batch["frames"]), lengths, lang_ids, read_only=True).phoneme_logits
            reading += lipreading.read(logits, lengths, reader)
    with tempfile.TemporaryDirectory() as tmp:
        scores = test.lip_reading_scores(data, clips.rows, reading, lang, out or Path(tmp))["lip_reading"]
    return {f"lip_{k}": v for k, v in scores.items() if k != "ci95"}


def run(
    name: str,
    overrides: dict,
    seeds: list[int],
    model: str | None = None,
    entry: config.ModelEntry | None = None,
    reader_only: bool = False,
    into: Path | None = None,
    data: dict | None = None,
    from_reader: str | None = None,
) -> list[dict]:
    """Train `name` once per seed and score each language's validation split. `reader_only`:
    the lip-reading pre-training alone (train.reader_steps), scored by its lip reading, into
    reports/reader_ablations.csv: what the lips carry, for a quarter of a whole run's compute.
    `into`: the repository that keeps the runs and the table (default: the one whose data
    trains them; another one for data built elsewhere, as motion_cost --train-without does).
    `data`: the corpus and preprocess changes that data was made with, recorded in the rows.
    `from_reader`: a whole run's name; each seed starts from that run's state at the end of
    its pre-training (paths.READER, which whole runs keep) and trains only what follows, so
    the two differ only after it. The overrides may then change only what a resume allows
    (train.RESUMABLE: precision, steps, ...); the trainer refuses anything else."""
    into = into or paths.root()
    base = config.load()
    model = model or next(iter(base.models))
    if reader_only:
        steps = overrides.get("reader_steps", base.train_config(model).reader_steps)
        # the checkpoint at the last step is the reader (best.pt picks by the speech's STOI)
        overrides = {**overrides, "steps": steps, "gan_start": steps, "eval_every": steps}
    rows = []
    for seed in seeds:
        params = with_overrides(base, model, {**overrides, "seed": seed}, entry)
        cfg = params.train_config(model)
        out = into / "models" / "ablations" / name / f"s{seed}"
        trained = cfg.steps
        if from_reader:
            reader = into / "models" / "ablations" / from_reader / f"s{seed}" / paths.READER
            if not reader.exists():
                raise FileNotFoundError(f"{reader} does not exist: run {from_reader} (a whole run) with seed {seed}")
            trained -= min(cfg.reader_steps, cfg.steps)
            if not (out / paths.LAST).exists():
                out.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(reader, out / paths.LAST)  # resumed from there, with this run's settings
        if not (out / "metrics.json").exists():
            t0 = time.perf_counter()
            train.train(model, params, out, keep_reader=not reader_only, must_resume=bool(from_reader))
            (out / "seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
        seconds = float((out / "seconds.txt").read_text()) if (out / "seconds.txt").exists() else float("nan")
        total = training_compute(params, model)
        for lang in params.models[model].languages:
            if reader_only:
                scores = read_split(out / paths.LAST, lang, "val", out / f"lipreading_{lang}")
            else:
                scores = score_split(out / paths.BEST, lang, "val", seed=0, keep=out / f"val_{lang}")
            rows.append(
                {
                    "name": name,
                    "overrides": yaml.safe_dump(
                        overrides | (data or {}) | ({"from_reader": from_reader} if from_reader else {}),
                        default_flow_style=True,
                        width=10**6,
                    ).strip(),
                    "seed": seed,
                    "lang": lang,
                    **scores,
                    "steps": cfg.steps,
                    "train_s": round(seconds, 1),
                    "s_per_step": round(seconds / trained, 3),  # the steps this run trained
                    "tflop": round(total / 1e12, 1),
                    "cpu": _cpu(),
                }
            )
            log.info("%s seed %d %s: %s", name, seed, lang, scores)
    _append(into / "reports" / (READER_TABLE if reader_only else TABLE), rows)
    return rows


def study(name: str) -> list[dict]:
    """Every row of params.yaml's studies.<name>: each recipe with each model, each seed."""
    params = config.load()
    if name not in params.studies:
        raise config.ConfigError(f"unknown study {name!r}; params.yaml studies: {', '.join(params.studies) or 'none'}")
    s = params.studies[name]
    rows = []
    for recipe, overrides in s.recipes.items():
        for model, entry in s.models.items():
            rows += run(f"{name}_{recipe}_{model}", overrides, s.seeds, model, entry)
    return rows


def rescore() -> None:
    """Score every run of reports/ablations.csv again, from its checkpoint: after the
    recogniser was retrained, rows scored before and after would not compare."""
    path = paths.root() / "reports" / TABLE
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    for row in rows:
        run = paths.root() / "models" / "ablations" / row["name"] / f"s{row['seed']}"
        try:
            row.update(score_split(run / paths.BEST, row["lang"], "val", seed=0, keep=run / f"val_{row['lang']}"))
        except (FileNotFoundError, ValueError) as e:
            log.warning("%s seed %s %s keeps its old scores: %s", row["name"], row["seed"], row["lang"], e)
            continue
        log.info("%s seed %s %s: WER %s", row["name"], row["seed"], row["lang"], row["wer"])
    _append(path, rows)


def summary(path: Path | None = None, against: str | None = None) -> str:
    """reports/ablations.csv as a markdown table: a row per name, each language's
    validation WER (CER for an unspaced one), lip-reading WER, STOI and ESTOI as means
    over its seeds, with the seeds, the training time and the compute. Where the runs kept
    their clip tables (models/ablations/<name>/s<seed>/val_<lang>/), the generated speech's
    mean WER/CER over the languages with its interval over clips, and its paired difference
    from the row `against` (default: the first), as reader_summary gives them."""
    import pandas as pd

    table = pd.read_csv(path or paths.root() / "reports" / TABLE)
    table["words"] = [row.wer if text.spaced(row.lang) else row.cer for row in table.itertuples()]
    table["lip"] = [row.lip_wer if text.spaced(row.lang) else row.lip_cer for row in table.itertuples()]
    languages = list(table.lang.unique())
    units = {lang: "WER" if text.spaced(lang) else "CER" for lang in languages}
    against = against or table.name.iloc[0]
    reference = _kept_clips(against, languages, _heard_errors)
    lines = [
        "| name | seeds | "
        + " | ".join(f"{lang} {units[lang]} (lip) / STOI / ESTOI" for lang in languages)
        + f" | mean WER/CER [95 % CI over clips] | minus {against} [95 % CI] | s/step | TFLOP |",
    ]
    lines.append("|" + "---|" * (lines[0].count("|") - 1))
    seed_means = table.groupby(["name", "seed"]).words.mean()
    for name, group in table.groupby("name", sort=False):
        cells = []
        for lang in languages:
            g = group[group.lang == lang]
            if g.empty:
                cells.append("")
                continue
            m = g.mean(numeric_only=True)
            lip = f" ({m.lip:.0%})" if not pd.isna(m.lip) else ""
            cells.append(f"{m.words:.0%}{lip} / {m.stoi:.3f} / {m.estoi:.3f}")
        m = group.mean(numeric_only=True)
        seeds = ", ".join(str(s) for s in sorted(group.seed.unique()))
        compared = compare(
            _kept_clips(name, languages, _heard_errors),
            reference if name != against else {},
            seed_means[name],
            seed_means.get(against, pd.Series(dtype=float)),
        )
        tail = f" | {' | '.join(compared)} | {m.s_per_step:.3f} | {m.tflop:.1f} |"
        lines.append(f"| {name} | {seeds} | " + " | ".join(cells) + tail)
    return "\n".join(lines)


def reader_summary(path: Path | None = None, against: str | None = None, names: list[str] | None = None) -> str:
    """reports/reader_ablations.csv as a markdown table: a row per name, each language's
    validation phoneme error rate and lip-reading WER (CER for an unspaced language), mean
    over its seeds with the seeds' range, and the mean over the languages. Where the runs'
    clip tables are kept (models/ablations/<name>/s<seed>/lipreading_<lang>/), the mean PER
    of all seeds pooled, with a 95 % bootstrap interval over the validation clips, and its
    paired difference from the row `against` (default: the first) on the same clips, called
    lower or higher only where that interval excludes zero and every seed's mean PER is on
    the same side of every seed of `against` (the clips' interval misses the seeds' luck).
    `names`: only these rows, in this order."""
    import pandas as pd

    table = pd.read_csv(path or paths.root() / "reports" / READER_TABLE)
    if names:
        missing = set(names) - set(table.name)
        if missing:
            raise ValueError(f"no reader-only runs named {sorted(missing)} in {path or READER_TABLE}")
        table = pd.concat([table[table.name == name] for name in names])
    table["lip"] = [row.lip_wer if text.spaced(row.lang) else row.lip_cer for row in table.itertuples()]
    languages = list(table.lang.unique())
    units = {lang: "WER" if text.spaced(lang) else "CER" for lang in languages}
    against = against or table.name.iloc[0]
    reference = _kept_clips(against, languages, _read_errors)
    head = " | ".join(f"{lang} PER / {units[lang]}" for lang in languages)
    lines = [
        f"| name | seeds | {head} | mean PER (seeds' range) | mean PER [95 % CI over clips]"
        f" | minus {against} [95 % CI] | TFLOP |",
        "|" + "---|" * (len(languages) + 6),
    ]

    def spread(values: pd.Series) -> str:
        return f"{values.mean():.3f}" + (f" ({values.min():.3f}-{values.max():.3f})" if len(values) > 1 else "")

    for name, group in table.groupby("name", sort=False):
        cells = [
            f"{spread(g.lip_per)} / {g.lip.mean():.0%}" if not (g := group[group.lang == lang]).empty else ""
            for lang in languages
        ]
        per_seed = group.groupby("seed").lip_per.mean()
        seeds = ", ".join(str(s) for s in sorted(group.seed.unique()))
        pooled, difference = compare(
            _kept_clips(name, languages, _read_errors),
            reference if name != against else {},
            per_seed,
            table[table.name == against].groupby("seed").lip_per.mean(),
        )
        tail = f" | {spread(per_seed)} | {pooled} | {difference} | {group.tflop.mean():.1f} |"
        lines.append(f"| {name} | {seeds} | " + " | ".join(cells) + tail)
    return "\n".join(lines)


def _read_errors(run: Path, lang: str):
    """(clip, phoneme edits, phonemes) of a reader-only run's lip reading of one language."""
    import pandas as pd

    for table in sorted(run.glob(f"s*/lipreading_{lang}/lipreading.csv")):
        for row in pd.read_csv(table, keep_default_na=False).itertuples():
            yield (row.clip_id, *lipreading.phoneme_error(row.phonemes.split(), row.read_phonemes.split()))


def _heard_errors(run: Path, lang: str):
    """(clip, edits, reference length) of the recogniser on a run's generated speech of one
    language: words, or characters in a language written without spaces."""
    import pandas as pd

    unit = ("word_edits", "words") if text.spaced(lang) else ("char_edits", "chars")
    for table in sorted(run.glob(f"s*/val_{lang}/transcripts.csv")):
        for row in pd.read_csv(table, keep_default_na=False).to_dict("records"):
            yield row["clip_id"], row[unit[0]], row[unit[1]]


def _kept_clips(name: str, languages: list[str], errors) -> dict[tuple[str, str], tuple[float, int]]:
    """(language, clip) -> (edits, mean over the seeds; reference length) of ablation run
    `name`, from the clip tables its seeds kept (`errors`: _read_errors or _heard_errors);
    empty when none are kept."""
    run = paths.root() / "models" / "ablations" / name
    return pool_clips((lang, *row) for lang in languages for row in errors(run, lang))


def pool_clips(errors: Iterable[tuple[str, str, int, int]]) -> dict[tuple[str, str], tuple[float, int]]:
    """(group, clip) -> (edits, mean over the runs that scored the clip; reference length),
    from (group, clip, edits, length) rows of several runs (a recipe's seeds); a clip
    without reference text is left out. What `compare` takes."""
    edits: dict[tuple[str, str], list[int]] = {}
    lengths: dict[tuple[str, str], int] = {}
    for group, clip, e, n in errors:
        edits.setdefault((group, clip), []).append(e)
        lengths[group, clip] = n
    return {k: (sum(e) / len(e), lengths[k]) for k, e in edits.items() if lengths[k]}


def compare(clips: dict, reference: dict, seeds, reference_seeds) -> tuple[str, str]:
    """Table cells: the mean error rate over the languages of `clips` with its 95 % interval
    over the clips, and its paired difference from `reference` on the clips both scored,
    called lower or higher only where that interval excludes zero and every seed's mean
    (`seeds`) is on the same side of every seed of the reference: the clips' interval
    misses the training's own luck. "" where there is nothing to show."""
    from l2s.evaluation import bootstrap

    if not clips:
        return "", ""
    keys = list(clips)
    pooled = bootstrap.rate_interval([clips[k][0] for k in keys], [clips[k][1] for k in keys], [k[0] for k in keys])
    both = [k for k in keys if k in reference]
    if not both:
        return f"{pooled}", ""
    difference = bootstrap.paired_difference(
        [clips[k][0] for k in both], [reference[k][0] for k in both], [clips[k][1] for k in both], [k[0] for k in both]
    )
    if len(seeds) < 2 or len(reference_seeds) < 2:
        verdict = "one seed"
    elif difference.high < 0 and max(seeds) < min(reference_seeds):
        verdict = "lower"
    elif difference.low > 0 and min(seeds) > max(reference_seeds):
        verdict = "higher"
    else:
        verdict = "not shown"
    return f"{pooled}", f"{difference:+.3f} {verdict}"


def reader_confusions(names: list[str], top: int = 3) -> str:
    """The word substitutions of each reader-only run's lip reading on the validation split
    (models/ablations/<name>/s<seed>/lipreading_<lang>/lipreading.csv), per language: how
    many of the reference words were read as another word, and the most frequent pairs
    (on lips mostly homophenes: words that look alike, such as set/lay or a tone apart)."""
    import pandas as pd

    lines = ["| run | language | substituted words | most frequent (said -> read, times) |", "|---|---|---|---|"]
    for name in names:
        for table in sorted((paths.root() / "models" / "ablations" / name).glob("s*/lipreading_*/lipreading.csv")):
            lang, seed = table.parent.name.removeprefix("lipreading_"), table.parent.parent.name
            clips = pd.read_csv(table, keep_default_na=False)
            pairs, words = Counter(), 0
            for said, read in zip(clips.text, clips.read_text):
                reference = text.tokens(said, lang)
                words += len(reference)
                pairs.update(text.substitutions(reference, text.tokens(read, lang)))
            common = ", ".join(f"{a} -> {b} {n}" for (a, b), n in pairs.most_common(top))
            lines.append(f"| {name} {seed} | {lang} | {sum(pairs.values())} of {words} | {common} |")
    return "\n".join(lines)


def _append(path: Path, rows: list[dict]) -> None:
    """Add rows; a row of the same name, seed and language as an earlier one replaces it in place."""
    old = list(csv.DictReader(open(path, newline="", encoding="utf-8"))) if path.exists() else []
    new = {(r["name"], str(r["seed"]), r["lang"]): r for r in rows}
    merged = [new.pop((r["name"], r["seed"], r["lang"]), r) for r in old] + list(new.values())
    columns = list(dict.fromkeys(k for r in merged for k in r))
    paths.write_csv(path, merged, columns)


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _value(text_value: str):
    value = yaml.safe_load(text_value)
    try:  # YAML 1.1 reads 3e-3 as a string
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2s.evaluation.ablation", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="the row's name (and folder under models/ablations/)")
    parser.add_argument("--table", action="store_true", help="print reports/ablations.csv as a markdown table")
    parser.add_argument(
        "--against",
        metavar="NAME",
        help="with --table: the row each is compared with (default: the first)",
    )
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="train overrides, YAML values")
    for section, example in (("preprocess", "crop.align=affine"), ("corpus", "utterances_per_speaker=120")):
        parser.add_argument(
            f"--{section}",
            nargs="*",
            default=[],
            metavar="KEY=VALUE",
            help=f"make the data again with these {section} settings ({example}), in a scratch repository (--scratch)",
        )
    parser.add_argument(
        "--from-reader",
        metavar="NAME",
        help="start each seed from whole run NAME's state at the end of its pre-training; "
        "--set may then change only what a resume allows (precision, steps, ...)",
    )
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "l2s-variants")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--model", help="a model of params.yaml (default: the first)")
    parser.add_argument("--study", help="run every row of params.yaml's studies.<STUDY> instead")
    parser.add_argument("--rescore", action="store_true", help="score every row of the table again")
    parser.add_argument(
        "--confusions", nargs="+", metavar="NAME", help="the word substitutions of reader-only runs, per language"
    )
    parser.add_argument(
        "--reader-only",
        action="store_true",
        help="train and score the lip reader alone (the pre-training steps) into reports/" + READER_TABLE,
    )
    parser.add_argument(
        "--queue",
        action="store_true",
        help="queue the recipe (or --study) as DVC experiments on the validation split instead of training here "
        "(l2s.evaluation.experiments); `dvc queue start` runs them",
    )
    parser.add_argument(
        "--experiments",
        nargs="+",
        metavar="NAME",
        help="with --table: compare these DVC experiments (NAME, or its seeds NAME-s<seed>), not the runner's rows",
    )
    args = parser.parse_args(argv)
    if args.table and args.experiments:
        try:
            print(experiments.table(args.experiments, args.against))
        except (FileNotFoundError, config.ConfigError) as e:
            log.error("%s", e)
            return 2
        return 0
    if args.table:
        print(reader_summary(against=args.against) if args.reader_only else summary(against=args.against))
        return 0
    if args.confusions:
        print(reader_confusions(args.confusions))
        return 0
    if not args.name and not args.study and not args.rescore:
        parser.error("a name is needed (or --study, --rescore or --table)")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    try:
        overrides = {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}
        data: dict = {}
        for section in ("corpus", "preprocess"):
            for key, value in (item.split("=", 1) for item in getattr(args, section)):
                *inner, last = [section, *key.split(".")]
                _merge(data, functools.reduce(lambda nested, k: {k: nested}, reversed(inner), {last: _value(value)}))
    except ValueError:
        parser.error("--set, --corpus and --preprocess take KEY=VALUE items")
    if args.from_reader and (args.reader_only or data or args.study):
        parser.error(
            "--from-reader continues a whole run on this repository's data: "
            "not with --reader-only, --corpus, --preprocess or --study"
        )
    if args.queue and (args.reader_only or args.from_reader or "corpus" in data or args.rescore):
        # what a DVC experiment cannot be: it runs the whole pipeline in its own copy of the
        # repository, so it neither stops after the pre-training, nor starts from another
        # run's reader.pt, nor keeps the validation clips of a corpus built again
        parser.error("--queue runs whole recipes: not with --reader-only, --from-reader, --corpus or --rescore")
    try:
        if args.queue:
            experiments.queue(
                experiments.study(args.study)
                if args.study
                else experiments.recipe(args.name, overrides, args.seeds, data)
            )
        elif args.rescore:
            rescore()
        elif args.study:
            study(args.study)
        elif data:
            variant(args.name, data, args.seeds, args.scratch, overrides, reader_only=args.reader_only)
        else:
            run(
                args.name, overrides, args.seeds, args.model, reader_only=args.reader_only, from_reader=args.from_reader
            )
    except (config.ConfigError, FileNotFoundError, ValueError) as e:
        log.error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
