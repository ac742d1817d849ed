"""l2s.data.media: write/read round trips, every kind of unusable input, frame-rate resampling."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import soundfile as sf

from l2s.data import media
from l2s.data.media import Video, read_video, require_ffmpeg, resample_indices, write_video
from l2s.data.rejects import Reject

SR = 16000


def moving_frames(n: int, h: int = 96, w: int = 128) -> np.ndarray:
    """Smooth colour gradients drifting over time: easy to encode, easy to compare."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    t = np.arange(n, dtype=np.float32)[:, None, None]
    r = 128 + 100 * np.sin(xx / 17 + t / 5)
    g = 128 + 100 * np.cos(yy / 13 - t / 7)
    b = np.broadcast_to((xx + yy) / (h + w) * 255, r.shape)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def sine(seconds: float, freq: float = 440.0) -> np.ndarray:
    return (0.4 * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 2 s, 25 fps clip with sound, written without +faststart ('moov' at the end)."""
    d = tmp_path_factory.mktemp("clip")
    write_video(d / "fs.mp4", moving_frames(50), 25, sine(2.0), SR)
    subprocess.run(["ffmpeg", "-v", "error", "-i", d / "fs.mp4", "-c", "copy", d / "clip.mp4"], check=True)
    return d / "clip.mp4"


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("fps", [25, 30])
def test_round_trip(tmp_path, fps):
    frames, audio = moving_frames(3 * fps), sine(3.0)
    write_video(tmp_path / "v.mp4", frames, fps, audio, SR)
    v = read_video(tmp_path / "v.mp4", sample_rate=SR)
    assert isinstance(v, Video) and v.path == str(tmp_path / "v.mp4")
    assert v.frames.shape == frames.shape and v.frames.dtype == np.uint8
    assert v.fps == fps and v.video_seconds == pytest.approx(3.0)
    # AAC pads the last packet: at most one 1024-sample frame more, never less
    assert 0 <= len(v.audio) - len(audio) <= 1024 and v.audio.dtype == np.float32
    assert np.abs(v.frames.astype(int) - frames).mean() < 4
    n = len(audio)
    assert np.corrcoef(v.audio[:n], audio)[0, 1] > 0.99  # no shift, no distortion
    assert v.audio_seconds == pytest.approx(3.0, abs=0.07)


def test_read_resamples_and_downmixes_audio(tmp_path):
    stereo = np.stack([sine(1.0, 300), sine(1.0, 300)], axis=1)
    wav = tmp_path / "s.wav"
    sf.write(wav, stereo, SR)
    # a 48 kHz stereo track next to the video, as cameras record it
    write_video(tmp_path / "silent.mp4", moving_frames(25), 25, None, SR)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            tmp_path / "silent.mp4",
            "-i",
            wav,
            "-c:v",
            "copy",
            "-c:a",
            "aac",
            "-ar",
            "48000",
            "-ac",
            "2",
            tmp_path / "st.mp4",
        ],
        check=True,
    )
    v = read_video(tmp_path / "st.mp4", sample_rate=22050)
    assert v.sample_rate == 22050 and v.audio.ndim == 1
    assert v.audio_seconds == pytest.approx(1.0, abs=0.05)
    assert 0.2 < np.abs(v.audio).max() <= 1.0


def test_gray_odd_size_and_ntsc_rate(tmp_path):
    gray = moving_frames(30, 49, 65)[..., 1]
    write_video(tmp_path / "g.mp4", gray, 30000 / 1001, sine(1.0), SR)
    v = read_video(tmp_path / "g.mp4")
    assert v.fps == pytest.approx(29.97, abs=1e-3)
    assert v.frames.shape == (30, 50, 66, 3)  # padded to even sizes for yuv420p
    assert np.abs(v.frames[:, :49, :65, 0].astype(int) - gray).mean() < 4


def test_display_rotation_is_applied(tmp_path):
    frames = moving_frames(10, 48, 80)
    write_video(tmp_path / "v.mp4", frames, 25, sine(0.4), SR)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            tmp_path / "v.mp4",
            "-c",
            "copy",
            "-metadata:s:v:0",
            "rotate=90",
            tmp_path / "r.mp4",
        ],
        check=True,
    )
    with av.open(str(tmp_path / "r.mp4")) as c:
        if next(c.decode(video=0)).rotation == 0:
            pytest.skip("this ffmpeg does not write display rotation from the rotate tag")
    v = read_video(tmp_path / "r.mp4")
    assert v.frames.shape == (10, 80, 48, 3)
    plain = read_video(tmp_path / "v.mp4").frames
    assert np.array_equal(v.frames, np.rot90(plain, 1, axes=(1, 2)))


def test_write_is_atomic_and_reports_ffmpeg_errors(tmp_path):
    out = tmp_path / "bad.mp4"
    with pytest.raises(RuntimeError, match="ffmpeg failed.*crf"):
        write_video(out, moving_frames(5), 25, sine(0.2), SR, crf=-5)  # x264 refuses it
    assert list(tmp_path.iterdir()) == []  # neither a half file nor temporaries left
    with pytest.raises(ValueError):
        write_video(out, moving_frames(5).astype(np.float32), 25, None, SR)


def test_require_ffmpeg(monkeypatch):
    require_ffmpeg()
    media.require_ffmpeg.cache_clear()
    monkeypatch.setattr(media.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install -y ffmpeg"):
        require_ffmpeg()
    media.require_ffmpeg.cache_clear()


# --------------------------------------------------------------------------- bad inputs


def _empty(d: Path, clip: Path) -> Path:
    (d / "empty.mp4").write_bytes(b"")
    return d / "empty.mp4"


def _truncated(d: Path, clip: Path) -> Path:
    data = clip.read_bytes()  # moov at the end: cutting it loses the index
    (d / "cut.mp4").write_bytes(data[: len(data) // 2])
    return d / "cut.mp4"


def _truncated_faststart(d: Path, clip: Path) -> Path:
    data = (clip.parent / "fs.mp4").read_bytes()  # index first: cutting it loses frames
    (d / "cut_fs.mp4").write_bytes(data[: len(data) // 2])
    return d / "cut_fs.mp4"


def _truncated_mkv(d: Path, clip: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-i", clip, "-c", "copy", d / "full.mkv"], check=True)
    data = (d / "full.mkv").read_bytes()  # matroska ends quietly where the data stops
    (d / "cut.mkv").write_bytes(data[: int(len(data) * 0.7)])
    return d / "cut.mkv"


def _png(d: Path, clip: Path) -> Path:
    ok, png = cv2.imencode(".png", moving_frames(1)[0])
    (d / "photo.mp4").write_bytes(png.tobytes())
    return d / "photo.mp4"


def _one_frame(d: Path, clip: Path) -> Path:
    write_video(d / "one.mp4", moving_frames(1), 25, sine(0.04), SR)
    return d / "one.mp4"


def _no_audio(d: Path, clip: Path) -> Path:
    write_video(d / "mute.mp4", moving_frames(10), 25, None, SR)
    return d / "mute.mp4"


def _m4a(d: Path, clip: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-i", clip, "-vn", "-c:a", "copy", d / "a.m4a"], check=True)
    return d / "a.m4a"


def _m4a_with_cover_art(d: Path, clip: Path) -> Path:
    ok, png = cv2.imencode(".png", moving_frames(1)[0])
    (d / "cover.png").write_bytes(png.tobytes())
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            clip,
            "-i",
            d / "cover.png",
            "-map",
            "0:a",
            "-map",
            "1",
            "-c:a",
            "copy",
            "-c:v",
            "png",
            "-disposition:v:0",
            "attached_pic",
            d / "song.m4a",
        ],
        check=True,
    )
    return d / "song.m4a"


def _wav_as_mp4(d: Path, clip: Path) -> Path:
    sf.write(d / "speech.wav", sine(0.5), SR)
    shutil.move(d / "speech.wav", d / "speech.mp4")
    return d / "speech.mp4"


def _random(d: Path, clip: Path) -> Path:
    (d / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(20000))
    return d / "noise.mp4"


@pytest.mark.parametrize(
    "make, reason, words",
    [
        (_empty, "empty_file", "zero bytes"),
        (_truncated, "corrupt", "cannot be opened"),
        (_truncated_faststart, "corrupt", "decoding failed after frame"),
        (_truncated_mkv, "corrupt", "truncated"),
        (_png, "not_a_video", "still image"),
        (_one_frame, "not_a_video", "1 video frame"),
        (_no_audio, "no_audio", "no audio track"),
        (_m4a, "no_video", "no video stream"),
        (_m4a_with_cover_art, "no_video", "no video stream"),
        (_wav_as_mp4, "no_video", "no video stream"),
        (_random, "corrupt", "cannot be opened"),
    ],
)
def test_bad_inputs_are_rejected_and_left_untouched(tmp_path, clip, make, reason, words):
    path = make(tmp_path, clip)
    before = sha(path)
    with pytest.raises(Reject) as info:
        read_video(path)
    assert info.value.reason == reason
    assert str(path) in info.value.detail and words in info.value.detail
    assert sha(path) == before


def test_trimmed_clip_with_edit_list_is_not_called_truncated(tmp_path, clip):
    # stream copy from 0.6 s keeps the frames before it, hidden by an edit list
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "0.6", "-i", clip, "-c", "copy", tmp_path / "t.mp4"], check=True)
    v = read_video(tmp_path / "t.mp4")
    assert v.video_seconds == pytest.approx(1.4, abs=0.05)


def test_missing_file_is_an_error_not_a_reject(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_video(tmp_path / "nope.mp4")


# --------------------------------------------------------------------------- resampling


def test_resample_identity():
    assert np.array_equal(resample_indices(75, 25, 25), np.arange(75))


def test_resample_30_to_25():
    idx = resample_indices(90, 30, 25)
    assert len(idx) == 75  # 3 s either way
    assert idx[0] == 0 and idx[-1] <= 89 and np.all(np.diff(idx) >= 1)
    t_out = np.arange(75) / 25
    # every pick is the input frame nearest in time
    assert np.all(np.abs(idx / 30 - t_out) <= 0.5 / 30 + 1e-9)


def test_resample_up_and_edges():
    idx = resample_indices(50, 25, 30)
    assert len(idx) == 60 and idx.max() == 49 and np.all(np.diff(idx) >= 0)
    assert len(resample_indices(0, 30, 25)) == 0
    assert list(resample_indices(1, 30, 25)) == [0]


@pytest.mark.parametrize("n", [1, 2, 10, 89, 90, 91, 301])
@pytest.mark.parametrize(("fps_in", "fps_out"), [(30, 25), (60, 25), (75, 25), (30000 / 1001, 25), (20, 25), (25, 30)])
def test_resampling_while_decoding_picks_what_resample_indices_picks(n, fps_in, fps_out):
    frames = [np.full(1, i) for i in range(n)]
    picker, out = media._Resampler(fps_in, fps_out), []
    for frame in frames:
        picker.push(frame, out)
    picker.finish(out)
    assert [int(f[0]) for f in out] == list(resample_indices(n, fps_in, fps_out))


def test_read_video_at_another_frame_rate_and_probe(tmp_path):
    path = tmp_path / "v30.mp4"
    write_video(path, moving_frames(50), 30, None, SR)
    whole = read_video(path, audio=False)
    at25 = read_video(path, audio=False, fps=25.0)
    assert at25.fps == 25.0 and at25.audio.size == 0  # no soundtrack needed, none decoded
    assert np.array_equal(at25.frames, whole.frames[resample_indices(50, 30, 25)])
    width, height, fps, seconds = media.probe(path)
    assert (width, height, fps) == (whole.frames.shape[2], whole.frames.shape[1], 30.0)
    assert abs(seconds - 50 / 30) < 0.05


@pytest.mark.parametrize("sample_rate", [16000, 22050, 48000])
def test_audio_stays_in_sync_with_video_through_aac(tmp_path, sample_rate):
    # AAC adds encoder priming samples; the decoder must trim them or speech drifts off the lips
    audio = np.zeros(3 * sample_rate, np.float32)
    audio[sample_rate : sample_rate + 200] = 0.8 * np.sin(np.arange(200) * 0.5)
    path = tmp_path / "click.mp4"
    write_video(path, np.zeros((75, 64, 64, 3), np.uint8), 25.0, audio, sample_rate)
    clip = read_video(path, sample_rate=16000)
    click = np.argmax(np.abs(clip.audio) > 0.2) / 16000
    assert abs(click - 1.0) < 0.005


# --------------------------------------------------------------------------- stream start times


def _click(seconds: float, at: float) -> np.ndarray:
    """Silence with one loud burst at `at` seconds: where it lands shows where audio sits."""
    audio = np.zeros(int(round(seconds * SR)), np.float32)
    audio[int(at * SR) : int(at * SR) + 200] = 0.8 * np.sin(np.arange(200) * 0.5)
    return audio


@pytest.mark.parametrize(
    "suffix, codec, offset",
    [
        (".mp4", "aac", 1.95),  # a screen recording whose microphone starts late
        (".mkv", "libopus", 1.95),
        (".mov", "pcm_s16le", 1.95),
        (".mp4", "aac", -0.7),  # the picture starts late (a stream cut at another time)
    ],
)
def test_streams_that_start_apart_are_placed_on_one_timeline(tmp_path, suffix, codec, offset):
    video_seconds = 5.0
    write_video(tmp_path / "picture.mp4", moving_frames(int(video_seconds * 25)), 25, None, SR)
    # the audio covers the picture from where it starts to where the picture ends; its
    # burst plays 2.45 s after the first frame
    audio_seconds = video_seconds - offset
    sf.write(tmp_path / "sound.wav", _click(audio_seconds, 2.45 - offset), SR)
    # -itsoffset delays the input after it: the sound, or (offset < 0) the picture
    picture, sound = ["-i", tmp_path / "picture.mp4"], ["-i", tmp_path / "sound.wav"]
    if offset > 0:
        sound = ["-itsoffset", str(offset), *sound]
    else:
        picture = ["-itsoffset", str(-offset), *picture]
    path = tmp_path / f"apart{suffix}"
    maps = ["-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", codec]
    subprocess.run(["ffmpeg", "-v", "error", *picture, *sound, *maps, path], check=True)

    v = read_video(path, sample_rate=SR)
    burst = np.argmax(np.abs(v.audio) > 0.2) / SR
    assert abs(burst - 2.45) < 0.005  # on the lips: where a player plays it
    # audio minus video start, as the container has it (AAC and Opus start their stream
    # with the encoder's priming samples, up to 1024 of them, just before the sound)
    assert offset - 1024 / SR - 0.001 <= v.audio_offset <= offset + 0.001
    assert v.audio_seconds == pytest.approx(video_seconds, abs=0.07)  # both end together
