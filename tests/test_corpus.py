"""The embedded corpus at a tiny size: layout, determinism, and that it never overwrites
a folder it did not make."""

import csv
import hashlib
import json

import numpy as np
import pytest

from l2s import config
from l2s.corpus import build
from l2s.data.media import read_video
from tests.helpers import write_params

TINY = {
    "speakers": 2,
    "utterances_per_speaker": 3,
    "workers": 1,
    "fps30_fraction": 0.5,
    "short_fraction": 0.3,
    "long_fraction": 0.3,
    "image_size": 160,
    "languages": {"es": {}},
}


def _params(root, **over):
    return config.load(write_params(root, languages={"es": {"source": "synthetic"}}, corpus={**TINY, **over}))


def _digest(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_layout_and_determinism(workdir):
    params = _params(workdir)
    metrics = build.run("es", params)
    raw = workdir / "data/raw/es"
    assert metrics["clips"] == 6 and metrics["speakers"] == 2
    rows = list(csv.DictReader(open(raw / "manifest.csv", encoding="utf-8")))
    assert [r["utt_id"] for r in rows] == [
        "s1/s1_0001",
        "s1/s1_0002",
        "s1/s1_0003",
        "s2/s2_0001",
        "s2/s2_0002",
        "s2/s2_0003",
    ]
    crfs = []
    for r in rows:
        video = raw / r["path"]
        clip = read_video(video)
        assert clip.fps == float(r["fps"]) and clip.frames.shape[1:] == (160, 160, 3)
        assert abs(clip.video_seconds - float(r["seconds"])) < 0.05
        assert video.with_suffix(".txt").read_text(encoding="utf-8").strip() == r["text"]
        align = json.loads(video.with_suffix(".align.json").read_text(encoding="utf-8"))
        assert " ".join(w["label"] for w in align["words"]) == r["text"]
        assert all(0 <= w["start"] < w["end"] <= clip.video_seconds + 1e-3 for w in align["words"])
        # the words' timing matches the speech in the decoded video within one video frame
        loud = np.flatnonzero(np.abs(clip.audio) > 0.02) / clip.sample_rate
        assert abs(loud[0] - align["words"][0]["start"]) < 1 / clip.fps
        assert abs(loud[-1] - align["words"][-1]["end"]) < 1 / clip.fps
        crfs.append(align["crf"])
        assert set(align["motion"]) >= {"yaw", "pitch", "roll", "shift", "zoom", "blinks", "gain"}
    assert {r["kind"] for r in rows} >= {"normal"}
    motion = params.corpus.motion
    assert all(motion.crf[0] <= c <= motion.crf[1] for c in crfs) and len(set(crfs)) > 1  # encoder quality varies
    first = _digest(raw)

    # the same seed gives the same bytes, however the work is spread over processes
    build.run("es", _params(workdir, workers=2))
    assert _digest(raw) == first
    build.run("es", _params(workdir, seed=1))
    assert _digest(raw) != first


def _upper_face_change(video) -> float:
    """Largest mean absolute change of the frame's upper half (eyes, brow, hair) from the
    first frame: the lips cannot reach it, head motion, blinks and light do."""
    frames = read_video(video).frames.astype(np.float32)
    top = frames[:, : frames.shape[1] // 2]
    return float(np.abs(top - top[0]).mean(axis=(1, 2, 3)).max())


def test_motion_reaches_the_videos_and_switches_off(workdir):
    raw = workdir / "data/raw/es"
    small = {"speakers": 1, "utterances_per_speaker": 2, "short_fraction": 0.0, "long_fraction": 0.0}
    off = {"head": False, "blinks": False, "lighting": False, "compression": False}
    build.run("es", _params(workdir, motion=off, **small))
    videos = sorted(raw.rglob("*.mp4"))
    assert len(videos) == 2
    for video in videos:
        align = json.loads(video.with_suffix(".align.json").read_text(encoding="utf-8"))
        assert align["crf"] == 18 and align["motion"]["yaw"] == 0 and align["motion"]["blinks"] == 0
        assert _upper_face_change(video) < 1.5  # only the encoder's noise
    build.run("es", _params(workdir, **small))
    for video in sorted(raw.rglob("*.mp4")):
        align = json.loads(video.with_suffix(".align.json").read_text(encoding="utf-8"))
        assert 0 < align["motion"]["yaw"] <= 5.0 and 0 < align["motion"]["shift"] <= 0.03
        assert _upper_face_change(video) > 4.0


def test_never_overwrites_a_folder_it_did_not_make(workdir):
    user = workdir / "data/raw/es/mine.mp4"
    user.parent.mkdir(parents=True)
    user.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="did not make"):
        build.run("es", _params(workdir))
    assert user.read_bytes() == b"precious"
