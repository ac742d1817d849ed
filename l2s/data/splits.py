"""Train / validation / test lists, in VCA-GAN's speaker settings.

`overlap`: every speaker's clips are spread over all three splits.
`unseen`: some speakers are held out for test only (never seen in training).
`speaker`: only the listed speakers' clips, split like overlap (speaker-specific models).
A corpus with its own splits (GRID's unseen setting, LRS2/LRS3) fixes them per clip; the
mode then splits only the clips it leaves free.
Assignment depends only on the clip ids, speakers and seed, never on file order.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from l2s.config import ConfigError, SplitConfig

SPLITS = ("train", "val", "test")
# what a corpus may fix for a clip: a split, or "trainval" (train or val, divided by val_fraction)
FIXED_SPLITS = (*SPLITS, "trainval")


def _order(key: str, seed: int) -> str:
    # a seeded hash gives each id a stable random rank, independent of the other ids
    return hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()


def _spread(ids: list[str], val: float, test: float, seed: int) -> dict[str, list[str]]:
    ids = sorted(ids, key=lambda i: _order(i, seed))
    n_test = round(len(ids) * test)
    n_val = round(len(ids) * val)
    return {"test": ids[:n_test], "val": ids[n_test : n_test + n_val], "train": ids[n_test + n_val :]}


def make_splits(
    clip_speakers: dict[str, str],
    cfg: SplitConfig,
    speakers: list[str] | None = None,
    fixed: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """Assign clip ids to splits. `clip_speakers` maps clip id -> speaker.

    `speakers`: for `unseen`, the held-out test speakers (default: `cfg.unseen_speakers`
    chosen by seed); for `speaker`, the speakers whose clips are used (required).
    `fixed`: clip id -> the split its corpus gives it (FIXED_SPLITS); those clips keep it
    whatever the mode, and only the other clips are split by `cfg.mode`.
    """
    fixed = {clip: split for clip, split in (fixed or {}).items() if clip in clip_speakers}
    out = _fixed_splits(clip_speakers, fixed, cfg)
    free = {clip: spk for clip, spk in clip_speakers.items() if clip not in fixed}
    if free:  # a corpus that fixes every clip (GRID unseen, LRS2) needs no mode at all
        for split, ids in _mode_splits(free, cfg, speakers).items():
            out[split] += ids
    return {s: sorted(ids) for s, ids in out.items()}


def _fixed_splits(clip_speakers: dict[str, str], fixed: dict[str, str], cfg: SplitConfig) -> dict[str, list[str]]:
    """The clips whose split the corpus decides; `trainval` ones are divided between train
    and val per speaker with val_fraction (the corpus keeps its test set apart already)."""
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    trainval: dict[str, list[str]] = defaultdict(list)
    for clip, split in fixed.items():
        if split not in FIXED_SPLITS:
            raise ValueError(f"clip {clip}: split {split!r} is not one of {', '.join(FIXED_SPLITS)}")
        if split == "trainval":
            trainval[clip_speakers[clip]].append(clip)
        else:
            out[split].append(clip)
    for ids in trainval.values():
        part = _spread(ids, cfg.val_fraction, 0.0, cfg.seed)
        out["train"] += part["train"]
        out["val"] += part["val"]
    return out


def _mode_splits(clip_speakers: dict[str, str], cfg: SplitConfig, speakers: list[str] | None) -> dict[str, list[str]]:
    """The clips no corpus split fixes, split by the configured mode."""
    by_speaker: dict[str, list[str]] = defaultdict(list)
    for clip, spk in clip_speakers.items():
        by_speaker[spk].append(clip)
    known = sorted(by_speaker)
    out: dict[str, list[str]] = {s: [] for s in SPLITS}

    if cfg.mode == "unseen":
        if speakers:
            _check_known(speakers, known)
            held = list(speakers)
        else:
            if cfg.unseen_speakers >= len(known):
                raise ConfigError(
                    f"preprocess.split.unseen_speakers={cfg.unseen_speakers} leaves no training speaker "
                    f"(the data has {len(known)} speakers)"
                )
            held = sorted(known, key=lambda s: _order(s, cfg.seed))[: cfg.unseen_speakers]
        for spk in known:
            if spk in held:
                out["test"] += by_speaker[spk]
            else:
                # no test share from training speakers: val is carved from them alone
                part = _spread(by_speaker[spk], cfg.val_fraction, 0.0, cfg.seed)
                out["train"] += part["train"]
                out["val"] += part["val"]
    else:
        if cfg.mode == "speaker":
            if not speakers:
                raise ConfigError("split mode 'speaker' needs languages.<lang>.speakers: the speakers to use")
            _check_known(speakers, known)
            known = [s for s in known if s in speakers]
        for spk in known:
            part = _spread(by_speaker[spk], cfg.val_fraction, cfg.test_fraction, cfg.seed)
            for s in SPLITS:
                out[s] += part[s]
    return out


def _check_known(speakers: list[str], known: list[str]) -> None:
    missing = [s for s in speakers if s not in known]
    if missing:
        raise ConfigError(f"languages.<lang>.speakers: {missing} not in the data; speakers are: {', '.join(known)}")
