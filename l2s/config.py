"""params.yaml, loaded into typed dataclasses and validated.

Each stage section of params.yaml has a dataclass here. Loading walks the YAML against
the dataclass fields, so an unknown key, a wrong type or a value outside its allowed set
stops the run with a message naming the key (`preprocess.crop.region`) and what is
allowed, before any work starts.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from l2s import paths
from l2s.data import grid


class ConfigError(ValueError):
    """A parameter that is missing, unknown or out of range; the message names the key."""


class FieldError(ConfigError):
    """A bad value of one field, found where the section does not know its own key
    (languages.<lang> is any name): `parse` puts the section's key in front."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


# VCA-GAN's decoder doubles the time rate twice from one step per video frame, so the
# audio features must have exactly 4 mel frames per video frame (16 kHz, hop 160, 25 fps).
MELS_PER_FRAME = 4
# Its lowest scale has n_mels / 4 rows, which the discriminators halve twice more.
MEL_ROWS_MULTIPLE = 16
# LRW's clips are 29 frames at 25 fps, the word in the middle: its clip length and the
# shortest clip it keeps (a clip is exactly this long, give or take a frame's rounding)
LRW_SECONDS = {"clip_seconds": 1.16, "min_seconds": 1.0}
# the quarter turns preprocess.rotate and `l2s speak --rotate` take (degrees clockwise)
ROTATIONS = (0, 90, 180, 270)


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class LanguageSource:
    """Where one language's raw videos come from (params: `languages.<lang>`)."""

    # synthetic: the embedded corpus; folder: your own videos; grid, lrs, lrw, tcd_timit: the
    # GRID, LRS2/LRS3, LRW and TCD-TIMIT corpora as distributed; manifest: a CSV listing the videos
    source: Literal["synthetic", "folder", "grid", "lrs", "lrw", "tcd_timit", "manifest"] = "synthetic"
    # Raw data folder (manifest: the CSV file, or a folder holding manifest.csv), relative
    # to the repository. Keep it at data/raw/<lang> so that the preprocess stage depends on
    # it and `dvc add` versions it (see README).
    path: str = ""
    # folder source: where transcripts come from. "auto": <video>.txt beside each video,
    # else a transcripts.csv (columns path,text[,speaker]) at the folder's top.
    transcripts: Literal["auto", "txt", "csv", "none"] = "auto"
    # Speaker of a video in a folder source: its top-level sub-folder ("folder") or one
    # speaker for the whole language ("single").
    speaker: Literal["folder", "single"] = "folder"
    # Held-out test speakers for split mode "unseen", or the speakers of mode "speaker".
    speakers: list[str] = field(default_factory=list)
    # grid source: VCA-GAN's --subject setting (l2s.data.grid.SUBJECTS): s<N> one speaker, four
    # (s1, s2, s4, s29), overlap (every speaker in every split), unseen (held-out speakers)
    subject: str = ""
    # lrs source: include the pretrain/ folder (long clips, most of LRS3's videos)
    pretrain: bool = True
    # tcd_timit source: which speakers (volunteers/, lipspeakers/ or both) and which camera
    group: Literal["volunteers", "lipspeakers", "all"] = "all"
    camera: Literal["straightcam", "30degcam"] = "straightcam"
    # this language's clip length and shortest video, over preprocess.clip_seconds and
    # preprocess.min_seconds (0: theirs; an lrw source: LRW's 29-frame clips, 1.16 s and 1 s)
    clip_seconds: float = 0.0
    min_seconds: float = 0.0
    # manifest source: the value of the CSV's language column that marks this language's
    # rows. Empty in params.yaml: the language's own key (filled in on load).
    language: str = ""
    # the espeak-ng voice that reads the transcripts as phonemes. Empty: the synthetic
    # corpus's own voice, else the language key (or its part before "_": en_grid -> en);
    # "none": no phonemes (the clips train without the lip-reading loss)
    voice: str = ""

    def __post_init__(self):
        if self.source == "grid":
            problem = grid.subject_problem(self.subject)
            if problem:
                raise FieldError("subject", problem)
        elif self.subject:
            raise FieldError("subject", f"only for source grid (this language's source is {self.source})")
        if self.source != "lrs" and not self.pretrain:
            raise FieldError("pretrain", f"only for source lrs (this language's source is {self.source})")
        if self.source != "tcd_timit":
            for name, default in (("group", "all"), ("camera", "straightcam")):
                if getattr(self, name) != default:
                    raise FieldError(name, f"only for source tcd_timit (this language's source is {self.source})")
        for name in ("clip_seconds", "min_seconds"):
            if getattr(self, name) < 0:
                raise FieldError(name, f"seconds, or 0 for preprocess.{name}; got {getattr(self, name)}")

    def clip_lengths(self) -> dict[str, float]:
        """The preprocess settings this language sets for itself: its clip length and shortest
        video, where given (an lrw source defaults to LRW's clips: 29 frames, the word in the middle)."""
        own = {"clip_seconds": self.clip_seconds, "min_seconds": self.min_seconds}
        if self.source == "lrw":
            own = {k: v or LRW_SECONDS[k] for k, v in own.items()}
        return {k: v for k, v in own.items() if v}


@dataclass(frozen=True)
class CorpusLanguage:
    """One synthetic language (params: `corpus.languages.<lang>`).

    Empty for a built-in language (en, es, zh). A new espeak-ng language gives its
    voice and the word list of every GRID slot (see l2s.corpus.grammar).
    """

    voice: str = ""
    joiner: str | None = None  # None: the built-in language's own ("" for zh, " " otherwise)
    words: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class MotionConfig:
    """How the synthetic people move and are filmed (params: `corpus.motion`).

    Real footage never holds still: heads turn and drift, eyes blink, the light and the
    encoder differ from video to video. Each part has its own switch; amplitudes are
    peaks (a video reaches a share of them), sized like a person talking to a camera so
    that face mesh still finds the face in nearly every frame.
    """

    head: bool = True
    yaw: float = 5.0  # degrees, turning left and right
    pitch: float = 4.0  # degrees, nodding
    roll: float = 3.0  # degrees, tilting towards a shoulder
    shift: float = 0.03  # drift of the head in the frame, share of the frame size
    zoom: float = 0.04  # change of the head's size (leaning in or back), share
    periods: list[float] = field(default_factory=lambda: [1.0, 8.0])  # seconds, fastest and slowest
    blinks: bool = True
    blink_rate: float = 0.3  # blinks per second on average (people blink 10-20 times a minute)
    blink_seconds: float = 0.25  # length of one blink, closing and opening
    lighting: bool = True
    gain: float = 0.15  # brightness change, share
    gamma: float = 0.15  # gamma change, share (0.15: gamma 0.85 to 1.15)
    gradient: float = 0.2  # brightness difference between opposite edges of the frame, share
    compression: bool = True
    crf: list[int] = field(default_factory=lambda: [18, 30])  # libx264 quality per video, best and worst

    def __post_init__(self):
        # the bounds keep a face that face mesh can find, not what a renderer could do
        for name, top in (("yaw", 30.0), ("pitch", 30.0), ("roll", 45.0), ("shift", 0.25), ("zoom", 0.5)):
            _within(name, getattr(self, name), 0.0, top)
        for name in ("gain", "gamma", "gradient"):
            _within(name, getattr(self, name), 0.0, 0.9)
        _within("blink_rate", self.blink_rate, 0.0, 2.0)
        if not 0.04 <= self.blink_seconds <= 1.0:
            raise FieldError("blink_seconds", f"must be between 0.04 and 1 second, got {self.blink_seconds}")
        if len(self.periods) != 2 or not 0 < self.periods[0] <= self.periods[1]:
            raise FieldError(
                "periods", f"must be [fastest, slowest] seconds with 0 < fastest <= slowest, got {self.periods}"
            )
        if len(self.crf) != 2 or not 0 <= self.crf[0] <= self.crf[1] <= 51:
            raise FieldError("crf", f"must be [best, worst] with 0 <= best <= worst <= 51 (libx264), got {self.crf}")


@dataclass(frozen=True)
class CorpusConfig:
    """The embedded synthetic corpus (stage corpus@<lang>)."""

    seed: int = 0
    speakers: int = 8
    utterances_per_speaker: int = 60
    image_size: int = 256
    fps: float = 25.0
    # Real corpora are not all 25 fps or exactly 3 s: a share of the clips is made at
    # 30 fps, a share shorter than a clip, a share of two sentences (longer).
    fps30_fraction: float = 0.15
    short_fraction: float = 0.1
    long_fraction: float = 0.1
    workers: int = 2
    motion: MotionConfig = field(default_factory=MotionConfig)
    languages: dict[str, CorpusLanguage] = field(default_factory=dict)

    def __post_init__(self):
        _positive("corpus.speakers", self.speakers)
        _positive("corpus.utterances_per_speaker", self.utterances_per_speaker)
        _positive("corpus.image_size", self.image_size)
        _positive("corpus.workers", self.workers)
        for name in ("fps30_fraction", "short_fraction", "long_fraction"):
            _fraction(f"corpus.{name}", getattr(self, name))
        if self.short_fraction + self.long_fraction > 1:
            raise ConfigError("corpus.short_fraction + corpus.long_fraction must be at most 1")


@dataclass(frozen=True)
class CropConfig:
    """Output crop: `size` x `size` pixels of `region` (face or mouth), gray or RGB; the
    anchors placed by a similarity or an affine map (l2s.data.facecrop)."""

    size: int = 88
    region: Literal["face", "mouth"] = "mouth"
    gray: bool = True
    align: Literal["similarity", "affine"] = "affine"

    def __post_init__(self):
        if self.size < 8:
            raise ConfigError(f"preprocess.crop.size: at least 8 pixels, got {self.size}")
        if self.region not in ("face", "mouth"):  # also for a CropConfig made in code, not parsed
            raise ConfigError(f"preprocess.crop.region: face or mouth, got {self.region!r}")
        if self.align not in ("similarity", "affine"):
            raise ConfigError(f"preprocess.crop.align: similarity or affine, got {self.align!r}")


@dataclass(frozen=True)
class MelConfig:
    """Log-mel features as VCA-GAN uses them (16 kHz, 100 mel frames per second)."""

    sample_rate: int = 16000
    n_fft: int = 640
    hop: int = 160
    win: int = 640
    n_mels: int = 80
    fmin: float = 55.0
    fmax: float = 7600.0
    preemphasis: float = 0.97

    def __post_init__(self):
        for name in ("sample_rate", "n_fft", "hop", "win", "n_mels"):
            _positive(f"preprocess.mel.{name}", getattr(self, name))
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError(
                f"preprocess.mel: need 0 <= fmin < fmax <= sample_rate/2, "
                f"got fmin={self.fmin}, fmax={self.fmax}, sample_rate={self.sample_rate}"
            )
        if self.win > self.n_fft:
            raise ConfigError("preprocess.mel.win must not exceed preprocess.mel.n_fft")


@dataclass(frozen=True)
class SplitConfig:
    """Train/val/test lists, like VCA-GAN's --subject settings.

    overlap: every speaker in every split; unseen: the test speakers never appear in
    train or val; speaker: only the listed speakers' clips (speaker-specific models).
    """

    mode: Literal["overlap", "unseen", "speaker"] = "overlap"
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    # unseen mode without `languages.<lang>.speakers`: hold out this many speakers
    unseen_speakers: int = 2
    seed: int = 0

    def __post_init__(self):
        _fraction("preprocess.split.val_fraction", self.val_fraction)
        _fraction("preprocess.split.test_fraction", self.test_fraction)
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError("preprocess.split: val_fraction + test_fraction must be below 1")
        _positive("preprocess.split.unseen_speakers", self.unseen_speakers)


@dataclass(frozen=True)
class PreprocessConfig:
    """Raw videos -> fixed-length face crops + log-mel (stage preprocess@<lang>)."""

    fps: float = 25.0
    fps_policy: Literal["resample", "drop"] = "resample"
    clip_seconds: float = 3.0
    clip_policy: Literal["first", "split"] = "first"
    short_policy: Literal["pad", "reject"] = "pad"
    min_seconds: float = 1.5  # shorter videos are rejected whatever short_policy says
    av_tolerance: float = 0.2  # seconds audio and video may disagree
    silence_dbfs: float = -50.0  # peak level below which the audio counts as silent
    max_face_gap: int = 5  # frames without a face bridged by interpolation
    max_missing_face: float = 0.2  # share of frames without a face that rejects a video
    # several faces in a video (l2s.data.speaker_face): `reject` lists it in rejects.csv,
    # `largest` follows the largest face (as l2s speak does), `speaking` the face whose lips
    # move with the sound (the largest when no face's lips clearly do)
    faces: Literal["reject", "largest", "speaking"] = "speaking"
    smooth_window: int = 5  # frames averaged to steady the crop
    # degrees clockwise to turn every frame before face detection and cropping: for videos
    # stored sideways or upside down without rotation metadata (that is applied anyway)
    rotate: int = 0
    # lips against speech (l2s.data.sync): every clip's offset goes to clips.csv; `shift` moves
    # the audio of a clip out by more than the tolerance, `reject` lists its video in rejects.csv
    sync_policy: Literal["report", "shift", "reject"] = "report"
    sync_tolerance: int = 2  # frames of offset left alone
    sync_min_confidence: float = 0.55  # shift or reject only clips whose estimate is at least this sure
    sync_max_offset: int = 15  # frames searched either way
    workers: int = 2  # processes of the local cluster (l2s.data.cluster)
    # "" : a local Dask cluster of `workers` processes; tcp://host:8786 : a running Dask
    # cluster's scheduler, whose workers see this repository's files at the same paths
    cluster: str = ""
    # 0: frames, audio and mel one file each; N: in shards of N clips (l2s.data.shards)
    shard_clips: int = 0
    crop: CropConfig = field(default_factory=CropConfig)
    mel: MelConfig = field(default_factory=MelConfig)
    split: SplitConfig = field(default_factory=SplitConfig)

    def __post_init__(self):
        _positive("preprocess.fps", self.fps)
        _positive("preprocess.clip_seconds", self.clip_seconds)
        _positive("preprocess.workers", self.workers)
        if self.shard_clips < 0:
            raise ConfigError(
                f"preprocess.shard_clips: 0 (one file per array) or clips per shard, got {self.shard_clips}"
            )
        if self.cluster and not re.fullmatch(r"(tcp|tls|ucx)://[^\s/]+:\d+", self.cluster):
            raise ConfigError(
                f"preprocess.cluster: empty (a local cluster) or a Dask scheduler's address such as "
                f"tcp://head-node:8786, got {self.cluster!r}"
            )
        _fraction("preprocess.max_missing_face", self.max_missing_face)
        _positive("preprocess.sync_max_offset", self.sync_max_offset)
        if not 0 <= self.sync_tolerance < self.sync_max_offset:
            raise ConfigError(
                f"preprocess.sync_tolerance: frames from 0 to below preprocess.sync_max_offset={self.sync_max_offset}, "
                f"got {self.sync_tolerance}"
            )
        if not -1 <= self.sync_min_confidence <= 1:
            raise ConfigError(f"preprocess.sync_min_confidence: a correlation, -1..1, got {self.sync_min_confidence}")
        if self.min_seconds > self.clip_seconds:
            raise ConfigError("preprocess.min_seconds must not exceed preprocess.clip_seconds")
        if self.rotate not in ROTATIONS:
            raise ConfigError(f"preprocess.rotate must be one of {', '.join(map(str, ROTATIONS))}, got {self.rotate!r}")
        if self.smooth_window < 1 or self.smooth_window % 2 == 0:
            raise ConfigError(f"preprocess.smooth_window must be a positive odd number, got {self.smooth_window}")
        samples_per_frame = self.mel.sample_rate / self.fps
        if samples_per_frame != self.mel.hop * MELS_PER_FRAME:
            raise ConfigError(
                f"preprocess: VCA-GAN makes {MELS_PER_FRAME} mel frames per video frame, so mel.hop must be "
                f"mel.sample_rate / fps / {MELS_PER_FRAME} = {samples_per_frame / MELS_PER_FRAME:g} samples "
                f"(fps {self.fps:g}, sample_rate {self.mel.sample_rate}), got hop {self.mel.hop}"
            )
        if self.mel.n_mels % MEL_ROWS_MULTIPLE:
            raise ConfigError(
                f"preprocess.mel.n_mels: VCA-GAN needs a multiple of {MEL_ROWS_MULTIPLE} (its lowest scale has "
                f"n_mels/4 rows, which the discriminators halve twice), got {self.mel.n_mels}"
            )

    @property
    def clip_frames(self) -> int:
        return round(self.clip_seconds * self.fps)

    def shaping(self) -> dict:
        """These settings without where and how widely the work runs (workers, cluster) and
        how the arrays are laid out (shard_clips, which shards.json records), none of which
        changes a clip: what the per-video cache is keyed on, and what info.json records."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("workers", "cluster", "shard_clips")}

    @property
    def samples_per_frame(self) -> int:
        """Audio samples of one video frame."""
        return self.mel.hop * MELS_PER_FRAME


@dataclass(frozen=True)
class TrainConfig:
    """Training of every model (stage train@<model>); a model may override any key."""

    preset: str = "demo"  # model size preset of l2s.vcagan.presets: demo | paper
    # overrides of the preset's size knobs; by default the lip reader's visual-audio memory
    model: dict[str, Any] = field(default_factory=lambda: {"memory_slots": 64})
    steps: int = 4800
    batch_size: int = 8  # per process
    window: int = 40  # video frames per training window (4 mel frames each)
    # the demo preset's; the paper trained its sizes with 1e-4 for far more steps
    lr: float = 3e-3
    weight_decay: float = 1e-5
    recon_weight: float = 50.0
    sync_weight: float = 1.0
    gan_weight: float = 1.0
    r1_weight: float = 10.0
    # lip-reading head (beyond the paper): CTC over the shared phonemes on the visual
    # context, weighted against the 50 x L1 reconstruction; 0: off (the published model).
    # Needs windows that hold whole clips (a transcript covers its clip, not a window).
    ctc_weight: float = 1.0
    reader_to_decoder: bool = True  # the decoder also takes the head's phoneme posteriors
    # frame-wise phoneme cross-entropy on the head where the corpus gave phoneme or word timings
    # (processed frame_phonemes.npy): an option, measured, not the default, since most
    # real corpora give transcripts without timings
    frame_ce_weight: float = 0.0
    # multi-head visual-audio memory (model.memory_slots > 0; l2s.vcagan.memory): weight of
    # its losses (audio reconstruction, address alignment, visual recall, the audio CTC)
    memory_weight: float = 1.0
    # lip-reading pre-training: the first reader_steps steps train the visual front-end and
    # the head alone, on whole clips (a fifth of a full step's FLOP); freeze_reader
    # keeps both fixed afterwards, so the decoder learns to voice a finished lip reader
    reader_steps: int = 2500
    reader_batch_size: int = 16  # clips per pre-training step (0: batch_size)
    freeze_reader: bool = True
    # learning rate: linear warm-up over warmup_steps, then constant or cosine decay to 5 %,
    # over the run or, lr_per_phase, in each phase (pre-training, then the whole model)
    warmup_steps: int = 50
    lr_decay: Literal["none", "cosine"] = "cosine"
    lr_per_phase: bool = False
    # the adversarial losses (and the discriminators' training) start at this step; before
    # it the generator learns from reconstruction, sync and lip reading alone
    gan_start: int = 4500
    flip: bool = True  # horizontal flip augmentation
    erase: bool = True  # random erasing augmentation
    # random crop: the model sees frames less random_crop pixels on every side, cut at a
    # random place per clip in training and from the centre at inference (model.crop_margin)
    random_crop: int = 0
    # time masking: per second of a window, up to time_mask consecutive frames replaced by
    # the window's mean frame (the lip-reading field's 0.4 s a second is 10 at 25 fps)
    time_mask: int = 0
    language_embedding: bool = False  # multilingual models: a learnt vector per language
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True
    compile: bool = False
    eval_every: int = 400
    eval_clips: int = 8
    log_every: int = 25
    seed: int = 0
    loader_workers: int = 0
    # processes: "auto" = every visible GPU, else one CPU process; nnodes > 1 needs the
    # same command on every machine with the rendezvous endpoint of the first
    nproc: str = "auto"
    nnodes: int = 1
    rdzv_endpoint: str = "localhost:29400"

    @property
    def reader_batch(self) -> int:
        """Clips per lip-reading pre-training step (reader_batch_size, or batch_size when 0)."""
        return self.reader_batch_size or self.batch_size

    def __post_init__(self):
        for name in ("steps", "batch_size", "window", "eval_every", "eval_clips", "log_every", "nnodes"):
            _positive(f"train.{name}", getattr(self, name))
        for name in (
            "ctc_weight",
            "frame_ce_weight",
            "memory_weight",
            "warmup_steps",
            "gan_start",
            "reader_steps",
            "reader_batch_size",
            "random_crop",
            "time_mask",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name}: must be >= 0, got {getattr(self, name)}")
        for name in ("reader_to_decoder", "reader_steps", "freeze_reader"):
            if getattr(self, name) and not self.ctc_weight:
                raise ConfigError(f"train.{name}: needs the lip-reading head (ctc_weight > 0)")
        if self.freeze_reader and not self.reader_steps:
            raise ConfigError(
                "train.freeze_reader: needs reader_steps > 0 (a reader must be trained before it is frozen)"
            )
        if self.nproc != "auto" and not (self.nproc.isdigit() and int(self.nproc) > 0):
            raise ConfigError(f"train.nproc: 'auto' or a positive number of processes, got {self.nproc!r}")
        from l2s.vcagan.presets import model_config  # torch-free: sizes only

        # a misspelt preset or size knob fails on load, not in torchrun
        if model_config(self.preset, self.model).memory_slots and not self.ctc_weight:
            # the memory's audio encoder learns the head's CTC target (its guard against collapse)
            raise FieldError(
                "model.memory_slots",
                "the memory needs the lip-reading head (ctc_weight > 0); a model without the head "
                "needs its own train.model without the memory",
            )


@dataclass(frozen=True)
class VocoderTrainConfig:
    """Training of every neural vocoder (stage vocoder@<name>; params `vocoder:`, and any key
    overridden per vocoder in `vocoders.<name>.train`): ln-mel -> waveform, learnt from the
    training split's recorded speech."""

    preset: str = "small"  # size preset of l2s.vocoder.presets: small | full
    model: dict[str, Any] = field(default_factory=dict)  # overrides of the preset's size knobs
    steps: int = 12000
    batch_size: int = 16  # per process
    segment_frames: int = 32  # mel frames per training segment (100 a second)
    lr: float = 5e-4
    warmup_steps: int = 0
    lr_decay: Literal["none", "cosine"] = "cosine"
    # reconstruction (multi-resolution mel L1) alone before this step, then the adversarial
    # and feature-matching losses of both discriminator families too
    gan_start: int = 12000
    adversarial: Literal["hinge", "lsgan"] = "hinge"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    eval_every: int = 2000
    eval_clips: int = 9
    log_every: int = 50
    seed: int = 0
    nproc: str = "auto"
    nnodes: int = 1
    rdzv_endpoint: str = "localhost:29401"

    def __post_init__(self):
        for name in ("steps", "batch_size", "segment_frames", "eval_every", "eval_clips", "log_every", "nnodes"):
            _positive(f"vocoder.{name}", getattr(self, name))
        for name in ("warmup_steps", "gan_start"):
            if getattr(self, name) < 0:
                raise ConfigError(f"vocoder.{name}: must be >= 0, got {getattr(self, name)}")
        _positive("vocoder.lr", self.lr)
        if self.nproc != "auto" and not (self.nproc.isdigit() and int(self.nproc) > 0):
            raise ConfigError(f"vocoder.nproc: 'auto' or a positive number of processes, got {self.nproc!r}")
        from l2s.vocoder.presets import vocoder_config  # torch-free: sizes only

        vocoder_config(self.preset, self.model)  # a misspelt preset or size knob fails on load


@dataclass(frozen=True)
class AsrConfig:
    """The speech recogniser of each language (stage asr@<lang>), used to score generated
    speech by word error rate (stage wer@<model>-<lang>)."""

    # ctc: a character CTC recogniser trained here on the language's ground-truth speech.
    # faster-whisper: a Whisper model the user already has on disk (never downloaded).
    backend: Literal["ctc", "faster-whisper"] = "ctc"
    model_dir: str = ""  # faster-whisper: the local model folder
    # measured on the embedded corpus (384 train clips): under 2 minutes on 2 CPU cores and
    # < 2 % WER on ground-truth test speech; a second GRU layer trained much slower
    steps: int = 800
    batch_size: int = 16
    lr: float = 3e-3
    hidden: int = 192
    layers: int = 1
    spec_augment: bool = True
    # greedy: best path; lexicon: beam search that only spells words seen in training
    decoding: Literal["greedy", "lexicon"] = "lexicon"
    beam: int = 8
    seed: int = 0
    # a second, independent recogniser per language: these settings over the ones above (another
    # seed and size), trained by the same stage on the same recorded speech into
    # models/asr/<lang>/second/. The wer stage hears the generated speech with both and says
    # where they disagree; it never chooses a recipe (ablations hear only the first). {}: none
    second: dict[str, Any] = field(default_factory=lambda: {"seed": 1, "hidden": 128})

    def __post_init__(self):
        for name in ("steps", "batch_size", "hidden", "layers", "beam"):
            _positive(f"asr.{name}", getattr(self, name))
        _positive("asr.lr", self.lr)
        if not isinstance(self.second, dict):
            raise ConfigError(f"asr.second: a mapping of settings (or {{}} for none), got {self.second!r}")
        unknown = set(self.second) - set(SECOND_ASR_KNOBS)
        if unknown:
            raise ConfigError(f"asr.second: unknown {sorted(unknown)}; choose from {', '.join(SECOND_ASR_KNOBS)}")
        if self.second and self.second_config() == dataclasses.replace(self, second={}):
            raise ConfigError("asr.second: the same settings as the first recogniser; change its seed or size")

    def second_config(self) -> AsrConfig | None:
        """The second recogniser's settings (None when asr.second is empty): always one
        trained here, decoded like the first."""
        if not self.second:
            return None
        return dataclasses.replace(self, backend="ctc", model_dir="", second={}, **self.second)


# what asr.second may change: how the recogniser is built and trained, not how it decodes
SECOND_ASR_KNOBS = ("steps", "batch_size", "lr", "hidden", "layers", "spec_augment", "seed")


@dataclass(frozen=True)
class TestConfig:
    """Whole-clip synthesis of each test split and its scores (stage test@<model>-<lang>)."""

    save_mel: bool = True  # outputs/<model>/<lang>/mel/<clip>.npz: mel and linear spectrogram
    save_wav: bool = True  # outputs/<model>/<lang>/wav/<clip>.wav
    # mel: Griffin-Lim on the 80-bin mel through its pseudo-inverse; linear: Griffin-Lim on
    # the postnet's linear spectrogram (as published); or the name of a neural vocoder of
    # `vocoders:` (stage vocoder@<name>) on the mel. The ceiling takes the same path from the
    # ground truth. mel is the default: the demo model's small postnet made less
    # intelligible speech (README, Testing)
    vocoder: str = "mel"
    griffin_lim_iters: int = 60
    batch_size: int = 16
    workers: int = 2  # processes scoring clips
    seed: int = 0
    # DNSMOS of the generated speech, the ceiling and the recorded speech: about 1.5 s of one
    # core per 3 s clip, two thirds of the stage here; false leaves its columns out
    naturalness: bool = True
    # the split the test and wer stages speak and score: test, or val for a recipe chosen
    # as a DVC experiment (`dvc exp run -S test.split=val ...`), which leaves test unseen
    split: str = "test"

    def __post_init__(self):
        for name in ("griffin_lim_iters", "batch_size", "workers"):
            _positive(f"test.{name}", getattr(self, name))
        if self.split not in ("val", "test"):
            raise ConfigError(f"test.split must be val or test, got {self.split!r}")


@dataclass(frozen=True)
class Evaluation:
    """One model tested on one language (params: `evaluations.<model>-<lang>`)."""

    model: str = ""
    lang: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """One model to train (params: `models.<name>`): its languages, and train overrides."""

    languages: list[str] = field(default_factory=list)
    train: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VocoderEntry:
    """One neural vocoder to train (params: `vocoders.<name>`): the languages whose
    recorded speech it learns, and overrides of `vocoder:`."""

    languages: list[str] = field(default_factory=list)
    train: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Study:
    """A set of validation-split comparisons that `dvc repro` does not run (params:
    `studies.<name>`): each model trained with each recipe (train overrides) once per seed,
    by `python -m l2s.evaluation.ablation --study NAME`; rows `<name>_<recipe>_<model>`."""

    models: dict[str, ModelEntry] = field(default_factory=dict)
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0, 1])


@dataclass(frozen=True)
class Params:
    """The whole params.yaml."""

    languages: dict[str, LanguageSource] = field(default_factory=dict)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    models: dict[str, ModelEntry] = field(default_factory=dict)
    test: TestConfig = field(default_factory=TestConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    vocoder: VocoderTrainConfig = field(default_factory=VocoderTrainConfig)
    vocoders: dict[str, VocoderEntry] = field(default_factory=dict)
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    studies: dict[str, Study] = field(default_factory=dict)

    def __post_init__(self):
        if not self.languages:
            raise ConfigError("languages: at least one language is needed")
        for lang, src in self.languages.items():
            self._check_source(lang, src)
            self.preprocess_for(lang)  # its own clip length must suit the preprocess section
            if not src.language:  # a manifest's rows of this language are marked with its key
                self.languages[lang] = dataclasses.replace(src, language=lang)

        for name, entry in self.models.items():
            if name == "asr":
                raise ConfigError("models.asr: the name is taken by the speech recognisers (models/asr/<lang>)")
            if not entry.languages:
                raise ConfigError(f"models.{name}.languages: at least one language is needed")
            self.train_config(name, check_languages=False)  # bad overrides fail now, not hours into a run
        self._check_evaluations()
        for name, entry in self.vocoders.items():
            if name in ("mel", "linear"):
                raise ConfigError(f"vocoders.{name}: the name is taken by test.vocoder's Griffin-Lim paths")
            if not entry.languages:
                raise ConfigError(f"vocoders.{name}.languages: at least one language is needed")
            self.vocoder_config(name, check_languages=False)
        if self.test.vocoder not in ("mel", "linear", *self.vocoders):
            raise ConfigError(
                f"test.vocoder: mel, linear or a vocoder of `vocoders:` ({', '.join(self.vocoders) or 'none'}), "
                f"got {self.test.vocoder!r}"
            )
        for name, study in self.studies.items():
            for model, entry in study.models.items():
                for recipe, overrides in study.recipes.items():
                    merged = {**dataclasses.asdict(self.train), **entry.train, **overrides}
                    parse(TrainConfig, merged, f"studies.{name}.recipes.{recipe} ({model})")

    def _check_source(self, lang: str, src: LanguageSource) -> None:
        where = f"languages.{lang}"
        if src.voice != "none" and (src.voice or src.source != "synthetic"):
            problem = _voice_problem(src.voice, lang)
            if problem:
                raise ConfigError(f"{where}.voice: {problem}")
        if src.source == "synthetic" and lang not in self.corpus.languages:
            raise ConfigError(
                f"{where}: source is 'synthetic' but corpus.languages has no entry "
                f"'{lang}' (it has: {', '.join(self.corpus.languages) or 'none'})"
            )
        if src.source != "synthetic" and lang in self.corpus.languages and src.path in ("", f"data/raw/{lang}"):
            raise ConfigError(
                f"{where}: source is '{src.source}' (your videos in data/raw/{lang}) but "
                f"corpus.languages.{lang} would generate a synthetic corpus into the same folder; "
                "remove one of them"
            )

    def _check_evaluations(self) -> None:
        """`evaluations` lists every (model, language) pair the test and wer stages run: each
        model on each of its languages, plus any cross-lingual pairs. DVC can only loop over
        a list written in params.yaml, so the pairs are spelt out there and checked here."""
        for key, ev in self.evaluations.items():
            if ev.model not in self.models:
                raise ConfigError(
                    f"evaluations.{key}.model: unknown model {ev.model!r} (models: {', '.join(self.models)})"
                )
            if key != f"{ev.model}-{ev.lang}":
                raise ConfigError(f"evaluations.{key}: name it {ev.model}-{ev.lang} (model-language)")
        missing = [
            f"{name}-{lang}: {{model: {name}, lang: {lang}}}"
            for name, entry in self.models.items()
            for lang in entry.languages
            if f"{name}-{lang}" not in self.evaluations
        ]
        if missing:
            raise ConfigError(
                "evaluations: every model is tested on each of its languages; add:\n  " + "\n  ".join(missing)
            )

    def train_config(self, model: str, check_languages: bool = True) -> TrainConfig:
        """train: with the model's own overrides laid over it.

        The model's languages are checked here rather than on load, so that trimming
        `languages` to try one of them does not break every other stage."""
        if model not in self.models:
            raise ConfigError(f"unknown model {model!r}; params.yaml models: {', '.join(self.models) or 'none'}")
        unknown = [lang for lang in self.models[model].languages if lang not in self.languages]
        if check_languages and unknown:
            raise ConfigError(
                f"models.{model}.languages: {unknown} not in languages (known: {', '.join(self.languages)})"
            )
        merged = {**dataclasses.asdict(self.train), **self.models[model].train}
        return parse(TrainConfig, merged, f"models.{model}.train")

    def vocoder_config(self, name: str, check_languages: bool = True) -> VocoderTrainConfig:
        """vocoder: with the vocoder's own overrides laid over it."""
        if name not in self.vocoders:
            raise ConfigError(f"unknown vocoder {name!r}; params.yaml vocoders: {', '.join(self.vocoders) or 'none'}")
        unknown = [lang for lang in self.vocoders[name].languages if lang not in self.languages]
        if check_languages and unknown:
            raise ConfigError(
                f"vocoders.{name}.languages: {unknown} not in languages (known: {', '.join(self.languages)})"
            )
        merged = {**dataclasses.asdict(self.vocoder), **self.vocoders[name].train}
        return parse(VocoderTrainConfig, merged, f"vocoders.{name}.train")

    def evaluation(self, key: str) -> Evaluation:
        if key not in self.evaluations:
            raise ConfigError(
                f"unknown evaluation {key!r}; params.yaml evaluations: {', '.join(self.evaluations) or 'none'}"
            )
        return self.evaluations[key]

    def source(self, lang: str) -> LanguageSource:
        if lang not in self.languages:
            raise ConfigError(f"unknown language {lang!r}; params.yaml languages: {', '.join(self.languages)}")
        return self.languages[lang]

    def preprocess_for(self, lang: str) -> PreprocessConfig:
        """preprocess: with the language's own clip length (languages.<lang>.clip_seconds,
        min_seconds; LRW's 29 frames by default), checked like the section itself."""
        own = self.source(lang).clip_lengths()
        if not own:
            return self.preprocess
        merged = {**dataclasses.asdict(self.preprocess), **own}
        try:
            return parse(PreprocessConfig, merged, "preprocess")
        except ConfigError as e:
            mine = ", ".join(f"{k} {v:g}" for k, v in own.items())
            raise ConfigError(f"languages.{lang} (its own {mine}, over preprocess): {e}") from None

    def phoneme_voice(self, lang: str, corpus_voice: str | None = None) -> str | None:
        """The espeak-ng voice that phonemizes `lang`'s transcripts (None: no phonemes).
        `corpus_voice`: the voice the raw folder's pronunciation.json names."""
        from l2s.data.phonemes import default_voice

        voice = self.source(lang).voice
        if voice == "none":
            return None
        return voice or corpus_voice or default_voice(lang)

    def raw_dir(self, lang: str) -> Path:
        src = self.source(lang)
        return paths.resolve(src.path) if src.path else paths.raw_dir(lang)

    def raw_folder(self, lang: str) -> Path:
        """What processed clips.csv's source and rejects.csv's path are relative to (so that
        clones make the same bytes): the language's raw folder, or its manifest's folder."""
        raw = self.raw_dir(lang)
        return raw if raw.is_dir() else raw.parent

    def corpus_language(self, lang: str) -> CorpusLanguage:
        if lang not in self.corpus.languages:
            raise ConfigError(f"corpus.languages has no entry {lang!r}; it has: {', '.join(self.corpus.languages)}")
        return self.corpus.languages[lang]


# --------------------------------------------------------------------------- loading


def load(path: str | Path | None = None) -> Params:
    """Read and validate params.yaml (the repository's, unless a path is given)."""
    path = Path(path) if path else paths.root() / "params.yaml"
    if not path.exists():
        raise ConfigError(f"{path}: no such params file")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    return parse(Params, data, "")


def parse(cls: type, data: Any, where: str) -> Any:
    """Build dataclass `cls` from plain YAML data, naming `where` in every error."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'params'}: expected a mapping of keys, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{_join(where, unknown[0])}: unknown key; allowed keys of {where or 'params.yaml'}: {', '.join(fields)}"
        )
    values = {name: _convert(hints[name], data[name], _join(where, name)) for name in data}
    try:
        return cls(**values)
    except FieldError as e:
        raise ConfigError(f"{_join(where, e.field)}: {e.message}") from e
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where or 'params'}: {e}") from e


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return parse(tp, value, where)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not allowed; choose one of: {', '.join(map(str, args))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"{where}: unsupported parameter type {tp}")


def _voice_problem(voice: str, lang: str) -> str | None:
    """What is wrong with a language's phonemizer voice (given, or its default), or None;
    also None when espeak-ng is missing: the stages that need it say how to install it."""
    from l2s.data import espeak, phonemes

    try:
        if voice:
            return espeak.voice_problem(voice)
        phonemes.default_voice(lang)
    except RuntimeError:
        return None
    except ValueError as e:
        return f"{e}; set the voice that reads this language's transcripts, or none"
    return None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name}: must be positive, got {value}")


def _within(key: str, value: float, low: float, high: float) -> None:
    """A FieldError (its section's key goes in front) unless low <= value <= high."""
    if not low <= value <= high:
        raise FieldError(key, f"must be between {low:g} and {high:g}, got {value}")


def _fraction(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ConfigError(f"{name}: must be between 0 and 1, got {value}")


def fingerprint(obj: Any) -> str:
    """A stable short hash of a config (a dataclass, or its dict), to key caches on the
    parameters that shaped them."""
    import hashlib
    import json

    blob = json.dumps(obj if isinstance(obj, dict) else dataclasses.asdict(obj), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]
