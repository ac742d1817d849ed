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

This is a paired reading of one trained model, cheap enough to run on every run; it does not
replace training with a part switched off (a reader trained without a nuisance may also learn
better), and it extrapolates linearly from the range the corpus draws to zero.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

import numpy as np

from l2s.data.phonemes import WORD_ID, ids, phoneme_edits

log = logging.getLogger(__name__)

# the parts of corpus.motion and the nuisances each video records for them (align.json)
PARTS = {
    "head turn": ("yaw", "pitch", "roll"),
    "drift and zoom": ("shift", "zoom"),
    "blinks": ("blinks",),
    "lighting": ("gain", "gamma", "gradient"),
    "compression": ("crf",),
}


def clip_table(run: Path, split: str = "val") -> list[dict]:
    """One row per clip of every language a run read (`lipreading_<lang>/lipreading.csv`
    under `run`): its language, phoneme edits and count, and the nuisances of its video."""
    rows = []
    for table in sorted(run.glob("lipreading_*/lipreading.csv")):
        lang = table.parent.name.removeprefix("lipreading_")
        sources = _sources(lang)
        with open(table, newline="", encoding="utf-8") as f:
            for clip in csv.DictReader(f):
                truth = ids(clip["phonemes"].split())
                n = sum(i != WORD_ID for i in truth)
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
                        "edits": phoneme_edits(truth, ids(clip["read_phonemes"].split())),
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


def _sources(lang: str) -> dict[str, Path]:
    """clip_id -> its source video, from data/processed/<lang>/clips.csv."""
    from l2s import paths

    with open(paths.processed_dir(lang) / "clips.csv", newline="", encoding="utf-8") as f:
        return {row["clip_id"]: paths.resolve(row["source"]) for row in csv.DictReader(f)}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2s.evaluation.motion_cost", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders holding lipreading_<lang>/lipreading.csv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
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
