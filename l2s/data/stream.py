"""A video's frames decoded as they are read, for work whose memory must not grow with the
video's length (`l2s speak` on an hour of footage).

`media.read_video` holds every frame of a clip, which is right for preprocessing's few
seconds. `VideoFrames` gives the same frames, at the same frame rate, one at a time: in order
(`iter`), at chosen indices (`at`, by seeking) and in spans (`span`), so a caller can pass
over a video more than once and hold only what it needs. It applies the same display
rotation, the same frame-rate conversion (media.resample_indices' choice of frames) and the
same checks as read_video, raising the same `Reject`s.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator

import av
import numpy as np

from l2s.data.media import (
    _MISSING_FRAMES_FRACTION,
    _MISSING_FRAMES_SLACK,
    _ffmpeg_msg,
    _open,
    _output_frames,
    _rgb,
    _source_frame,
    _stream_end,
    _stream_fps,
    _video_stream,
)
from l2s.data.rejects import Reject

log = logging.getLogger(__name__)


def _image(frame: av.VideoFrame, turn: int = 0) -> np.ndarray:
    """RGB pixels with the display rotation applied, as read_video gives them, then turned
    `turn` degrees clockwise (as facecrop.turn turns them)."""
    image = np.rot90(_rgb(frame), round(frame.rotation / 90) % 4)
    return np.ascontiguousarray(np.rot90(image, -(turn // 90))) if turn % 360 else image


class VideoFrames:
    """The frames of the video at `path`, uint8 RGB [H, W, 3], at `fps` (None: the video's own).

    Opening reads the header and the first frame, so a file that is not a usable video fails
    here (Reject, as read_video; FileNotFoundError when missing). `count` is the number of
    frames: the header's estimate until a full pass (`iter`) has counted them. `threads`:
    decoder threads (0: as many as the codec likes; preprocessing's workers use 1).
    `rotate`: degrees clockwise to turn every frame (for a video stored sideways)."""

    def __init__(self, path: str | os.PathLike, fps: float | None = None, threads: int = 1, rotate: int = 0):
        if rotate % 90:
            raise ValueError(f"frames turn by quarter turns: 0, 90, 180 or 270 degrees, not {rotate}")
        self.path = os.fspath(path)
        self.threads, self.rotate = threads, rotate
        with _open(self.path) as container:
            stream = _video_stream(container, self.path)
            self.source_fps = _stream_fps(stream)
            self._end = _stream_end(stream)
            self._start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            first = self._first(container, stream)
        self.first_time = first.time
        height, width = _image(first, rotate).shape[:2]
        self.size = (width, height)
        resample = fps is not None and abs(fps - self.source_fps) > 0.01
        self.fps = fps if resample else self.source_fps
        self._step = self.source_fps / fps if resample else None
        origin = self._start if self.first_time is None else self.first_time
        seconds = self._end - origin if self._end else 0.0
        self.counted = False
        self.count = self._output_count(round(seconds * self.source_fps)) if seconds > 0 else 0

    def _first(self, container: av.container.InputContainer, stream) -> av.VideoFrame:
        try:
            for frame in container.decode(stream):
                return frame
        except av.FFmpegError as e:
            raise Reject("corrupt", f"{self.path}: decoding failed at the first frame: {_ffmpeg_msg(e)}") from e
        raise Reject("not_a_video", f"{self.path} holds 0 video frame(s), not a video")

    def _output_count(self, source_frames: int) -> int:
        if self._step is None:
            return source_frames
        return _output_frames(source_frames, self.source_fps, self.fps)

    def _open_stream(self):
        container = _open(self.path)
        stream = _video_stream(container, self.path)
        stream.thread_count = self.threads
        if self.threads != 1:
            stream.thread_type = "AUTO"  # frame threads too: same pictures, decoded sooner
        return container, stream

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame in order. After the last one, `count` is exact; a file that stops early
        or fails to decode raises Reject("corrupt") (after the frames before the fault)."""
        container, stream = self._open_stream()
        decoded, end_time, last = 0, 0.0, None
        # frames picked for output k but not given out yet: whether k is inside the video is
        # known only when enough later frames have been seen (see media._Resampler.finish)
        pending: deque[np.ndarray] = deque()
        picked = given = 0
        with container:
            try:
                for frame in container.decode(stream):
                    last = _image(frame, self.rotate)
                    decoded += 1
                    if frame.time is not None:
                        end_time = max(end_time, frame.time + 1.0 / self.source_fps)
                    if self._step is None:
                        yield last
                        given += 1
                        continue
                    while _source_frame(picked, self._step) <= decoded - 1:
                        pending.append(last)
                        picked += 1
                    ready = min(picked, _output_frames(decoded, self.source_fps, self.fps))
                    while given < ready:
                        yield pending.popleft()
                        given += 1
            except av.FFmpegError as e:
                raise Reject(
                    "corrupt",
                    f"{self.path}: decoding failed after frame {decoded} (t={end_time:.2f} s): {_ffmpeg_msg(e)}; "
                    "fetch the file again or re-encode it",
                ) from e
        if decoded < 2:
            raise Reject("not_a_video", f"{self.path} holds {decoded} video frame(s), not a video")
        missing = self._end - end_time
        if self._end and missing > max(_MISSING_FRAMES_SLACK / self.source_fps, _MISSING_FRAMES_FRACTION * self._end):
            raise Reject(
                "corrupt",
                f"{self.path}: video stops at frame {decoded} (t={end_time:.2f} s) but the file announces "
                f"{self._end:.2f} s; it is probably truncated: fetch it again",
            )
        total = self._output_count(decoded)
        while given < total:  # the last frame is repeated to the length resample_indices gives
            yield pending.popleft() if pending else last
            given += 1
        self.count, self.counted = total, True

    def _source_index(self, frame: av.VideoFrame) -> int:
        return round((frame.time - self.first_time) * self.source_fps)

    def span(self, start: int, stop: int) -> list[np.ndarray]:
        """Frames start .. stop-1 (output indices), by seeking to the key frame before `start`
        and decoding from there; frames past the video's end repeat its last frame. Frames
        are placed by their timestamps, which for a constant frame rate (or a video without
        timestamps, read from its start) is where a full pass puts them."""
        if stop <= start:
            return []
        wanted = [self._source(k) for k in range(start, stop)]
        out: list[np.ndarray] = []
        container, stream = self._open_stream()
        with container:
            timed = self.first_time is not None
            if timed and wanted[0] > 0:
                target = self.first_time + wanted[0] / self.source_fps
                container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
            last, index = None, -1
            try:
                for frame in container.decode(stream):
                    index = self._source_index(frame) if timed and frame.time is not None else index + 1
                    last = _image(frame, self.rotate)
                    while len(out) < len(wanted) and wanted[len(out)] <= index:
                        out.append(last)
                    if len(out) == len(wanted):
                        break
            except av.FFmpegError as e:
                raise Reject("corrupt", f"{self.path}: decoding failed near frame {start}: {_ffmpeg_msg(e)}") from e
        if last is None:
            raise Reject("corrupt", f"{self.path}: no frame could be decoded at or after frame {start}")
        out.extend([last] * (len(wanted) - len(out)))
        return out

    def at(self, indices) -> list[np.ndarray]:
        """The frames at the given output indices (each by `span`)."""
        return [self.span(int(i), int(i) + 1)[0] for i in indices]

    def _source(self, k: int) -> int:
        return k if self._step is None else int(_source_frame(k, self._step))

    def backwards(self, start: int, budget: int = 256 * 2**20) -> Iterator[np.ndarray]:
        """Frames start, start-1, ..., 0: read in spans of at most `budget` bytes, each
        given out in reverse, so a face can be tracked back in time in bounded memory."""
        width, height = self.size
        per_span = max(8, budget // (width * height * 3))
        stop = start + 1
        while stop > 0:
            first = max(0, stop - per_span)
            yield from reversed(self.span(first, stop))
            stop = first
