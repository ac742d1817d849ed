"""Video and audio in and out of container files.

Reading goes through PyAV (one demux pass for both streams, no temporary files) and
turns every way a raw input can be unusable into a `Reject` whose detail names the
file and what to do. Writing goes through an ffmpeg subprocess (H.264 + AAC in .mp4)
because that is the fastest way to get a file every player and browser accepts.
Raw user files are only ever opened read-only.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2
import numpy as np
import soundfile as sf

from l2s.data.rejects import Reject

log = logging.getLogger(__name__)

FFMPEG_INSTALL = "sudo apt-get install -y ffmpeg"

# Demuxers that hold a single still picture (ffmpeg names them "<codec>_pipe" or
# "image2"); a still image renamed .mp4 opens through one of these.
_IMAGE_DEMUXERS = ("image2", "_pipe")

# Decoding ending this many frame durations (or this fraction of the stream) before the
# end the container header announces means the file was cut off. The header's frame
# count is no use here: it includes frames an edit list (a trimmed clip) hides.
_MISSING_FRAMES_SLACK = 2
_MISSING_FRAMES_FRACTION = 0.02


@dataclass
class Video:
    """A decoded clip: RGB frames plus its mono soundtrack."""

    frames: np.ndarray  # uint8 RGB [T, H, W, 3]
    fps: float
    audio: np.ndarray  # float32 mono in [-1, 1] at sample_rate, sample 0 at the first frame
    sample_rate: int
    path: str
    # where the audio stream starts minus where the video stream starts, in seconds on the
    # container's timeline (ffprobe's start_time); `audio` is already padded or trimmed by it
    audio_offset: float = 0.0

    @property
    def video_seconds(self) -> float:
        return len(self.frames) / self.fps

    @property
    def audio_seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def read_video(
    path: str | os.PathLike, sample_rate: int = 16000, audio: bool = True, fps: float | None = None
) -> Video:
    """Decode all frames (RGB, display rotation applied) and the audio (mono float32,
    resampled to `sample_rate`), the audio placed on the frames' timeline as a player
    places it: sample 0 plays with the first frame (see `Video.audio_offset`). With
    audio=False the soundtrack is neither needed nor decoded (a silent video for `l2s
    speak`): `Video.audio` is empty. With `fps`, the frames come at that rate
    (`resample_indices`), and the ones it drops are never held.

    Raises `Reject` (reasons empty_file, corrupt, not_a_video, no_video, no_audio) for
    inputs preprocessing cannot use, and FileNotFoundError for a path that does not exist.
    """
    path = os.fspath(path)
    with _open(path) as container:
        return _decode(container, path, sample_rate, audio, fps)


def probe(path: str | os.PathLike) -> tuple[int, int, float, float]:
    """Width, height, frame rate and seconds of a video's video stream, from its header
    alone (0.0 seconds when the header does not say); raises like read_video."""
    path = os.fspath(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        seconds = _stream_end(stream) or (float(container.duration) / av.time_base if container.duration else 0.0)
        return stream.width, stream.height, _stream_fps(stream), seconds


def _open(path: str) -> av.container.InputContainer:
    """The container of a file that exists, is not empty and opens as media (else Reject)."""
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    if os.path.getsize(path) == 0:
        raise Reject("empty_file", f"{path} has zero bytes; copy it again from its source")
    try:
        return av.open(path, mode="r")
    except av.FFmpegError as e:
        raise Reject(
            "corrupt",
            f"{path} cannot be opened as a media file ({_ffmpeg_msg(e)}); "
            "the download or copy may be incomplete (an .mp4 cut off before its "
            "index, the 'moov atom', cannot be read): fetch it again",
        ) from e


def _video_stream(container: av.container.InputContainer, path: str) -> av.video.stream.VideoStream:
    """The video stream, or Reject for a still image or a file with none."""
    fmt = container.format.name
    if any(tag in fmt for tag in _IMAGE_DEMUXERS):
        raise Reject("not_a_video", f"{path} is a still image ({fmt}), not a video")
    # Cover art in an audio file (.m4a, .mp3) is a one-picture "video" stream: not a video.
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        raise Reject("no_video", f"{path} has no video stream (audio only); lip-to-speech needs the speaker's face")
    return videos[0]


class _Resampler:
    """Picks, while decoding, the frames `resample_indices` would pick afterwards, so a
    60 fps video brought to 25 fps never holds the frames it drops."""

    def __init__(self, fps_in: float, fps_out: float):
        self.fps_in, self.fps_out = fps_in, fps_out
        self.step = fps_in / fps_out
        self.wanted = 0  # the next output frame
        self.seen = 0  # input frames so far

    def push(self, frame: np.ndarray, out: list[np.ndarray]) -> None:
        while _source_frame(self.wanted, self.step) <= self.seen:
            out.append(frame)
            self.wanted += 1
        self.seen += 1

    def finish(self, out: list[np.ndarray]) -> None:
        """Cut or extend (repeating the last frame) to resample_indices' output length."""
        n_out = _output_frames(self.seen, self.fps_in, self.fps_out)
        del out[n_out:]
        out.extend([out[-1]] * (n_out - len(out)))


def _decode(
    container: av.container.InputContainer, path: str, sample_rate: int, need_audio: bool, target_fps: float | None
) -> Video:
    vstream = _video_stream(container, path)
    if need_audio and not container.streams.audio:
        raise Reject("no_audio", f"{path} has no audio track; training needs the speech that goes with the video")
    streams = [vstream] + ([container.streams.audio[0]] if need_audio else [])
    # One thread per decoder: preprocessing runs one worker process per core.
    for stream in streams:
        stream.thread_count = 1
    fps = _stream_fps(vstream)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    frames: list[np.ndarray] = []
    picker = _Resampler(fps, target_fps) if target_fps and abs(target_fps - fps) > 0.01 else None
    decoded = 0
    chunks: list[np.ndarray] = []
    end_time = 0.0  # end of the last decoded frame, in stream seconds
    # container times of the first frame and the first audio sample: a stream may start
    # later than the other (screen recordings, cut streams, edit lists)
    video_start: float | None = None
    audio_start: float | None = None
    try:
        for packet in container.demux(*streams):
            if packet.stream.type == "video":
                for frame in packet.decode():
                    # Phones store portrait video sideways plus a display rotation; apply it
                    # as players do, or the face mesh would see a face lying on its side.
                    quarter_turns = round(frame.rotation / 90) % 4
                    image = np.rot90(_rgb(frame), quarter_turns)
                    if picker is None:
                        frames.append(image)
                    else:
                        picker.push(image, frames)
                    decoded += 1
                    if frame.time is not None:
                        end_time = max(end_time, frame.time + 1.0 / fps)
                        if video_start is None:
                            video_start = frame.time
            else:
                for frame in packet.decode():
                    if audio_start is None and frame.time is not None:
                        audio_start = frame.time
                    chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        if need_audio:
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except av.FFmpegError as e:
        raise Reject(
            "corrupt",
            f"{path}: decoding failed after frame {decoded} "
            f"(t={end_time:.2f} s): {_ffmpeg_msg(e)}; fetch the file again "
            "or re-encode it",
        ) from e
    if decoded < 2:
        raise Reject("not_a_video", f"{path} holds {decoded} video frame(s), not a video")
    expected_end = _stream_end(vstream)
    missing = expected_end - end_time
    if expected_end and missing > max(_MISSING_FRAMES_SLACK / fps, _MISSING_FRAMES_FRACTION * expected_end):
        raise Reject(
            "corrupt",
            f"{path}: video stops at frame {decoded} (t={end_time:.2f} s) "
            f"but the file announces {expected_end:.2f} s; it is probably truncated: "
            "fetch it again",
        )
    audio = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    if need_audio and audio.size == 0:
        raise Reject("no_audio", f"{path} has an audio track with no decodable samples")
    np.clip(audio, -1.0, 1.0, out=audio)
    offset = audio_start - video_start if audio_start is not None and video_start is not None else 0.0
    if need_audio:
        audio = _align(audio, offset, sample_rate)
        if abs(offset) * sample_rate >= 1:
            log.info("%s: the audio stream starts %s; placed on the video's timeline", path, describe_offset(offset))
    if picker is not None:
        picker.finish(frames)
        fps = target_fps
    return Video(frames=np.stack(frames), fps=fps, audio=audio, sample_rate=sample_rate, path=path, audio_offset=offset)


def _align(audio: np.ndarray, offset: float, sample_rate: int) -> np.ndarray:
    """Audio whose first sample plays `offset` seconds after the first frame -> audio whose
    first sample plays with it: silence in front when it starts later, its head cut when
    it starts earlier. The end is left where it is, so that the two streams' ends compare
    honestly (preprocess's length check)."""
    shift = round(offset * sample_rate)
    if shift > 0:
        return np.concatenate([np.zeros(shift, audio.dtype), audio])
    return audio[-shift:]


def describe_offset(offset: float) -> str:
    """An audio start offset (seconds, audio minus video) in words."""
    if offset >= 0:
        return f"{offset:.3f} s after the video stream"
    return f"{-offset:.3f} s before the video stream"


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    """RGB pixels of a decoded frame. The common H.264 case (yuv420p, even size) converts
    with OpenCV, 4x faster than swscale's rgb24 path (0.2 vs 0.87 ms at 256x256)."""
    if frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0:
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


def _stream_fps(stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise Reject("corrupt", f"{stream.container.name}: the video stream has no frame rate")
    return float(rate)


def _stream_end(stream: av.video.stream.VideoStream) -> float:
    """End time the container header announces for `stream` (0.0 when it says nothing)."""
    if stream.duration is not None and stream.time_base is not None:
        return float((stream.duration + (stream.start_time or 0)) * stream.time_base)
    # Matroska/WebM keep it in a per-track tag instead (ffmpeg writes the track's end time).
    tag = stream.metadata.get("DURATION", "")
    try:
        h, m, sec = tag.split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return 0.0


def _ffmpeg_msg(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


@functools.cache
def require_ffmpeg() -> None:
    """Raise RuntimeError, with the install command, unless ffmpeg with libx264 and aac is on PATH."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError(f"ffmpeg is not on PATH; install it with: {FFMPEG_INSTALL}")
    out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    missing = [name for name in ("libx264", "aac") if f" {name} " not in out]
    if missing:
        raise RuntimeError(
            f"{exe} lacks the encoder(s) {', '.join(missing)}; install a full build with: {FFMPEG_INSTALL}"
        )


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None,
    sample_rate: int,
    *,
    crf: int = 18,
) -> None:
    """Encode uint8 frames ([T, H, W, 3] RGB or [T, H, W] gray) and optional audio to an .mp4.

    H.264 (libx264, yuv420p) at exactly `fps`, AAC audio, `+faststart` so the file streams.
    Odd widths/heights are padded by one black pixel (yuv420p needs even sizes). The file
    appears at `path` only when complete. Raises RuntimeError with ffmpeg's stderr on failure.
    """
    require_ffmpeg()
    path = os.fspath(path)
    frames = np.ascontiguousarray(frames)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[3] != 3):
        raise ValueError(f"frames must be uint8 [T,H,W,3] or [T,H,W], got {frames.dtype} {frames.shape}")
    if len(frames) == 0:
        raise ValueError("no frames to write")
    t, h, w = frames.shape[:3]
    # An exact rational rate: NTSC's 30000/1001 (as read back from a file) stays exact.
    rate = Fraction(fps).limit_denominator(1001)
    out_dir = os.path.dirname(os.path.abspath(path))
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".write_video_") as tmp:
        cmd = [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray" if frames.ndim == 3 else "rgb24",
            "-s",
            f"{w}x{h}",
            "-framerate",
            str(rate),
            "-i",
            "pipe:0",
        ]
        if audio is not None and len(audio):
            wav = os.path.join(tmp, "audio.wav")
            sf.write(wav, np.asarray(audio, np.float32), sample_rate, subtype="FLOAT")
            cmd += ["-i", wav, "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "128k"]
        if w % 2 or h % 2:
            cmd += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
        # veryfast + one thread: preprocessing writes many small clips in parallel processes.
        cmd += [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            str(crf),
            "-pix_fmt",
            "yuv420p",
            "-threads",
            "1",
            "-r",
            str(rate),
            "-movflags",
            "+faststart",
        ]
        tmp_out = os.path.join(tmp, "out.mp4")
        # stderr goes to a file so the frames can go in one blocking write (communicate()
        # would push them through a select loop in 4 KiB pieces).
        with open(os.path.join(tmp, "stderr.txt"), "w+b") as err:
            proc = subprocess.Popen(cmd + [tmp_out], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
            try:
                proc.stdin.write(memoryview(frames.reshape(-1)))
            except BrokenPipeError:
                pass  # ffmpeg exited early; its stderr says why
            finally:
                proc.stdin.close()
            code = proc.wait()
            if code != 0:
                err.seek(0)
                tail = err.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"ffmpeg failed writing {path} (exit {code}): {tail}")
        os.replace(tmp_out, path)
    log.debug("wrote %s: %d frames %dx%d at %s fps", path, t, w, h, rate)


def resample_indices(n_frames: int, fps_in: float, fps_out: float) -> np.ndarray:
    """Index of the input frame to show at each output frame (nearest start time).

    The output covers the same duration: round(n_frames * fps_out / fps_in) frames.
    """
    if n_frames <= 0:
        return np.zeros(0, np.int64)
    idx = _source_frame(np.arange(_output_frames(n_frames, fps_in, fps_out)), fps_in / fps_out).astype(np.int64)
    return np.minimum(idx, n_frames - 1)


def _output_frames(n_frames: int, fps_in: float, fps_out: float) -> int:
    return max(1, int(np.floor(n_frames * fps_out / fps_in + 0.5)))


def _source_frame(k, step: float):
    """The input frame nearest in time to output frame(s) k, `step` input frames apart;
    the tiny epsilon keeps exact halves (and float noise just below them) rounding up."""
    return np.floor(k * step + 0.5 + 1e-9)


def mux_audio(
    video: str | os.PathLike, audio: np.ndarray | str | os.PathLike, sample_rate: int, out: str | os.PathLike
) -> None:
    """Write a copy of `video` whose only sound is `audio` (float mono samples, or an audio
    file such as the .wav `l2s speak` wrote while speaking) to `out`.

    The pictures are copied as they are; only when the output container cannot hold the
    video's codec (an MPEG-1 .mpg into .mp4, say) are they re-encoded as H.264. The file
    appears at `out` only when complete; `video` is only read."""
    require_ffmpeg()
    video, out = os.fspath(video), os.fspath(out)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(out)), prefix=".mux_") as tmp:
        if isinstance(audio, np.ndarray):
            wav = os.path.join(tmp, "audio.wav")
            sf.write(wav, np.asarray(audio, np.float32), sample_rate, subtype="FLOAT")
        else:
            wav = os.fspath(audio)
        tmp_out = os.path.join(tmp, "out" + (os.path.splitext(out)[1] or ".mp4"))
        base = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", video, "-i", wav]
        base += ["-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "128k"]
        copy = ["-c:v", "copy"]
        encode = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
        for video_args in (copy, encode):
            run = subprocess.run(base + video_args + [tmp_out], capture_output=True, text=True)
            if run.returncode == 0:
                break
        else:
            raise RuntimeError(f"ffmpeg failed writing {out}: {run.stderr.strip()[-2000:]}")
        os.replace(tmp_out, out)
