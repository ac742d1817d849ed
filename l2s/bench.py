"""`l2s bench`: how fast each data step runs on this machine, against its anchors.

Works in a temporary repository root with a small corpus of its own, so it never
touches data/. Figures:
- corpus generation, seconds per clip (one process) and its parts;
- MediaPipe face mesh alone, ms per frame in tracking mode (the floor of preprocessing);
- preprocessing, frames per second per core, and its ratio to face mesh alone;
- the loader, clips per second from data/processed (memory-mapped).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

log = logging.getLogger(__name__)


def _timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def _root(tmp: Path, clips: int) -> None:
    from l2s import paths

    params = yaml.safe_load((paths.root() / "params.yaml").read_text())
    params["languages"] = {"en": {"source": "synthetic"}}
    params["corpus"].update(speakers=2, utterances_per_speaker=max(1, clips // 2), workers=1, languages={"en": {}})
    params["preprocess"]["workers"] = 1
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp / "dvc.yaml").write_text("stages: {}\n")
    os.environ["L2S_ROOT"] = str(tmp)


def corpus_parts(params, n: int) -> dict[str, float]:
    """Seconds per clip of each part of corpus generation, in this process."""
    from l2s import corpus
    from l2s.espeak import synthesize
    from l2s.media import write_video
    from l2s.visemes import mouth_track

    utts = corpus.plan("en", params)[:n]
    rng = np.random.default_rng(0)
    t = {"speech": 0.0, "face": 0.0, "encode": 0.0}
    for u in utts:
        speech, dt = _timed(synthesize, u.spoken, u.speaker.voice)
        t["speech"] += dt
        n_frames = int(75 * u.fps / 25)
        face = corpus._face(u.speaker.look, u.size)
        frames, dt = _timed(face.render, mouth_track(speech.phonemes, n_frames, u.fps), rng)
        t["face"] += dt
        with tempfile.TemporaryDirectory() as d:
            _, dt = _timed(write_video, Path(d) / "x.mp4", frames, u.fps, speech.audio, speech.sample_rate)
        t["encode"] += dt
    return {k: v / len(utts) for k, v in t.items()}


def face_mesh_only(videos: list[Path], fps: float) -> tuple[float, int]:
    """Seconds of face mesh tracking alone over the videos' frames at the target fps."""
    from l2s import facecrop, media

    decoded = []
    for v in videos:
        clip = media.read_video(v)
        decoded.append(clip.frames[media.resample_indices(len(clip.frames), clip.fps, fps)][:75])
    total, frames = 0.0, 0
    with facecrop.FaceTracker() as tracker:
        for f in decoded:
            _, dt = _timed(tracker.track, f)
            total += dt
            frames += len(f)
    return total, frames


def loader_rate(lang: str, batch: int = 8, epochs: int = 3) -> float:
    import torch

    from l2s.dataset import ClipDataset, ProcessedLanguage

    data = ClipDataset(ProcessedLanguage(lang), "train")
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, num_workers=0)
    n, t0 = 0, time.perf_counter()
    for _ in range(epochs):
        for b in loader:
            n += len(b["clip_id"])
    return n / (time.perf_counter() - t0)


def main(args) -> None:
    from l2s import config, corpus, parallel, paths, preprocess
    from l2s.dataset import ProcessedLanguage

    parallel.single_thread()  # one core: the figures are per core
    clips = max(4, args.clips)
    old_root = os.environ.get("L2S_ROOT")
    with tempfile.TemporaryDirectory(prefix="l2s-bench-") as tmp:
        _root(Path(tmp), clips)
        params = config.load()
        n = len(corpus.plan("en", params))
        _, t_corpus = _timed(corpus.build, "en", params)
        parts = corpus_parts(params, min(n, 4))

        _, t_pre = _timed(preprocess.run, "en", params)
        processed_frames = sum(int(c["valid_frames"]) for c in ProcessedLanguage("en").clips)
        videos = sorted(paths.raw_dir("en").rglob("*.mp4"))
        t_mesh, mesh_frames = face_mesh_only(videos, params.preprocess.fps)
        rate = loader_rate("en")
    if old_root is None:
        os.environ.pop("L2S_ROOT", None)
    else:
        os.environ["L2S_ROOT"] = old_root

    mesh_ms = 1000 * t_mesh / mesh_frames
    pre_fps = processed_frames / t_pre
    rows = [
        (
            "corpus generation",
            f"{t_corpus / n:.3f} s/clip",
            f"speech {parts['speech']:.3f} + face {parts['face']:.3f} + encode {parts['encode']:.3f} s",
        ),
        ("face mesh alone (tracking)", f"{mesh_ms:.2f} ms/frame", f"{1000 / mesh_ms:.0f} frames/s"),
        (
            "preprocessing, one core",
            f"{pre_fps:.0f} frames/s",
            f"{1000 / pre_fps:.2f} ms/frame = {1000 / pre_fps / mesh_ms:.2f}x face mesh alone (goal <= 1.5x)",
        ),
        ("loader (memory-mapped)", f"{rate:.0f} clips/s", f"batch 8, {rate * 75:.0f} frames/s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"l2s bench ({n} clips, 1 thread, {os.cpu_count()} cores)")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>16}   {note}")
