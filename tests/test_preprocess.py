"""Preprocessing on a folder of user videos, bad ones included: each bad input is listed
with its reason, the good ones become clips, and no raw file changes."""

import csv
import hashlib
import subprocess

import cv2
import numpy as np
import pytest

from l2s.config import PreprocessConfig
from l2s.data import preprocess
from l2s.data.alignment import Span
from l2s.data.dataset import ClipDataset, ProcessedLanguage
from l2s.data.sources import RawItem
from tests.helpers import preprocess_folder, talking_video

# file name -> the reason it must be rejected with (None: kept). The tests that count set
# preprocess.faces reject (FACES), under which two faces are a bad input; tests/test_faces.py
# keeps such a video under largest and speaking.
FACES = {"faces": "reject"}
EXPECTED = {
    "spk a/vidéo 北京 1.mp4": None,  # spaces and non-ASCII characters in the path
    "spk a/fps30.mp4": None,  # resampled to 25 fps
    "spk a/short.mp4": None,  # 2 s: padded
    "spk b/long.mp4": None,
    "spk b/zero.mp4": "empty_file",
    "spk b/truncated.mp4": "corrupt",
    "spk b/image.mp4": "not_a_video",
    "spk b/no_audio.mp4": "no_audio",
    "spk b/audio_only.mp4": "no_video",
    "spk b/two_faces.mp4": "multiple_faces",
    "spk b/blank.mp4": "no_face",
    "spk b/one_second.mp4": "too_short",
    "spk b/silent.mp4": "silent",
    "spk b/mismatch.mp4": "length_mismatch",
}


@pytest.fixture(scope="module")
def raw_folder(tmp_path_factory, face_frame):
    root = tmp_path_factory.mktemp("raw") / "xx"
    ok = talking_video(root / "spk a/vidéo 北京 1.mp4", face_frame)
    (root / "spk a/vidéo 北京 1.txt").write_text("bin blue at f two now\n", encoding="utf-8")
    talking_video(root / "spk a/fps30.mp4", face_frame, fps=30.0)
    talking_video(root / "spk a/short.mp4", face_frame, seconds=2.0)
    talking_video(root / "spk b/long.mp4", face_frame, seconds=7.0)
    (root / "spk b/zero.mp4").write_bytes(b"")
    data = ok.read_bytes()
    (root / "spk b/truncated.mp4").write_bytes(data[: len(data) // 2])
    (root / "spk b/image.mp4").write_bytes(cv2.imencode(".png", face_frame)[1].tobytes())
    talking_video(root / "spk b/no_audio.mp4", face_frame, audio=False)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:duration=3",
            "-c:a",
            "aac",
            "-f",
            "mp4",
            str(root / "spk b/audio_only.mp4"),
        ],
        check=True,
    )
    talking_video(root / "spk b/two_faces.mp4", np.concatenate([face_frame, face_frame[:, ::-1]], axis=1))
    talking_video(root / "spk b/blank.mp4", np.full_like(face_frame, 128))
    talking_video(root / "spk b/one_second.mp4", face_frame, seconds=1.0)
    talking_video(root / "spk b/silent.mp4", face_frame, silent=True)
    talking_video(root / "spk b/mismatch.mp4", face_frame, seconds=3.2, audio_seconds=2.0)
    return root


def _hashes(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _rejects(workdir):
    with open(workdir / "data/processed/xx/rejects.csv", encoding="utf-8") as f:
        return {r["utt_id"]: r for r in csv.DictReader(f)}


def test_bad_inputs_are_listed_and_raw_files_untouched(workdir, raw_folder):
    before = _hashes(raw_folder)
    metrics, params = preprocess_folder(workdir, raw_folder, **FACES)
    assert _hashes(raw_folder) == before  # nothing deleted, nothing modified

    rejects = _rejects(workdir)
    for name, reason in EXPECTED.items():
        utt = name.removesuffix(".mp4")
        if reason is None:
            assert utt not in rejects, rejects.get(utt)
        else:
            assert rejects[utt]["reason"] == reason, rejects[utt]
            assert name.split("/")[-1] in rejects[utt]["detail"]  # the message names the file
    assert metrics["rejected"] == 10 and metrics["videos"] == 14
    assert metrics["rejected_by_reason"]["multiple_faces"] == 1 and metrics["several_faces"] == 0
    assert "2 faces in the frame" in rejects["spk b/two_faces"]["detail"]
    assert "preprocess.faces=reject" in rejects["spk b/two_faces"]["detail"]
    assert sum(metrics["rejected_by_reason"].values()) == 10

    data = ProcessedLanguage("xx")
    assert len(data) == 4 == metrics["clips"]  # clip_policy first: one clip per kept video
    assert data.frames.shape == (4, 75, 88, 88) and data.frames.dtype == np.uint8
    assert data.audio.shape == (4, 48000) and data.mel.shape == (4, 80, 300)
    clips = {c["utt_id"]: c for c in data.clips}
    assert clips["spk a/vidéo 北京 1"]["text"] == "bin blue at f two now"
    assert clips["spk a/vidéo 北京 1"]["speaker"] == "spk a"
    assert int(clips["spk a/short"]["valid_frames"]) == 50  # 2 s at 25 fps, then padded
    assert int(clips["spk a/fps30"]["valid_frames"]) == 75
    # paths relative to the raw folder: another clone makes the same bytes
    assert clips["spk a/vidéo 北京 1"]["source"] == "spk a/vidéo 北京 1.mp4"
    assert all(data.source(i).is_file() for i in range(len(data)))
    assert all((params.raw_folder("xx") / r["path"]).is_file() for r in rejects.values())
    # a face crop is a face: not flat, and the same face in every clip
    assert data.frames[0].std() > 20
    train = ClipDataset(data, "train")
    assert len(train) > 0 and train[0]["frames"].shape == (75, 88, 88)


def test_rerun_skips_unchanged_videos_and_drop_policy(workdir, raw_folder, monkeypatch):
    preprocess_folder(workdir, raw_folder, **FACES)

    def boom(*a, **k):
        raise AssertionError("an unchanged video was processed again")

    with monkeypatch.context() as m:
        m.setattr(preprocess, "process_video", boom)
        again, _ = preprocess_folder(workdir, raw_folder, **FACES)  # everything from the cache
    assert again["clips"] == 4

    dropped, _ = preprocess_folder(workdir, raw_folder, fps_policy="drop", **FACES)  # new parameters: processed anew
    assert _rejects(workdir)["spk a/fps30"]["reason"] == "fps"
    assert "30 fps, not 25" in _rejects(workdir)["spk a/fps30"]["detail"]
    assert dropped["clips"] == 3


def test_split_policy_cuts_long_videos(workdir, raw_folder):
    metrics, _ = preprocess_folder(workdir, raw_folder, clip_policy="split", short_policy="reject")
    data = ProcessedLanguage("xx")
    ids = {c["clip_id"] for c in data.clips}
    # 7 s -> two whole 3 s clips (the last 1 s is dropped with short_policy reject)
    assert {"spk b/long#0", "spk b/long#1"} <= ids and "spk b/long#2" not in ids
    assert _rejects(workdir)["spk a/short"]["reason"] == "too_short"


def test_colour_mouth_crops(workdir, raw_folder):
    metrics, _ = preprocess_folder(workdir, raw_folder, crop={"size": 64, "region": "mouth", "gray": False})
    data = ProcessedLanguage("xx")
    assert data.frames.shape == (metrics["clips"], 75, 64, 64, 3)
    rgb = data.frames[0].astype(float)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 5  # colour kept, not gray copied thrice


@pytest.mark.parametrize(
    "n, policy, short, expected",
    [
        (75, "first", "pad", [(0, 75)]),
        (200, "first", "pad", [(0, 75)]),
        (200, "split", "pad", [(0, 75), (75, 150), (150, 200)]),
        (200, "split", "reject", [(0, 75), (75, 150)]),
        (160, "split", "pad", [(0, 75), (75, 150)]),  # a 10-frame tail is below min_seconds
        (50, "first", "pad", [(0, 50)]),
        (50, "first", "reject", []),
    ],
)
def test_clip_windows(n, policy, short, expected):
    cfg = PreprocessConfig(clip_policy=policy, short_policy=short)
    assert preprocess.clip_windows(n, cfg) == expected


def test_pad_to():
    v = np.arange(6).reshape(3, 2)
    assert preprocess.pad_to(v, 5, edge=True).tolist() == [[0, 1], [2, 3], [4, 5], [4, 5], [4, 5]]
    assert preprocess.pad_to(np.ones(3), 5, edge=False).tolist() == [1, 1, 1, 0, 0]
    assert preprocess.pad_to(np.ones(8), 5, edge=False).shape == (5,)


def test_clip_text_uses_word_timings():
    words = tuple(Span(w, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate("bin blue at f two now lay red".split()))
    item = RawItem("u", None, "s", "bin blue at f two now lay red", words)
    assert preprocess.clip_text(item, 0.0, 3.0, 4.0) == "bin blue at f two now"
    assert preprocess.clip_text(item, 3.0, 6.0, 4.0) == "lay red"
    assert preprocess.clip_text(item, 0.0, 6.0, 4.0) == item.text
    zh = RawItem(
        "u", None, "s", "放蓝在甲二再", tuple(Span(c, i * 0.3, i * 0.3 + 0.2) for i, c in enumerate("放蓝在甲二再"))
    )
    assert preprocess.clip_text(zh, 0.0, 0.9, 2.0) == "放蓝在"
    plain = RawItem("u", None, "s", "hello there")
    assert preprocess.clip_text(plain, 0.0, 3.0, 3.2) == "hello there"
    assert preprocess.clip_text(plain, 0.0, 3.0, 9.0) == ""  # unknown which words fall in the clip


def test_an_unexpected_error_skips_one_video_and_is_retried(workdir, raw_folder, monkeypatch):
    real = preprocess.process_video

    def flaky(item, cfg):
        if item.utt_id == "spk a/short":
            raise RuntimeError("simulated bug")
        return real(item, cfg)

    with monkeypatch.context() as m:
        m.setattr(preprocess, "process_video", flaky)
        metrics, _ = preprocess_folder(workdir, raw_folder, **FACES)
    assert metrics["rejected_by_reason"]["error"] == 1 and metrics["clips"] == 3
    assert "RuntimeError: simulated bug" in _rejects(workdir)["spk a/short"]["detail"]
    metrics, _ = preprocess_folder(workdir, raw_folder, **FACES)  # not cached: processed again, now fine
    assert metrics["rejected_by_reason"]["error"] == 0 and metrics["clips"] == 4
