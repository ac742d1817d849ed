"""l2s.data.stream.VideoFrames: the frames read_video gives, one at a time, at any frame
rate, in order, by index (seeking) and backwards, with read_video's checks."""

from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest

from l2s.data.media import read_video, write_video
from l2s.data.rejects import Reject
from l2s.data.stream import VideoFrames
from tests.test_media import moving_frames


def _all_equal(frames, expected) -> bool:
    frames = list(frames)
    return len(frames) == len(expected) and all(np.array_equal(a, b) for a, b in zip(frames, expected))


@pytest.mark.parametrize(("fps_in", "n"), [(25, 50), (30, 91), (60, 130), (20, 33), (30000 / 1001, 61)])
def test_frames_in_order_and_by_index_are_read_videos(tmp_path, fps_in, n):
    path = tmp_path / "v.mp4"
    write_video(path, moving_frames(n), fps_in, None, 16000)
    expected = read_video(path, audio=False, fps=25.0).frames
    frames = VideoFrames(path, fps=25.0)
    assert frames.fps == 25.0 and frames.size == (128, 96)
    assert frames.count == len(expected) and not frames.counted  # from the header, before any pass
    assert _all_equal(frames, expected) and frames.counted and frames.count == len(expected)
    assert _all_equal(frames, expected)  # a second pass gives the same
    picks = [0, 1, len(expected) // 2, len(expected) - 2, len(expected) - 1]
    assert _all_equal(frames.at(picks), expected[picks])
    assert _all_equal(frames.span(3, 17), expected[3:17])
    # backwards in spans small enough to need several seeks
    start = len(expected) - 5
    assert _all_equal(frames.backwards(start, budget=8 * 128 * 96 * 3), expected[start::-1])
    native = VideoFrames(path)  # no frame rate asked for: the video's own
    assert native.fps == pytest.approx(fps_in) and _all_equal(native, read_video(path, audio=False).frames)


def test_seeking_far_into_a_longer_video_with_several_key_frames(tmp_path):
    frames = moving_frames(400, 64, 80)
    write_video(tmp_path / "v.mp4", frames, 25, None, 16000)
    path = tmp_path / "gop.mp4"  # a key frame every 30 frames
    cmd = ["ffmpeg", "-v", "error", "-i", tmp_path / "v.mp4", "-c:v", "libx264", "-g", "30", "-bf", "2", path]
    subprocess.run(cmd, check=True)
    expected = read_video(path, audio=False).frames
    video = VideoFrames(path, fps=25.0)
    assert _all_equal(video.at([0, 29, 30, 31, 200, 399]), expected[[0, 29, 30, 31, 200, 399]])
    assert _all_equal(video.span(95, 140), expected[95:140])


def test_display_rotation_is_applied_as_read_video_does(tmp_path):
    write_video(tmp_path / "v.mp4", moving_frames(10, 48, 80), 25, None, 16000)
    cmd = ["ffmpeg", "-v", "error", "-i", tmp_path / "v.mp4", "-c", "copy", "-metadata:s:v:0", "rotate=90"]
    subprocess.run([*cmd, tmp_path / "r.mp4"], check=True)
    with av.open(str(tmp_path / "r.mp4")) as c:
        if next(c.decode(video=0)).rotation == 0:
            pytest.skip("this ffmpeg does not write display rotation from the rotate tag")
    video = VideoFrames(tmp_path / "r.mp4")
    assert video.size == (48, 80)
    assert _all_equal(video, read_video(tmp_path / "r.mp4", audio=False).frames)


def test_unusable_files_are_rejected_as_read_video_rejects_them(tmp_path):
    with pytest.raises(FileNotFoundError):
        VideoFrames(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(Reject, match="zero bytes") as info:
        VideoFrames(tmp_path / "empty.mp4")
    assert info.value.reason == "empty_file"
    # cut off in the middle: the frames before the fault come, then the Reject
    write_video(tmp_path / "whole.mp4", moving_frames(100), 25, None, 16000)
    data = (tmp_path / "whole.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    video = VideoFrames(tmp_path / "cut.mp4", fps=25.0)
    got = []
    with pytest.raises(Reject) as info:
        for frame in video:
            got.append(frame)
    assert info.value.reason == "corrupt" and "cut.mp4" in info.value.detail
    assert 0 < len(got) < 100
