"""Users' footage as it comes: streams that start apart, transcripts in other encodings,
bad inputs rejected for the reason a person would give, faces stored sideways."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from l2s import cli, config
from l2s.config import ConfigError, PreprocessConfig
from l2s.data import facecrop, preprocess
from l2s.data.dataset import ProcessedLanguage
from l2s.data.rejects import Reject
from l2s.data.sources import RawItem
from tests.helpers import preprocess_folder, talking_video, tone, write_params

SR = 16000


def _run(workdir, raw, **pre):
    return preprocess_folder(workdir, raw, **pre)[0]


def _csv(path: Path) -> dict[str, dict]:
    with open(path, encoding="utf-8") as f:
        return {r["utt_id"]: r for r in csv.DictReader(f)}


# --------------------------------------------------------------------------- stream start times


@pytest.mark.parametrize("sound_seconds", [3.05, 5.0], ids=["ends with the picture", "as long as the picture"])
def test_audio_that_starts_late_stays_on_the_lips_and_the_offset_is_recorded(
    workdir, tmp_path, face_frame, sound_seconds
):
    # a screen recording: the picture from 0 s, the microphone from 1.95 s to the end; or a
    # stream shifted whole by its start time, which then overruns the picture's end
    raw = tmp_path / "raw"
    picture = talking_video(tmp_path / "picture.mp4", face_frame, seconds=5.0, audio=False)
    sound = 0.3 * tone(sound_seconds)
    at = 2.45 - 1.95  # a burst 2.45 s after the first frame, inside the first 3 s clip
    sound[int(at * SR) : int(at * SR) + 200] = 0.95 * np.sin(np.arange(200) * 0.5)
    sf.write(tmp_path / "sound.wav", sound, SR)
    (raw / "spk").mkdir(parents=True)
    cmd = ["ffmpeg", "-v", "error", "-i", picture, "-itsoffset", "1.95", "-i", tmp_path / "sound.wav"]
    cmd += ["-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", raw / "spk/late.mp4"]
    subprocess.run(cmd, check=True)

    metrics = _run(workdir, raw)
    assert metrics["clips"] == 1, _csv(workdir / "data/processed/xx/rejects.csv")
    clip = _csv(workdir / "data/processed/xx/clips.csv")["spk/late"]
    # audio start minus video start, as the file has it (AAC's priming: up to 1024 samples early)
    assert 1.95 - 1024 / SR - 0.001 <= float(clip["stream_offset"]) <= 1.951
    audio = ProcessedLanguage("xx").audio[int(clip["index"])].astype(np.float32) / 32767
    assert np.abs(audio[: int(1.85 * SR)]).max() < 0.01  # silence until the microphone starts
    burst = np.argmax(np.abs(audio) > 0.6)
    assert abs(burst - 2.45 * SR) < 0.005 * SR  # at its place on the video's timeline


# --------------------------------------------------------------------------- transcripts


def test_transcripts_in_any_encoding_and_empty_ones_do_not_stop_the_language(workdir, tmp_path, face_frame):
    raw = tmp_path / "raw"
    transcripts = {
        "latin1": b"\xe9t\xe9",  # Latin-1 / Windows-1252: 'été'
        "utf16": "été".encode("utf-16"),  # with its byte-order mark
        "empty": b"",
        "garbled": "été".encode("utf-16-le"),  # UTF-16 without a byte-order mark: not decidable
    }
    for name, data in transcripts.items():
        talking_video(raw / "spk" / f"{name}.mp4", face_frame, seconds=3.2)
        (raw / "spk" / f"{name}.txt").write_bytes(data)
    metrics = _run(workdir, raw)

    clips = _csv(workdir / "data/processed/xx/clips.csv")
    assert clips["spk/latin1"]["text"] == clips["spk/utf16"]["text"] == "été"
    assert clips["spk/empty"]["text"] == ""  # a clip without text, not an error
    assert metrics["clips"] == 3 and metrics["clips_without_text"] == 1
    rejected = _csv(workdir / "data/processed/xx/rejects.csv")
    assert list(rejected) == ["spk/garbled"] and rejected["spk/garbled"]["reason"] == "bad_transcript"
    assert str(raw / "spk/garbled.txt") in rejected["spk/garbled"]["detail"]


# --------------------------------------------------------------------------- reasons


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _audio_only(path: Path, face: np.ndarray) -> Path:
    sf.write(path.with_suffix(".wav"), tone(3.0), SR)
    subprocess.run(["ffmpeg", "-v", "error", "-i", path.with_suffix(".wav"), "-c:a", "aac", path], check=True)
    return path


def _turned(degrees: int):
    return lambda path, face: talking_video(path, facecrop.turn(face[None], degrees)[0], seconds=3.2)


# what is wrong -> the video, and the reason and words a person would use. Inputs with more
# than one thing wrong get the first of: unreadable, streams missing, too short, content.
BAD = {
    "empty file": (lambda p, f: _write(p, b""), "empty_file", "zero bytes"),
    "random bytes": (lambda p, f: _write(p, np.random.default_rng(0).bytes(5000)), "corrupt", "cannot be opened"),
    "a photo": (lambda p, f: _write(p, cv2.imencode(".png", f)[1].tobytes()), "not_a_video", "still image"),
    "sound only": (_audio_only, "no_video", "no video stream"),
    "no sound": (lambda p, f: talking_video(p, f, audio=False), "no_audio", "no audio track"),
    "0.3 s, no sound": (lambda p, f: talking_video(p, f, seconds=0.3, audio=False), "no_audio", "no audio track"),
    "0.3 s": (lambda p, f: talking_video(p, f, seconds=0.3), "too_short", "shorter than"),
    "0.3 s of silence": (lambda p, f: talking_video(p, f, seconds=0.3, silent=True), "too_short", "shorter than"),
    "sound stops early": (lambda p, f: talking_video(p, f, audio_seconds=2.0), "length_mismatch", "ends at"),
    "silence": (lambda p, f: talking_video(p, f, silent=True), "silent", "dBFS"),
    "no face": (lambda p, f: talking_video(p, np.full_like(f, 128)), "no_face", "no face found"),
    "two faces": (lambda p, f: talking_video(p, np.concatenate([f, f[:, ::-1]], axis=1)), "multiple_faces", "2 faces"),
    "upside down": (_turned(180), "no_face", "set preprocess.rotate: 180"),
    "turned left": (_turned(270), "no_face", "set preprocess.rotate: 90"),
}


@pytest.mark.parametrize("what", list(BAD))
def test_each_bad_input_gets_the_reason_a_person_would_give(tmp_path, face_frame, what):
    make, reason, words = BAD[what]
    path = make(tmp_path / "video.mp4", face_frame)
    with pytest.raises(Reject) as info:
        # faces reject: several faces are a bad input only under it (tests/test_faces.py)
        preprocess.process_video(RawItem("video", path, "spk"), PreprocessConfig(workers=1, faces="reject"))
    assert (info.value.reason, str(path)) == (reason, str(path)) and str(path) in info.value.detail
    assert words in info.value.detail


def test_an_unreadable_transcript_is_named_before_the_video_is_read(tmp_path):
    item = RawItem("video", tmp_path / "video.mp4", "spk", problem=f"{tmp_path / 'video.txt'}: not UTF-8")
    with pytest.raises(Reject, match="bad_transcript: .*video.txt: not UTF-8"):
        preprocess.process_video(item, PreprocessConfig(workers=1))


# --------------------------------------------------------------------------- rotated faces


@pytest.mark.parametrize("degrees, fix", [(270, 90), (180, 180)])
def test_a_face_stored_turned_is_found_with_preprocess_rotate(tmp_path, face_frame, degrees, fix):
    upright = talking_video(tmp_path / "upright.mp4", face_frame)
    turned = _turned(degrees)(tmp_path / "turned.mp4", face_frame)
    with pytest.raises(Reject, match=f"turned {fix} degrees clockwise they show one.*preprocess.rotate: {fix}"):
        preprocess.process_video(RawItem("turned", turned, "spk"), PreprocessConfig(workers=1))
    clips = preprocess.process_video(RawItem("turned", turned, "spk"), PreprocessConfig(workers=1, rotate=fix))
    expected = preprocess.process_video(RawItem("upright", upright, "spk"), PreprocessConfig(workers=1))
    # the crop is the upright face's, up to the re-encoding of turned pixels
    assert np.abs(clips[0].frames.astype(int) - expected[0].frames).mean() < 4


def test_a_face_a_quarter_turn_clockwise_needs_no_setting(tmp_path, face_frame):
    # MediaPipe finds a face up to a quarter turn clockwise, and the crop, aligned on the
    # eyes and mouth, turns it upright: no setting needed (measured so; keep it so)
    upright = talking_video(tmp_path / "upright.mp4", face_frame)
    turned = _turned(90)(tmp_path / "turned.mp4", face_frame)
    clips = preprocess.process_video(RawItem("turned", turned, "spk"), PreprocessConfig(workers=1))
    expected = preprocess.process_video(RawItem("upright", upright, "spk"), PreprocessConfig(workers=1))
    assert np.abs(clips[0].frames.astype(int) - expected[0].frames).mean() < 6


def test_rotate_is_validated_on_load(workdir, capsys):
    for bad in (45, 90.0, "90"):
        write_params(workdir, preprocess={"rotate": bad})
        with pytest.raises(ConfigError, match="preprocess.rotate"):
            config.load(workdir / "params.yaml")
    with pytest.raises(SystemExit):
        cli.main(["speak", "video.mp4", "--rotate", "45"])
    assert "--rotate: invalid choice: 45" in capsys.readouterr().err
