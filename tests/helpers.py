"""Helpers the tests share: params files, test signals, small videos, a repository copy."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]


def write_params(root: Path, base: Path | None = None, **sections) -> Path:
    """params.yaml = the repository's (or `base`), with the given sections' keys replaced.

    `languages`, `models` and `evaluations` are replaced whole, other sections key by key;
    new `models` without `evaluations` get each model tested on each of its languages."""
    params = yaml.safe_load((base or REPO / "params.yaml").read_text())
    for name, values in sections.items():
        whole = ("languages", "models", "evaluations")
        if isinstance(values, dict) and isinstance(params.get(name), dict) and name not in whole:
            params[name].update(values)
        else:
            params[name] = values
    if "models" in sections and "evaluations" not in sections:
        params["evaluations"] = {
            f"{m}-{lang}": {"model": m, "lang": lang}
            for m, entry in (sections["models"] or {}).items()
            for lang in entry.get("languages", [])
        }
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False))
    return path


def corpus_root(root: Path, corpus: dict | None = None, preprocessed: bool = True, **sections) -> Path:
    """A repository root at `root` with a small English corpus of the embedded kind (2
    speakers, 4 utterances each, 160 px: `corpus` overrides), preprocessed unless told
    otherwise (6 train, 2 val), params.yaml carrying `sections` as well."""
    from l2s import config
    from l2s.corpus import build
    from l2s.data import preprocess

    (root / "dvc.yaml").write_text("stages: {}\n")
    old = os.environ.get("L2S_ROOT")
    os.environ["L2S_ROOT"] = str(root)
    try:
        params = config.load(
            write_params(
                root,
                languages={"en": {"source": "synthetic"}},
                corpus={
                    "speakers": 2,
                    "utterances_per_speaker": 4,
                    "workers": 1,
                    "image_size": 160,
                    "languages": {"en": {}},
                    "short_fraction": 0.0,
                    "long_fraction": 0.0,
                    "fps30_fraction": 0.0,
                    **(corpus or {}),
                },
                preprocess={"workers": 1, "split": {"mode": "overlap", "val_fraction": 0.25, "test_fraction": 0.0}},
                **sections,
            )
        )
        build.run("en", params)
        if preprocessed:
            preprocess.run("en", params)
    finally:
        if old is None:
            os.environ.pop("L2S_ROOT")
        else:
            os.environ["L2S_ROOT"] = old
    return root


def english_root(root: Path, **sections) -> Path:
    """A repository root at `root` with 8 preprocessed English clips of the embedded corpus
    (2 speakers; 6 train, 2 val), params.yaml carrying `sections` as well."""
    return corpus_root(root, **sections)


def preprocess_folder(workdir: Path, raw: Path, **settings):
    """Preprocess the videos under `raw` as language xx (a folder of a user's videos,
    English voice) of the repository at `workdir`, with preprocess `settings`; returns
    the stage metrics and the params."""
    from l2s import config
    from l2s.data import preprocess

    params = config.load(
        write_params(
            workdir,
            languages={"xx": {"source": "folder", "path": str(raw), "voice": "en"}},
            preprocess={"workers": 1, **settings},
        )
    )
    return preprocess.run("xx", params), params


def tone(seconds: float, sr: int = 16000, level: float = 0.3, seed: int = 0) -> np.ndarray:
    """A voiced-looking test signal: a buzzing tone with a syllable-rate envelope."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    sig = np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 280 * t) + 0.05 * rng.standard_normal(t.size)
    return (level * env * sig / 1.6).astype(np.float32)


def talking_video(
    path: Path,
    frame: np.ndarray,
    seconds: float = 3.2,
    fps: float = 25.0,
    audio=True,
    silent=False,
    audio_seconds: float | None = None,
) -> Path:
    """A video of `frame` with a slowly moving head, and a tone (or silence) as audio."""
    import cv2

    from l2s.data.media import write_video

    n = int(round(seconds * fps))
    h, w = frame.shape[:2]
    frames = np.stack(
        [
            cv2.warpAffine(
                frame,
                np.float32([[1, 0, 2 * np.sin(i / 7)], [0, 1, np.cos(i / 9)]]),
                (w, h),
                borderMode=cv2.BORDER_REFLECT,
            )
            for i in range(n)
        ]
    )
    sound = None
    if audio:
        sound_s = seconds if audio_seconds is None else audio_seconds
        sound = np.zeros(int(sound_s * 16000), np.float32) if silent else tone(sound_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, frames, fps, sound, 16000)
    return path


def repo_copy(dest: Path) -> Path:
    """The repository's tracked and unignored files in a new git repository at dest."""
    files = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by its path there: two folders of the same bytes."""
    import hashlib

    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def two_nodes(cmd: list[str], root: Path, timeout: float = 600) -> list[str]:
    """Run a training launch command of train.nnodes: 2 (torchrun, c10d rendezvous) twice on
    this host, as two machines would each run it; returns each node's output. The first node
    to reach the endpoint hosts the rendezvous store, the other joins it."""
    env = dict(os.environ, L2S_ROOT=str(root), PYTHONUNBUFFERED="1")
    nodes = [
        subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=timeout)[0] for node in nodes]
    for node, output in zip(nodes, outputs):
        assert node.returncode == 0, output[-3000:]
    return outputs


def weights_that_differ(a: Path, b: Path, keys: tuple[str, ...], atol: float = 1e-6) -> list[str]:
    """The tensors of checkpoint entries `keys` (state dicts) that differ between checkpoints
    `a` and `b` by more than `atol`."""
    import torch

    ca, cb = (torch.load(p, map_location="cpu", weights_only=False) for p in (a, b))
    differ = []
    for key in keys:
        for name, tensor in ca[key].items():
            if torch.is_tensor(tensor) and tensor.is_floating_point():
                if not torch.allclose(tensor, cb[key][name], atol=atol, rtol=0):
                    differ.append(f"{key}.{name}: {float((tensor - cb[key][name]).abs().max()):.3g}")
    return differ


def kill_at(cmd: list[str], root: Path, line: str) -> str:
    """Run a training command in repository `root` and kill it hard (SIGKILL, as a lost node
    would end) as soon as it prints `line`; returns what it printed until then."""
    import signal

    env = dict(os.environ, L2S_ROOT=str(root), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = ""
    for printed in proc.stdout:
        log += printed
        if line in printed:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, log[-3000:]
    return log


def logged_losses(log: str) -> dict[int, str]:
    """step -> the losses a training run logged at that step (as printed, for exact comparison)."""
    import re

    return {int(m.group(1)): m.group(2) for m in re.finditer(r"step (\d+)/\d+\s+(.*?)\s+\(", log)}
