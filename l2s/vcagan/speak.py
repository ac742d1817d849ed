"""Speech from any video of a talking face: `l2s speak` and `l2s.speak(...)`.

A video takes the training data's path, then the test stage's:

    decode -> the model's frame rate -> MediaPipe face tracking and the crop that
    preprocessing makes (facecrop.track_face) -> the generator over overlapping
    windows, cross-faded in the log-mel domain -> one Griffin-Lim over the whole video

Windows of at most 6 s keep the generator near the clip lengths it was trained and
tested on, whatever the video's length; one Griffin-Lim over the blended spectrogram
leaves no seam at a window edge. What the crop must look like
(size, region, frame rate) comes from the checkpoint, not from params.yaml: a model
keeps working on a machine that has only the model.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from l2s import config, paths
from l2s.config import MELS_PER_FRAME
from l2s.data import facecrop, media
from l2s.data.rejects import Reject
from l2s.data.sources import VIDEO_SUFFIXES, video_files
from l2s.training import autocast_dtype
from l2s.vcagan.inference import generate, language_index, load_generator
from l2s.vcagan.vocoder import to_waves

log = logging.getLogger(__name__)

DEFAULT_MODEL = "models/multi"
# The generator sees a long video in windows of at most this length: twice the training
# clips, near the longest videos the published test script took (155 frames)
WINDOW_SECONDS = 6.0
OVERLAP_SECONDS = 0.6  # shared by neighbouring windows, cross-faded
MIN_FRAMES = 8  # shorter than the generator's temporal receptive field is not speech
WINDOW_BATCH = 16  # windows per generator call: bounds memory on long videos


class SpeakError(ValueError):
    """A video `l2s speak` cannot voice; the message says what and where."""


@dataclass
class Speech:
    """What a model says for one video."""

    video: Path
    wave: np.ndarray  # float32 mono, peak 0.9
    sample_rate: int
    mel: np.ndarray  # the blended ln-mel [n_mels, frames] that was vocoded
    crops: np.ndarray  # what the model saw: uint8 face crops [T, S, S] at the model's fps
    faces: list  # facecrop.FaceBox of every face found, largest first
    face_index: int  # which of them spoke
    no_face: str = ""  # time ranges where the face was not seen (its crop was held)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: decode, crop, generate, vocode

    @property
    def seconds(self) -> float:
        return len(self.wave) / self.sample_rate

    def save(self, path: str | Path) -> Path:
        import soundfile as sf

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
    steps = n_frames * MELS_PER_FRAME
    total = np.zeros((pieces[0].shape[0], steps), np.float64)
    weight = np.zeros(steps, np.float64)
    fade = np.linspace(0.0, 1.0, ramp + 2)[1:-1]  # never exactly 0: every frame keeps a voice
    for piece, (s, e) in zip(pieces, spans):
        a, b = s * MELS_PER_FRAME, e * MELS_PER_FRAME
        w = np.ones(b - a)
        if ramp and s > 0:
            w[:ramp] = fade
        if ramp and e < n_frames:
            w[-ramp:] = np.minimum(w[-ramp:], fade[::-1])
        total[:, a:b] += piece[:, : b - a] * w
        weight[a:b] += w
    return (total / weight).astype(np.float32)


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
        if self.device.type == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
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
        self.dtype = autocast_dtype(precision, self.device, training=False)
        self.window = round(WINDOW_SECONDS * self.preprocess.fps)
        self.overlap = round(OVERLAP_SECONDS * self.preprocess.fps)

    def __call__(self, video: str | Path, face_index: int = 0) -> Speech:
        """Voice one video; raises SpeakError when it cannot."""
        video = Path(video)
        cfg, fps = self.preprocess, self.preprocess.fps
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            _check_memory(video, *media.probe(video), fps)
            frames = facecrop.turn(media.read_video(video, audio=False, fps=fps).frames, self.rotate)
        except Reject as r:
            raise SpeakError(r.detail) from r
        except FileNotFoundError as e:
            raise SpeakError(f"{video}: no such file") from e
        if len(frames) < MIN_FRAMES:
            raise SpeakError(f"{video}: {len(frames) / fps:.2f} s is too short to speak (at least {MIN_FRAMES} frames)")
        timings["decode"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        seconds = len(frames) / fps
        faces = facecrop.find_faces(frames, samples=int(np.clip(seconds, 3, 12)))
        if not faces:
            turn = facecrop.find_rotation(frames)  # a video stored sideways without rotation metadata?
            hint = (
                f"; turned {turn} degrees clockwise it shows one: try --rotate {(self.rotate + turn) % 360}"
                if turn
                else ""
            )
            raise SpeakError(f"{video}: no face found anywhere in 0.00-{seconds:.2f} s{hint}")
        listed = "; ".join(f"#{i}: {f}" for i, f in enumerate(faces))
        if not 0 <= face_index < len(faces):
            raise SpeakError(f"{video}: face index {face_index}, but {len(faces)} face(s) found: {listed}")
        if len(faces) > 1:
            log.info(
                "%s: %d faces (%s); speaking for #%d (choose with --face-index)", video, len(faces), listed, face_index
            )
        follow = faces[face_index] if len(faces) > 1 else None
        points, missing = facecrop.track_face(frames, cfg, follow=follow, max_faces=len(faces))
        if missing.all():
            raise SpeakError(f"{video}: the face tracker found no face in 0.00-{seconds:.2f} s")
        no_face = facecrop.missing_ranges(missing, fps) if missing.any() else ""
        if no_face:
            log.warning("%s: no face in %s; the crop is held there, so that speech is guessed", video, no_face)
        crops = facecrop.crop(frames, points, cfg.crop)
        timings["crop"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        mel, linear = self.generate(crops)
        timings["generate"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        linear_vocoder = self.vocoder == "linear"
        spec = torch.from_numpy(linear if linear_vocoder else mel)[None]
        vocode = dict(linear=linear_vocoder, iterations=self.iterations, seed=self.seed, neural=self.neural)
        wave = to_waves(spec, self.mel_cfg, **vocode)[0]
        timings["vocode"] = time.perf_counter() - t0
        return Speech(video, wave, self.mel_cfg.sample_rate, mel, crops, faces, face_index, no_face, timings)

    @torch.no_grad()
    def generate(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 crops [T, S, S] -> blended ln-mel [n_mels, 4T] and linear spectrogram [n_fft/2+1, 4T]."""
        spans = windows(len(crops), self.window, self.overlap)
        mels, linears = [], []
        torch.manual_seed(self.seed)  # the generator's noise: the same video gives the same speech
        for i in range(0, len(spans), WINDOW_BATCH):
            batch = torch.from_numpy(np.stack([crops[s:e] for s, e in spans[i : i + WINDOW_BATCH]]))
            spec = generate(self.gen, batch, language=self.language, dtype=self.dtype)
            mels += list(spec.mel.cpu().numpy())
            linears += list(spec.linear.cpu().numpy())
        ramp = self.overlap * MELS_PER_FRAME
        return blend(mels, spans, len(crops), ramp), blend(linears, spans, len(crops), ramp)


def _available_memory() -> int | None:
    """Bytes of memory available now (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def _check_memory(video: Path, width: int, height: int, fps: float, seconds: float, model_fps: float) -> None:
    """Refuse, with what to do instead, a video whose frames would not fit in memory: they
    are all held at once (at the model's frame rate) so that the face can be tracked and
    smoothed over the whole video exactly as preprocessing does."""
    needed = seconds * min(fps, model_fps) * width * height * 3
    available = _available_memory()
    if available is not None and needed > available / 2:
        raise SpeakError(
            f"{video}: {seconds:.0f} s of {width}x{height} video needs {needed / 2**30:.1f} GiB of frames in memory, "
            f"more than half of the {available / 2**30:.1f} GiB available; cut it into parts "
            f"(ffmpeg -i {video.name} -c copy -f segment -segment_time 300 part%03d.mp4) and speak the folder of parts"
        )


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
) -> Speech | list[Path]:
    """Voice a video (or every video below a folder) with a trained model.

    One video: returns its Speech, and writes the speech to `output` (a .wav) and, with
    `mux`, a copy of the video with that speech as its sound. A folder: writes
    <output>/<relative path>.wav (default output: ./<folder>_speech) and .mp4 copies
    under `mux`, and returns the .wav files written; a video that cannot be voiced is
    logged with the reason and skipped. `face_index`: which face speaks when there are
    several (0: the largest). device, language, vocoder, precision and rotate: as `Synthesiser`."""
    video = Path(video)
    synth = Synthesiser(model, device=device, language=language, vocoder=vocoder, precision=precision, rotate=rotate)
    if video.is_dir():
        return speak_folder(synth, video, Path(output or f"{video.name}_speech"), mux, face_index)
    speech = synth(video, face_index)
    if output or mux:
        _write(speech, Path(output) if output else None, Path(mux) if mux else None)
    return speech


def speak_folder(
    synth: Synthesiser, folder: Path, output: Path, mux: str | Path | None, face_index: int = 0
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
            speech = synth(video, face_index)
            muxed = Path(mux) / rel.with_suffix(".mp4") if mux else None
            written.append(_write(speech, output / rel.with_suffix(".wav"), muxed))
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


def _write(speech: Speech, output: Path | None, mux: Path | None) -> Path | None:
    for path in (output, mux):
        if path is not None:
            _check_not_input(path, speech.video)
    if output is not None:
        speech.save(output)
    if mux is not None:
        mux.parent.mkdir(parents=True, exist_ok=True)
        media.mux_audio(speech.video, speech.wave, speech.sample_rate, mux)
    log.info(
        "%s -> %s (%.1f s of speech; %s)",
        speech.video,
        " and ".join(str(p) for p in (output, mux) if p is not None),
        speech.seconds,
        ", ".join(f"{k} {v:.3f} s" for k, v in speech.timings.items()),
    )
    return output
