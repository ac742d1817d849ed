"""Speech from any video of a talking face: `l2s speak` and `l2s.speak(...)`.

A video takes the training data's path, then the test stage's:

    decode -> the model's frame rate -> MediaPipe face tracking and the crop that
    preprocessing makes (facecrop) -> the generator over overlapping windows, cross-faded
    in the log-mel domain -> Griffin-Lim (or a neural vocoder) over chunks of 30 s

Memory does not grow with the video's length: the video is decoded twice, as it is read,
and never held. The first pass tracks the face and keeps only its crop anchors (24 bytes a
frame), which are then gap-filled and smoothed over the whole video exactly as
preprocessing does (facecrop.settle). The second pass crops each frame as it is decoded
and runs the generator on a batch of windows at a time; the blended spectrogram goes on to
the vocoder, and the waveform to the output file, as soon as no later window can change it.

Windows of at most 6 s keep the generator near the clip lengths it was trained and tested
on, whatever the video's length. Vocoder chunks of 30 s (l2s.vcagan.vocoder.WaveStream) leave
no seam in anything shorter and hand over smoothly in anything longer. What the crop must
look like (size, region, frame rate) comes from the checkpoint, not from params.yaml: a
model keeps working on a machine that has only the model.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from l2s import config, parallel, paths
from l2s.config import MELS_PER_FRAME
from l2s.data import facecrop, media
from l2s.data.features import Deemphasis
from l2s.data.rejects import Reject
from l2s.data.sources import VIDEO_SUFFIXES, video_files
from l2s.data.stream import VideoFrames
from l2s.training import autocast_dtype
from l2s.vcagan.inference import generate, language_index, load_generator
from l2s.vcagan.vocoder import WaveStream

log = logging.getLogger(__name__)

DEFAULT_MODEL = "models/multi"
# The generator sees a long video in windows of at most this length: twice the training
# clips, near the longest videos the published test script took (155 frames)
WINDOW_SECONDS = 6.0
OVERLAP_SECONDS = 0.6  # shared by neighbouring windows, cross-faded
MIN_FRAMES = 8  # shorter than the generator's temporal receptive field is not speech
WINDOW_BATCH = 4  # windows per generator call: their activations are most of what a long video holds
# The vocoder takes the spectrogram in chunks of this length that overlap by at least
# VOCODER_OVERLAP_SECONDS: Griffin-Lim's memory is that of 30 s, whatever the length
VOCODER_SECONDS = 30.0
VOCODER_OVERLAP_SECONDS = 1.0
DECODER_THREADS = 0  # as many as the codec likes: speak is one process, not a pool of workers


class SpeakError(ValueError):
    """A video `l2s speak` cannot voice; the message says what and where."""


@dataclass
class Speech:
    """What a model says for one video. With keep=False (how `l2s speak` writes files) the
    arrays are left empty and the speech is only in the file named by `output`."""

    video: Path
    wave: np.ndarray  # float32 mono, peak 0.9
    sample_rate: int
    mel: np.ndarray  # the blended ln-mel [n_mels, frames] that was vocoded
    crops: np.ndarray  # what the model saw: uint8 face crops [T, S, S] at the model's fps
    faces: list  # facecrop.FaceBox of every face found, largest first
    face_index: int  # which of them spoke
    no_face: str = ""  # time ranges where the face was not seen (its crop was held)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: decode, crop, generate, vocode
    samples: int = 0  # length of the speech, kept or not
    output: Path | None = None  # the .wav written while speaking, if any
    naturalness: dict[str, float] = field(default_factory=dict)  # DNSMOS P.835 when asked for (ovrl, sig, bak, p808)

    @property
    def seconds(self) -> float:
        return (self.samples or len(self.wave)) / self.sample_rate

    def save(self, path: str | Path) -> Path:
        import soundfile as sf

        if not len(self.wave):
            raise ValueError(f"{self.video}: the speech was not kept (keep=False); it was written to {self.output}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, self.wave, self.sample_rate, subtype="PCM_16")
        return path


def windows(n_frames: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) frame windows, all of one length of at most `size`, covering n_frames
    with neighbours sharing at least `overlap` frames. The windows are spread evenly, so
    a video a little longer than `size` costs two half-length windows, not two whole ones."""
    if n_frames <= size:
        return [(0, n_frames)]
    count = math.ceil((n_frames - overlap) / (size - overlap))
    length = math.ceil((n_frames + (count - 1) * overlap) / count)
    starts = [i * (n_frames - length) // (count - 1) for i in range(count)]
    return [(s, s + length) for s in starts]


def blend(pieces: list[np.ndarray], spans: list[tuple[int, int]], n_frames: int, ramp: int) -> np.ndarray:
    """Spectrograms [F, 4 * window frames] of overlapping windows -> one [F, 4 * n_frames].

    Each window fades in over its first `ramp` spectrogram frames and out over its last
    (not at the video's own ends); overlapping windows are averaged with those weights, so
    one window's voice hands over gradually to the next. Windows must be longer than `ramp`."""
    blender = Blender(n_frames, ramp)
    for piece, span in zip(pieces, spans):
        blender.add(piece, span)
    return blender.take(n_frames)


class Blender:
    """`blend` for windows that come in order: `take` gives out the frames that no later
    window overlaps, and only frames not given out yet are held."""

    def __init__(self, n_frames: int, ramp: int):
        self.n_frames, self.ramp = n_frames, ramp
        self.fade = np.linspace(0.0, 1.0, ramp + 2)[1:-1]  # never exactly 0: every frame keeps a voice
        self.start = 0  # the spectrogram frame where `total` and `weight` begin
        self.total: np.ndarray | None = None
        self.weight = np.zeros(0, np.float64)

    def add(self, piece: np.ndarray, span: tuple[int, int]) -> None:
        s, e = span
        a, b = s * MELS_PER_FRAME - self.start, e * MELS_PER_FRAME - self.start
        if self.total is None:
            self.total = np.zeros((piece.shape[0], 0), np.float64)
        grow = b - self.total.shape[1]
        if grow > 0:
            self.total = np.concatenate([self.total, np.zeros((self.total.shape[0], grow))], axis=1)
            self.weight = np.concatenate([self.weight, np.zeros(grow)])
        w = np.ones(b - a)
        if self.ramp and s > 0:
            w[: self.ramp] = self.fade
        if self.ramp and e < self.n_frames:
            w[-self.ramp :] = np.minimum(w[-self.ramp :], self.fade[::-1])
        self.total[:, a:b] += piece[:, : b - a] * w
        self.weight[a:b] += w

    def take(self, upto: int) -> np.ndarray:
        """The blended frames [F, k] from the last one given out up to video frame `upto`."""
        k = upto * MELS_PER_FRAME - self.start
        out = (self.total[:, :k] / self.weight[:k]).astype(np.float32)
        self.total, self.weight = self.total[:, k:], self.weight[k:]
        self.start += k
        return out


def _neural_vocoder(vocoder: str, mel_cfg: config.MelConfig, device: torch.device) -> torch.nn.Module:
    """A trained neural vocoder (l2s.vocoder): a models/vocoders/<name>, a folder with
    best.pt or a .pt file, refused when it learnt other audio features than the model's."""
    from l2s.vocoder.model import load_vocoder

    path = Path(vocoder)
    with contextlib.suppress(FileNotFoundError):
        if not path.exists() and paths.vocoder_dir(vocoder).exists():
            path = paths.vocoder_dir(vocoder)
    if path.is_dir():
        path = path / paths.BEST
    if not path.exists():
        raise FileNotFoundError(
            f"no vocoder {vocoder!r}: --vocoder takes mel, linear, or a neural vocoder's name "
            "(models/vocoders/<name>), folder or .pt file; train one with: dvc repro vocoder@<name>"
        )
    return load_vocoder(path, device, mel=mel_cfg)[0]


def _checkpoint(model: str | Path) -> Path:
    """A .pt file, or a model folder (its best.pt), relative to here or to the repository."""
    path = Path(model)
    candidates = [path]
    if not path.is_absolute():
        with contextlib.suppress(FileNotFoundError):
            candidates.append(paths.root() / path)
    for p in candidates:
        if p.is_dir():
            p = p / paths.BEST
        if p.exists():
            return p
    raise FileNotFoundError(
        f"no model at {model} (a models/<name> folder with best.pt, or a .pt file); "
        "train one first: dvc repro train@<name>"
    )


class Synthesiser:
    """A trained generator, loaded once, that voices any number of videos.

    model: a models/<name> folder or a .pt checkpoint; language: for models with a
    language vector, which one to speak (default: none, as for an unseen language);
    vocoder: Griffin-Lim on the mel (`mel`, default) or on the postnet's linear spectrogram
    (`linear`), or a neural vocoder: its name under models/vocoders/, its folder or its .pt;
    precision: auto (bf16 where the hardware has it), fp32 or bf16; rotate: degrees clockwise
    to turn every frame first (0, 90, 180, 270), for videos stored sideways without rotation
    metadata (like preprocess.rotate; the model's own preprocessing setting is not used:
    it described its training videos, not these).
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        device: str | None = None,
        language: str | None = None,
        vocoder: str = "mel",
        precision: str = "auto",
        griffin_lim_iters: int = 60,
        seed: int = 0,
        rotate: int = 0,
    ):
        if precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
        if rotate not in config.ROTATIONS:
            raise ValueError(f"rotate must be one of {', '.join(map(str, config.ROTATIONS))}, got {rotate!r}")
        self.rotate = rotate
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # on a CPU, the cores other processes leave free: first measured over the loading below,
        # then again before each batch of windows and each piece of vocoding, a second apart
        self.cores = parallel.CoreShare(every=1.0, what="l2s speak", look=0.0) if self.device.type == "cpu" else None
        self.checkpoint = _checkpoint(model)
        self.gen, meta = load_generator(self.checkpoint, self.device)
        self.mel_cfg = meta["mel"]
        self.preprocess = meta["preprocess"]
        if self.preprocess is None:  # format-1 checkpoint: assume this repository's settings
            try:
                self.preprocess, source = config.load().preprocess, "params.yaml's"
            except FileNotFoundError:  # outside any repository
                self.preprocess, source = config.PreprocessConfig(), "the defaults"
            log.warning("%s does not record its preprocessing; cropping with %s", self.checkpoint, source)
        self.language = language_index(self.gen, meta["languages"], language)
        if language is not None and self.gen.cfg.languages and self.language is None:
            log.info("%s never saw %r: speaking without a language vector", self.checkpoint, language)
        self.vocoder, self.iterations, self.seed = vocoder, griffin_lim_iters, seed
        self.neural = None if vocoder in ("mel", "linear") else _neural_vocoder(vocoder, self.mel_cfg, self.device)
        self.dtype = autocast_dtype(precision, self.device, cpu_bf16=True)
        self.window = round(WINDOW_SECONDS * self.preprocess.fps)
        self.overlap = round(OVERLAP_SECONDS * self.preprocess.fps)

    def __call__(
        self, video: str | Path, face_index: int = 0, output: str | Path | None = None, keep: bool = True
    ) -> Speech:
        """Voice one video; raises SpeakError when it cannot. `output`: a .wav written while
        speaking (it appears when complete, never half-written). keep=False holds none of
        the speech, crops or spectrogram: the Speech has empty arrays, and a video of any
        length takes the same memory."""
        video = Path(video)
        timings = dict.fromkeys(("decode", "crop", "generate", "vocode"), 0.0)
        frames = self._open(video, timings)
        faces, follow = self._faces(video, frames, face_index, timings)
        points = self._track(frames, follow, len(faces), timings)
        n, fps = len(points), self.preprocess.fps
        seconds = n / fps
        if n < MIN_FRAMES:
            raise SpeakError(f"{video}: {seconds:.2f} s is too short to speak (at least {MIN_FRAMES} frames)")
        points, missing = facecrop.settle(points, self.preprocess)
        if missing.all():
            raise SpeakError(f"{video}: the face tracker found no face in 0.00-{seconds:.2f} s")
        no_face = facecrop.missing_ranges(missing, fps) if missing.any() else ""
        if no_face:
            log.warning("%s: no face in %s; the crop is held there, so that speech is guessed", video, no_face)

        decoded = timings["decode"]
        crops = _Timed(facecrop.crops(_decoding(frames, timings), points, self.preprocess.crop), keep)
        wave = _Waveform(self.mel_cfg, Path(output) if output else None, keep)
        vocoder = self._wave_stream(n)
        mels = []
        try:
            for mel, linear in self._spectrograms(crops, n, timings):
                mels += [mel] if keep else []
                self._share_cores()
                t0 = time.perf_counter()
                for piece in vocoder.push(linear if linear is not None else mel):
                    wave.add(piece)
                timings["vocode"] += time.perf_counter() - t0
            self._share_cores()
            t0 = time.perf_counter()
            samples, kept = wave.close()
            timings["vocode"] += time.perf_counter() - t0
        except Reject as r:  # the file broke off or failed to decode the second time through
            raise SpeakError(r.detail) from r
        finally:
            wave.discard()
        timings["crop"] += crops.seconds - (timings["decode"] - decoded)
        size = self.preprocess.crop.size
        return Speech(
            video,
            kept,
            self.mel_cfg.sample_rate,
            np.concatenate(mels, axis=1) if keep else np.zeros((self.mel_cfg.n_mels, 0), np.float32),
            np.stack(crops.kept) if keep else np.zeros((0, size, size), np.uint8),
            faces,
            face_index,
            no_face,
            timings,
            samples,
            Path(output) if output else None,
        )

    def _open(self, video: Path, timings: dict[str, float]) -> VideoFrames:
        t0 = time.perf_counter()
        try:
            frames = VideoFrames(video, fps=self.preprocess.fps, threads=DECODER_THREADS, rotate=self.rotate)
        except Reject as r:
            raise SpeakError(r.detail) from r
        except FileNotFoundError as e:
            raise SpeakError(f"{video}: no such file") from e
        timings["decode"] += time.perf_counter() - t0
        return frames

    def _share_cores(self) -> None:
        if self.cores is not None:
            self.cores.update()

    def _faces(
        self, video: Path, frames: VideoFrames, face_index: int, timings: dict[str, float]
    ) -> tuple[list[facecrop.FaceBox], facecrop.FaceBox | None]:
        """The faces in a few frames spread over the video (found by seeking, as
        facecrop.find_faces picks them), and the one to follow (None: the only one)."""
        if not frames.count:  # the header does not say how long the video is: count
            self._run_out(frames, timings)
        count, fps = frames.count, frames.fps
        if count < MIN_FRAMES:
            raise SpeakError(f"{video}: {count / fps:.2f} s is too short to speak (at least {MIN_FRAMES} frames)")
        seconds = count / fps
        picks = facecrop.sample_indices(count, int(np.clip(seconds, 3, 12)))
        t0 = time.perf_counter()
        try:
            sampled = frames.at(picks)
        except Reject as r:
            raise SpeakError(r.detail) from r
        t1 = time.perf_counter()
        faces = facecrop.detect_faces(zip(picks, sampled))
        timings["decode"] += t1 - t0
        timings["crop"] += time.perf_counter() - t1
        if not faces:
            turn = facecrop.find_rotation(np.stack(sampled))  # a video stored sideways without rotation metadata?
            hint = ""
            if turn:
                hint = f"; turned {turn} degrees clockwise it shows one: try --rotate {(self.rotate + turn) % 360}"
            raise SpeakError(f"{video}: no face found anywhere in 0.00-{seconds:.2f} s{hint}")
        listed = "; ".join(f"#{i}: {f}" for i, f in enumerate(faces))
        if not 0 <= face_index < len(faces):
            raise SpeakError(f"{video}: face index {face_index}, but {len(faces)} face(s) found: {listed}")
        if len(faces) > 1:
            log.info(
                "%s: %d faces (%s); speaking for #%d (choose with --face-index)", video, len(faces), listed, face_index
            )
        return faces, faces[face_index] if len(faces) > 1 else None

    def _track(
        self, frames: VideoFrames, follow: facecrop.FaceBox | None, max_faces: int, timings: dict[str, float]
    ) -> np.ndarray:
        """The first pass: raw crop anchors of every frame (facecrop.face_anchors), the face
        followed forwards from the frame it was found in and, in spans read backwards,
        back to the first frame. It runs through the whole file: the frame count is exact."""
        t0, decoded = time.perf_counter(), timings["decode"]
        start = 0 if follow is None else follow.frame
        forward = itertools.islice(_decoding(frames, timings), start, None)
        backward = None if follow is None else _decoding(frames.backwards(start), timings)
        try:
            points = facecrop.face_anchors(forward, follow, max_faces, backward)
        except Reject as r:
            raise SpeakError(r.detail) from r
        timings["crop"] += time.perf_counter() - t0 - (timings["decode"] - decoded)
        return points[: frames.count]  # a face found past the end of a header that overcounted

    @staticmethod
    def _run_out(frames: VideoFrames, timings: dict[str, float]) -> None:
        t0 = time.perf_counter()
        try:
            for _ in frames:
                pass
        except Reject as r:
            raise SpeakError(r.detail) from r
        timings["decode"] += time.perf_counter() - t0

    def _wave_stream(self, n_frames: int) -> WaveStream:
        """The vocoder over chunks of VOCODER_SECONDS of a video of n_frames."""
        steps_per_second = self.mel_cfg.sample_rate / self.mel_cfg.hop
        overlap = round(VOCODER_OVERLAP_SECONDS * steps_per_second)
        if self.neural is not None:  # a chunk must reach past its cut by the receptive field
            cfg = self.neural.cfg
            overlap = max(overlap, 2 * ((cfg.blocks + 1) * (cfg.kernel // 2) + cfg.n_fft // cfg.hop + 1))
        spans = windows(n_frames * MELS_PER_FRAME, round(VOCODER_SECONDS * steps_per_second), overlap)
        linear = self.vocoder == "linear"
        return WaveStream(self.mel_cfg, spans, linear, self.iterations, self.seed, self.neural)

    @torch.no_grad()
    def _spectrograms(
        self, crops: Iterable[np.ndarray], n_frames: int, timings: dict[str, float], linear: bool | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Crops in order -> the blended ln-mel and (for the linear vocoder, or linear=True)
        linear spectrogram, in pieces, each given out as soon as no later window overlaps
        it. One batch of windows' crops is held at a time (about 22 s, 7 MB at 112x112)."""
        spans = windows(n_frames, self.window, self.overlap)
        ramp = self.overlap * MELS_PER_FRAME
        mels = Blender(n_frames, ramp)
        linear = self.vocoder == "linear" if linear is None else linear
        linears = Blender(n_frames, ramp) if linear else None
        crops = iter(crops)
        held: list[np.ndarray] = []
        start = 0  # the frame held[0] is
        torch.manual_seed(self.seed)  # the generator's noise: the same video gives the same speech
        for i in range(0, len(spans), WINDOW_BATCH):
            batch = spans[i : i + WINDOW_BATCH]
            self._share_cores()
            held += itertools.islice(crops, batch[-1][1] - start - len(held))
            t0 = time.perf_counter()
            window_crops = np.stack([np.stack(held[s - start : e - start]) for s, e in batch])
            spec = generate(self.gen, torch.from_numpy(window_crops), language=self.language, dtype=self.dtype)
            for j, span in enumerate(batch):
                mels.add(spec.mel[j].cpu().numpy(), span)
                if linears is not None:
                    linears.add(spec.linear[j].cpu().numpy(), span)
            done = spans[i + WINDOW_BATCH][0] if i + WINDOW_BATCH < len(spans) else n_frames
            out = mels.take(done), linears.take(done) if linears is not None else None
            timings["generate"] += time.perf_counter() - t0
            yield out
            del held[: done - start]
            start = done
        for _ in crops:  # run the frames out: the reader checks, at the end, that none were missing
            pass

    def generate(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 crops [T, S, S] -> blended ln-mel [n_mels, 4T] and linear spectrogram [n_fft/2+1, 4T]."""
        pieces = list(self._spectrograms(crops, len(crops), dict.fromkeys(("generate",), 0.0), linear=True))
        return np.concatenate([m for m, _ in pieces], axis=1), np.concatenate([x for _, x in pieces], axis=1)


def _decoding(frames: Iterable[np.ndarray], timings: dict[str, float]) -> Iterator[np.ndarray]:
    """The frames, with the time spent reading them added to timings["decode"]."""
    frames = iter(frames)
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        timings["decode"] += time.perf_counter() - t0
        if frame is None:
            return
        yield frame


class _Timed:
    """An iterator's items with the seconds spent making them (`seconds`); kept if asked."""

    def __init__(self, items: Iterator[np.ndarray], keep: bool):
        self.items, self.seconds = items, 0.0
        self.kept: list[np.ndarray] | None = [] if keep else None

    def __iter__(self) -> Iterator[np.ndarray]:
        return self

    def __next__(self) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            item = next(self.items)
        finally:
            self.seconds += time.perf_counter() - t0
        if self.kept is not None:
            self.kept.append(item)
        return item


class _Waveform:
    """The vocoder's output as it comes: de-emphasised, its peak followed, held (keep) and/or
    spooled as float32 to a hidden file beside `output`. `close` scales it to a peak of 0.9
    (as features.finish does) and writes `output` as 16-bit PCM in blocks, replacing the
    file only once it is complete."""

    BLOCK = 2**20  # samples per block when scaling the spool into the output

    def __init__(self, cfg: config.MelConfig, output: Path | None, keep: bool):
        self.cfg, self.output = cfg, output
        self.deemphasis = Deemphasis(cfg.preemphasis)
        self.peak = np.float32(0.0)
        self.samples = 0
        self.kept: list[np.ndarray] | None = [] if keep else None
        self.spool = None
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            self.spool = tempfile.NamedTemporaryFile(dir=output.parent, prefix=f".{output.name}.", suffix=".f32")

    def add(self, prepared: np.ndarray) -> None:
        wave = self.deemphasis(prepared)
        if not len(wave):
            return
        self.peak = max(self.peak, np.abs(wave).max())
        self.samples += len(wave)
        if self.kept is not None:
            self.kept.append(wave)
        if self.spool is not None:
            self.spool.write(wave.tobytes())

    def _scaled(self, wave: np.ndarray) -> np.ndarray:
        return wave / self.peak * 0.9 if self.peak > 0 else wave

    def close(self) -> tuple[int, np.ndarray]:
        """The number of samples, and the whole scaled waveform if kept (else empty)."""
        if self.spool is not None:
            import soundfile as sf

            self.spool.flush()
            self.spool.seek(0)
            partial = self.output.with_name(f".{self.output.name}.partial.wav")
            try:
                with sf.SoundFile(partial, "w", self.cfg.sample_rate, 1, subtype="PCM_16", format="WAV") as out:
                    while block := self.spool.read(4 * self.BLOCK):
                        out.write(self._scaled(np.frombuffer(block, np.float32)))
                os.replace(partial, self.output)
            finally:
                partial.unlink(missing_ok=True)
        kept = self._scaled(np.concatenate(self.kept)) if self.kept else np.zeros(0, np.float32)
        return self.samples, kept

    def discard(self) -> None:
        """Remove the spool (closing a NamedTemporaryFile deletes it)."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None


def _check_not_input(out: Path, video: Path) -> None:
    if out.resolve() == video.resolve():
        raise SpeakError(f"{out}: the output would overwrite the input video; choose another path")


def speak(
    video: str | Path,
    model: str | Path = DEFAULT_MODEL,
    output: str | Path | None = None,
    mux: str | Path | None = None,
    face_index: int = 0,
    *,
    device: str | None = None,
    language: str | None = None,
    vocoder: str = "mel",
    precision: str = "auto",
    rotate: int = 0,
    keep: bool = True,
    naturalness: bool = False,
) -> Speech | list[Path]:
    """Voice a video (or every video below a folder) with a trained model.

    One video: returns its Speech, and writes the speech to `output` (a .wav) and, with
    `mux`, a copy of the video with that speech as its sound. A folder: writes
    <output>/<relative path>.wav (default output: ./<folder>_speech) and .mp4 copies
    under `mux`, and returns the .wav files written; a video that cannot be voiced is
    logged with the reason and skipped. `face_index`: which face speaks when there are
    several (0: the largest). device, language, vocoder, precision and rotate: as `Synthesiser`.
    keep=False (what `l2s speak` does): the speech goes only to the files and the returned
    Speech holds no arrays, so memory stays the same for a video of any length.
    `naturalness`: score each speech with DNSMOS P.835 (l2s.scores.dnsmos; no
    reference needed), logged and kept in Speech.naturalness (0.5 s for a short clip, 1.2 s
    for 30 s of speech, on one core)."""
    video = Path(video)
    synth = Synthesiser(model, device=device, language=language, vocoder=vocoder, precision=precision, rotate=rotate)
    if video.is_dir():
        return speak_folder(synth, video, Path(output or f"{video.name}_speech"), mux, face_index, naturalness)
    out, muxed = Path(output) if output else None, Path(mux) if mux else None
    return _speak_one(synth, video, out, muxed, face_index, keep, naturalness)


def speak_folder(
    synth: Synthesiser,
    folder: Path,
    output: Path,
    mux: str | Path | None,
    face_index: int = 0,
    naturalness: bool = False,
) -> list[Path]:
    """Every video below `folder`: <output>/<relative path>.wav (and .mp4 under `mux`).
    Only the paths are kept, so a folder of any size fits in memory."""
    from tqdm.auto import tqdm

    videos = video_files(folder)
    if not videos:
        raise SpeakError(f"{folder}: no videos found (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
    written, failed = [], []
    for video in tqdm(videos, desc="speak", unit="video"):
        rel = video.relative_to(folder)
        try:
            muxed = Path(mux) / rel.with_suffix(".mp4") if mux else None
            _speak_one(synth, video, output / rel.with_suffix(".wav"), muxed, face_index, False, naturalness)
            written.append(output / rel.with_suffix(".wav"))
        except SpeakError as e:
            log.error("%s", e)
            failed.append(video)
    log.info(
        "spoke %d of %d videos into %s%s",
        len(written),
        len(videos),
        output,
        f"; {len(failed)} failed" if failed else "",
    )
    return written


def _speak_one(
    synth: Synthesiser,
    video: Path,
    output: Path | None,
    mux: Path | None,
    face_index: int,
    keep: bool,
    naturalness: bool = False,
) -> Speech:
    """One video's speech into `output` (.wav) and a copy of the video with it (`mux`)."""
    for path in (output, mux):
        if path is not None:
            _check_not_input(path, video)
    if mux is not None:
        mux.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        wav = output
        if mux is not None and output is None:  # a .wav only for the muxer to read
            scratch = stack.enter_context(tempfile.TemporaryDirectory(dir=mux.parent, prefix=".speak_"))
            wav = Path(scratch) / "speech.wav"
        speech = synth(video, face_index, output=wav, keep=keep)
        if mux is not None:
            media.mux_audio(video, wav, speech.sample_rate, mux)
        if naturalness:
            speech.naturalness = _naturalness(speech, wav)
    speech.output = output
    if output or mux:
        log.info(
            "%s -> %s (%.1f s of speech; %s)",
            video,
            " and ".join(str(p) for p in (output, mux) if p is not None),
            speech.seconds,
            ", ".join(f"{k} {v:.3f} s" for k, v in speech.timings.items()),
        )
    if speech.naturalness:
        log.info("%s: DNSMOS %s", video, ", ".join(f"{k.upper()} {v:.2f}" for k, v in speech.naturalness.items()))
    return speech


def _naturalness(speech: Speech, wav: Path | None) -> dict[str, float]:
    """DNSMOS P.835 of the speech, from its array or (keep=False) the .wav it was written to."""
    from l2s.scores import dnsmos

    if len(speech.wave):
        return dnsmos(speech.wave, speech.sample_rate)
    if wav is None:
        raise ValueError("naturalness needs the speech kept or written to a file")
    import soundfile as sf

    wave, rate = sf.read(wav, dtype="float32")
    return dnsmos(wave, rate)
