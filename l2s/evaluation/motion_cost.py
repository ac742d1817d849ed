"""What each part of the corpus's motion costs the lip reader, read off the clips themselves.

    python -m l2s.evaluation.motion_cost models/ablations/<name>/s0 [more runs ...]

Every video of the embedded corpus records beside it (`<video>.align.json`) the largest head
turn (yaw, pitch, roll), drift and zoom, light change (gain, gamma, gradient) it holds, its
blinks and its encoder quality (crf); they differ from video to video. A lip reader scored
clip by clip (the `lipreading.csv` that `ablation --reader-only` and the test stage write)
then shows which of them go with reading errors: a least-squares fit of each clip's phoneme
error rate on these nuisances, with a constant per language (languages differ in what their
lips carry). A part's cost is what the fit says its nuisances add to the mean clip's phoneme
error rate against the part switched off (no turn, no drift, no blink, the photo's own light,
the best crf), with a 95 % bootstrap interval over clips.

This is a reading of one trained model, cheap enough to run on every run; it extrapolates
linearly from the range the corpus draws to zero. `--switch-off` measures instead of
extrapolating:

    python -m l2s.evaluation.motion_cost --switch-off models/ablations/<name>/s0/last.pt [more ...]

renders the validation videos of every language again with one part of corpus.motion
switched off at a time (and all of them), the rest of each video unchanged (speech, face,
timing and every other part's draws come from their own seeded streams), preprocesses them
as the stage does, in a scratch root, and reads them with the same lip reader (with each
checkpoint given: the videos are rendered once for all of them): each part's cost is the
paired difference in phoneme error rate on the same clips. Both say what the
motion costs a reader trained with it, not what a reader trained without it would read.
`--train-without` measures that:

    python -m l2s.evaluation.motion_cost --train-without "head turn" all --seeds 0 1

builds the whole corpus of every language again with the part switched off (in a scratch
root; the same speech, faces and every other part's draws), preprocesses it, and trains and
scores a reader-only run on it (`ablation --reader-only`), named motion_off_<part> in
reports/reader_ablations.csv beside the default recipe's rows, on the same validation clips.
`--switch-off --speech` with whole models' checkpoints also speaks the clips of each
rendering, heard by this repository's recogniser as the ablation runner hears them: what each
part costs the words at test time, given for seeds of one recipe with paired intervals.
With `--whole` it trains whole runs instead (whole_motion_off_<part> in reports/ablations.csv),
whose generated speech this repository's recognisers hear: what the part costs the words.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import multiprocessing as mp
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from l2s import paths
from l2s.evaluation.lipreading import phoneme_error

log = logging.getLogger(__name__)

# the parts of corpus.motion and the nuisances each video records for them (align.json)
PARTS = {
    "head turn": ("yaw", "pitch", "roll"),
    "drift and zoom": ("shift", "zoom"),
    "blinks": ("blinks",),
    "lighting": ("gain", "gamma", "gradient"),
    "compression": ("crf",),
}


def clip_table(run: Path) -> list[dict]:
    """One row per clip of every language a run read (`lipreading_<lang>/lipreading.csv`
    under `run`): its language, phoneme edits and count, and the nuisances of its video."""
    rows = []
    for table in sorted(run.glob("lipreading_*/lipreading.csv")):
        lang = table.parent.name.removeprefix("lipreading_")
        sources = _sources(lang)
        with open(table, newline="", encoding="utf-8") as f:
            for clip in csv.DictReader(f):
                edits, n = phoneme_error(clip["phonemes"].split(), clip["read_phonemes"].split())
                video = sources.get(clip["clip_id"])
                if not n or video is None or not video.with_suffix(".align.json").exists():
                    continue
                meta = json.loads(video.with_suffix(".align.json").read_text(encoding="utf-8"))
                if "motion" not in meta:
                    continue
                rows.append(
                    {
                        "lang": lang,
                        "clip_id": clip["clip_id"],
                        "edits": edits,
                        "phonemes": n,
                        **{k: float(meta["motion"][k]) for part in PARTS.values() for k in part if k != "crf"},
                        "crf": float(meta["crf"]),
                    }
                )
    return rows


def merge_runs(tables: list[list[dict]]) -> list[dict]:
    """Clip tables of several runs (seeds) on the same clips -> one row per clip with the
    edits and phonemes summed: the bootstrap resamples clips, not runs of a clip."""
    merged: dict[tuple[str, str], dict] = {}
    for table in tables:
        for row in table:
            key = (row["lang"], row["clip_id"])
            if key in merged:
                merged[key]["edits"] += row["edits"]
                merged[key]["phonemes"] += row["phonemes"]
            else:
                merged[key] = dict(row)
    return list(merged.values())


def switch_off_table(rows: list[dict]) -> str:
    """Rows of `switch_off` as markdown: phoneme error rate over the languages (mean of
    their rates) with each part off, and what switching it off gained."""
    langs = sorted({r["lang"] for r in rows})
    per = {(r["off"], r["lang"]): float(r["lip_per"]) for r in rows}
    lines = ["| switched off | " + " | ".join(f"{lang} PER" for lang in langs) + " | mean | gain |"]
    lines.append("|" + "---|" * (len(langs) + 3))
    base = np.mean([per["nothing", lang] for lang in langs])
    for off in dict.fromkeys(r["off"] for r in rows):
        mean = np.mean([per[off, lang] for lang in langs])
        cells = " | ".join(f"{per[off, lang]:.3f}" for lang in langs)
        lines.append(f"| {off} | {cells} | {mean:.3f} | {base - mean:+.3f} |")
    return "\n".join(lines)


def _sources(lang: str) -> dict[str, Path]:
    """clip_id -> its source video, from data/processed/<lang>/clips.csv."""
    from l2s import config

    folder = config.load().raw_folder(lang)
    with open(paths.processed_dir(lang) / "clips.csv", newline="", encoding="utf-8") as f:
        return {row["clip_id"]: folder / row["source"] for row in csv.DictReader(f)}


def part_costs(rows: list[dict], best_crf: float = 18.0, draws: int = 1000, seed: int = 0) -> dict[str, dict]:
    """Each part's cost in phoneme error rate (mean and 95 % interval over `draws` bootstrap
    resamples of the clips), and the mean phoneme error rate of the clips."""
    names = [k for part in PARTS.values() for k in part]
    langs = sorted({r["lang"] for r in rows})
    x = np.array([[r[k] for k in names] for r in rows])
    per = np.array([r["edits"] / r["phonemes"] for r in rows])
    weight = np.array([r["phonemes"] for r in rows], dtype=float)  # long clips say more
    dummies = np.array([[r["lang"] == lang for lang in langs] for r in rows], dtype=float)
    off = np.array([best_crf if k == "crf" else 0.0 for k in names])

    def costs(idx: np.ndarray) -> np.ndarray:
        design = np.hstack([dummies[idx], x[idx] - off])
        w = np.sqrt(weight[idx])[:, None]
        coef = np.linalg.lstsq(design * w, per[idx] * w[:, 0], rcond=None)[0][len(langs) :]
        contribution = (x[idx] - off).mean(axis=0) * coef  # the mean clip against the part off
        return np.array([contribution[[names.index(k) for k in part]].sum() for part in PARTS.values()])

    every = np.arange(len(rows))
    point = costs(every)
    rng = np.random.default_rng(seed)
    boot = np.array([costs(rng.choice(every, len(every))) for _ in range(draws)])
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    out = {p: {"cost": float(c), "low": float(lo), "high": float(hi)} for p, c, lo, hi in zip(PARTS, point, low, high)}
    out["all clips"] = {"per": float(np.average(per, weights=weight)), "clips": len(rows)}
    return out


# corpus.motion changes that switch each part off (the others as params.yaml has them)
SWITCH_OFF = {
    "head turn": {"yaw": 0.0, "pitch": 0.0, "roll": 0.0},
    "drift and zoom": {"shift": 0.0, "zoom": 0.0},
    "blinks": {"blinks": False},
    "lighting": {"lighting": False},
    "compression": {"compression": False},
    "all": {"head": False, "blinks": False, "lighting": False, "compression": False},
}


def render_subset(lang: str, params, motion_change: dict, utt_ids: set[str], root: Path, pronunciation: Path) -> None:
    """The corpus videos `utt_ids` of `lang` rendered again under `root` with corpus.motion
    changed by `motion_change`, listed in a manifest that keeps them in the val split, beside
    the corpus's `pronunciation` file (how the transcripts were spoken)."""
    from l2s import parallel
    from l2s.corpus import build

    raw = root / "data" / "raw" / lang
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    motion = dataclasses.replace(params.corpus.motion, **motion_change)
    utts = [
        dataclasses.replace(u, motion=motion, out_dir=str(raw)) for u in build.plan(lang, params) if u.utt_id in utt_ids
    ]
    with mp.get_context("spawn").Pool(1) as pool:  # espeak-ng in a fresh process, as the corpus stage does it
        speeches = pool.apply(build.synthesize_all, (utts,))
    rows = list(parallel.imap(build.render, zip(utts, speeches), params.corpus.workers, desc=f"render {lang}"))
    shutil.copyfile(pronunciation, raw / build.PRONUNCIATION)
    with open(raw / build.MANIFEST, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[*rows[0], "split"])
        writer.writeheader()
        writer.writerows(sorted((r | {"split": "val"} for r in rows), key=lambda r: r["utt_id"]))


def switch_off(
    checkpoints: list[Path], scratch: Path, parts: dict[str, dict] = SWITCH_OFF, speech: bool = False
) -> list[dict]:
    """Lip reading of each of `checkpoints` on every language's validation videos as they
    are, and rendered again with each part of the motion switched off (`parts`; rendered once
    for all checkpoints): one row per checkpoint, part and language, with the phoneme error
    rate on the same clips. With `speech` (whole models) each also speaks the clips, heard by
    this repository's recogniser as the ablation runner hears them (STOI, ESTOI, WER and CER
    too), its per-clip tables kept in <checkpoint's folder>/switch_off/<part>/val_<lang>/."""
    from l2s import config
    from l2s.corpus import build
    from l2s.data import preprocess
    from l2s.data.dataset import ProcessedLanguage
    from l2s.evaluation.ablation import read_split, score_split
    from l2s.evaluation.lipreading import LipReader
    from l2s.vcagan.inference import load_generator

    params = config.load()
    languages = {cp: load_generator(cp)[1]["languages"] for cp in checkpoints}
    here = paths.root()
    (scratch / "params.yaml").write_text((here / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    rows = []
    for lang in dict.fromkeys(lang for langs in languages.values() for lang in langs):
        data = ProcessedLanguage(lang)
        utt_ids = {data.clips[r]["utt_id"] for r in data.split("val")}
        reader = LipReader(data)  # the words of the training split, as the test stage reads them
        pronunciation = paths.raw_dir(lang) / build.PRONUNCIATION
        readers = [cp for cp in checkpoints if lang in languages[cp]]

        def read(off: str) -> None:
            for checkpoint in readers:
                if speech:
                    keep = switch_off_folder(checkpoint, off) / f"val_{lang}"
                    scores = score_split(checkpoint, lang, "val", keep=keep, reader=reader)
                else:
                    scores = read_split(checkpoint, lang, "val", reader=reader)
                rows.append({"checkpoint": str(checkpoint), "lang": lang, "off": off, **scores})
                log.info("%s, %s, %s off: %s", checkpoint, lang, off, scores)

        read("nothing")
        for part, change in parts.items():
            root = scratch / part.replace(" ", "_")
            if speech and not (root / "models" / "asr").exists():  # the settings and recognisers of here
                (root / "models").mkdir(parents=True, exist_ok=True)
                (root / "models" / "asr").symlink_to(here / "models" / "asr", target_is_directory=True)
                shutil.copyfile(scratch / "params.yaml", root / "params.yaml")
            with paths.rooted_at(root):
                render_subset(lang, params, change, utt_ids, root, pronunciation)
                preprocess.run(lang, params)
                read(part)
    return rows


def switch_off_folder(checkpoint: Path, off: str) -> Path:
    """Where `switch_off(speech=True)` keeps a checkpoint's per-clip tables with `off` off."""
    return checkpoint.parent / "switch_off" / off.replace(" ", "_")


def speech_table(checkpoints: list[Path], offs: list[str]) -> str:
    """What each part of the motion costs the words at test time, from the per-clip tables
    `switch_off(speech=True)` kept for `checkpoints` (seeds of one recipe): per language the
    recogniser's WER (CER where words are not spaced) with the part off, the mean over the
    languages with its 95 % interval over the clips (the seeds averaged clip by clip), and its
    paired difference from the videos as they are, called lower or higher only where that
    interval excludes zero and every seed moved the same way."""
    import pandas as pd

    from l2s.evaluation import bootstrap, text

    def edits(off: str, checkpoint: Path) -> dict[tuple[str, str], tuple[int, int]]:
        found = {}
        for table in sorted(switch_off_folder(checkpoint, off).glob("val_*/transcripts.csv")):
            lang = table.parent.name.removeprefix("val_")
            unit = ("word_edits", "words") if text.spaced(lang) else ("char_edits", "chars")
            for row in pd.read_csv(table, keep_default_na=False).to_dict("records"):
                found[lang, row["clip_id"]] = (row[unit[0]], row[unit[1]])
        return found

    def rate(clips: dict, keys: list) -> float:  # each language's pooled rate, averaged
        idx = np.arange(len(keys))
        return bootstrap.mean_rate([clips[k][0] for k in keys], [clips[k][1] for k in keys], [k[0] for k in keys])(idx)

    runs = {off: [edits(off, cp) for cp in checkpoints] for off in ["nothing", *offs]}
    keys = sorted(set.intersection(*(set(e) for seeds in runs.values() for e in seeds)))
    if not keys:
        return "no per-clip tables of `switch_off(speech=True)` for these checkpoints"
    langs = list(dict.fromkeys(k[0] for k in keys))
    strata = [k[0] for k in keys]
    counts = [runs["nothing"][0][k][1] for k in keys]
    mean = {off: [np.mean([e[k][0] for e in seeds]) for k in keys] for off, seeds in runs.items()}
    head = " | ".join(f"{g} {'WER' if text.spaced(g) else 'CER'}" for g in langs)
    lines = [
        f"| switched off | {head} | mean [95 % CI] | minus nothing [95 % CI], paired |",
        "|" + "---|" * (len(langs) + 3),
    ]
    for off, seeds in runs.items():
        cells = " | ".join(
            f"{100 * np.mean([rate(e, [k for k in keys if k[0] == g]) for e in seeds]):.1f} %" for g in langs
        )
        pooled = bootstrap.rate_interval(mean[off], counts, strata)
        diff = ""
        if off != "nothing":
            d = bootstrap.paired_difference(mean[off], mean["nothing"], counts, strata)
            moved = [np.sign(rate(e, keys) - rate(base, keys)) for e, base in zip(seeds, runs["nothing"])]
            same = len(seeds) > 1 and len(set(moved)) == 1
            verdict = (
                ("lower" if d.high < 0 else "higher")
                if d.excludes_zero() and same
                else ("not shown" if len(seeds) > 1 else "one seed")
            )
            diff = f"{d:+.3f} {verdict}"
        lines.append(f"| {off} | {cells} | {pooled} | {diff} |")
    return "\n".join(lines)


def train_without(parts: list[str], seeds: list[int], scratch: Path, reader_only: bool = True) -> list[dict]:
    """Runs of the default recipe (`seeds`; the lip reader alone unless `reader_only` is
    false) on the corpus rebuilt with each of `parts` switched off; the runs and their rows go
    to this repository (models/ablations/<name>/ and reports/, `train_without_name`), the
    rebuilt data to `scratch`, which is removed once every seed of a part is scored."""
    from l2s import config
    from l2s.evaluation import ablation

    unknown = [p for p in parts if p not in SWITCH_OFF]
    if unknown:
        raise config.ConfigError(f"unknown motion part(s) {unknown}; choose from {list(SWITCH_OFF)}")
    rows = []
    for part in parts:
        change = {"corpus": {"motion": SWITCH_OFF[part]}}
        rows += ablation.variant(train_without_name(part, reader_only), change, seeds, scratch, reader_only=reader_only)
    return rows


def train_without_name(part: str, reader_only: bool = True) -> str:
    """motion_off_<part> (a lip reader) or whole_motion_off_<part> (a whole run)."""
    return ("" if reader_only else "whole_") + "motion_off_" + part.replace(" ", "_")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2s.evaluation.motion_cost", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="folders holding lipreading_<lang>/lipreading.csv")
    parser.add_argument(
        "--switch-off",
        action="store_true",
        help="RUNS are checkpoints: read the validation videos rendered with each part of the motion off",
    )
    parser.add_argument(
        "--speech",
        action="store_true",
        help="with --switch-off (whole models): also speak the clips and score the words the recogniser hears",
    )
    parser.add_argument(
        "--train-without",
        nargs="+",
        metavar="PART",
        help=f"train readers on the corpus rebuilt with each PART off ({', '.join(SWITCH_OFF)})",
    )
    parser.add_argument(
        "--whole",
        action="store_true",
        help="with --train-without: whole runs, scored by the speech (reports/ablations.csv), not the lip reader alone",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1], help="with --train-without")
    parser.add_argument(
        "--against",
        metavar="NAME",
        help="with --train-without: the run of the default recipe on the corpus as it is "
        "(default: memory, a reader-only run; with --whole: default_p2300)",
    )
    parser.add_argument(
        "--scratch", type=Path, default=Path(tempfile.gettempdir()) / "l2s-motion", help="with --train-without"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    if args.train_without:
        from l2s.evaluation.ablation import reader_summary, summary

        train_without(args.train_without, args.seeds, args.scratch, reader_only=not args.whole)
        against = args.against or ("default_p2300" if args.whole else "memory")
        if args.whole:
            print(summary(against=against))
        else:
            names = [against] + [train_without_name(part) for part in args.train_without]
            print(reader_summary(against=against, names=names))
        return 0
    if not args.runs:
        parser.error("RUNS are needed (or --train-without)")
    if args.switch_off:
        checkpoints = [checkpoint.resolve() for checkpoint in args.runs]
        with tempfile.TemporaryDirectory(prefix="l2s-motion-") as scratch:
            rows = switch_off(checkpoints, Path(scratch), speech=args.speech)
        for checkpoint in checkpoints:
            own = [
                {k: v for k, v in r.items() if k != "checkpoint"} for r in rows if r["checkpoint"] == str(checkpoint)
            ]
            out = checkpoint.parent / "motion_switch_off.csv"
            paths.write_csv(out, own)
            print(f"{checkpoint}:\n{switch_off_table(own)}")
            log.info("per language: %s", out)
        if args.speech:
            print(speech_table(checkpoints, list(SWITCH_OFF)))
        return 0
    rows = merge_runs([clip_table(run) for run in args.runs])
    if not rows:
        log.error("no clips with motion records under %s", ", ".join(map(str, args.runs)))
        return 2
    costs = part_costs(rows)
    total = costs.pop("all clips")
    print(f"{total['clips']} clips, phoneme error rate {total['per']:.3f}")
    print("| part | cost in PER (95 % interval) |\n|---|---|")
    for part, c in costs.items():
        print(f"| {part} | {c['cost']:+.3f} ({c['low']:+.3f} to {c['high']:+.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
