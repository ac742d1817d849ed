"""Per-language speech recogniser that scores generated speech by word error rate (stage asr@<lang>).

VCA-GAN's authors measured the intelligibility of generated GRID speech with an ASR model
trained on the ground-truth training speech, and reported that model's own WER on the
ground-truth test speech (0.37-1.67 %) as the floor. This module does the same for each
language of params.yaml: `l2s asr LANG` trains a small character CTC recogniser
on data/processed/<lang> and writes models/asr/<lang>/asr.pt.

Model: log-mel scaled to [-1, 1] (`l2s.model.mel_to_unit`), masked past each clip's length;
two 1-D convolutions (the second halves the time rate, to 50 steps/s) and a bidirectional
GRU; a linear layer over the characters of the normalised training transcripts plus the
CTC blank (index 0). SpecAugment masks regularise it. The checkpoint holds the weights with
everything needed to rebuild the recogniser from it alone: language, vocabulary, model
sizes, mel settings and the lexicon (training words).

Measured on the embedded corpus (384 training clips per language, 2 busy CPU cores, about
2.5 minutes each): test WER 0.7 % (en), 1.6 % (es), CER 1.5 % (zh), and the same within one
or two words after mel -> Griffin-Lim -> mel, so it needs no training on Griffin-Lim audio.
Subsampling by 4 trained faster but dropped letters (a spelt letter and a space need steps
of their own), and a second GRU layer learnt far slower for the same time.

Decoding: `greedy` (best path: repeats collapsed, blanks dropped), or `lexicon`, a CTC
prefix beam search whose hypotheses may only spell words of the lexicon (a prefix trie),
falling back to the greedy transcript when no hypothesis ends on a whole word.

The wer stage goes through `load_recognizer(lang)`, which returns a `Recognizer`: ours
(`CTCRecognizer`), or a faster-whisper model already on disk (`WhisperRecognizer`,
`asr.backend: faster-whisper`, never downloaded). Either transcribes waveforms, .wav files
or mel .npz files (key `mel`, natural-log mel [n_mels, frames]), as the authors' --data
option took wav or mel input.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2s import config, paths, text
from l2s.config import MelConfig
from l2s.model import length_mask, mel_to_unit

log = logging.getLogger(__name__)

FORMAT = "l2s-asr-ctc"  # checkpoint tag, so that another .pt is refused with a clear message
SUBSAMPLE = 2  # time subsampling of the front-end: 100 mel frames/s -> 50 CTC steps/s
WORD_END = ""  # trie key marking that the path to a node spells a whole word
PRUNE = 1e-3  # beam search: characters below this posterior at a frame are not tried there


# --------------------------------------------------------------------------- model


class CTCModel(nn.Module):
    """Log-mel [B, n_mels, M] -> per-step log-probabilities [B, ceil(M / subsample), vocab + 1]."""

    def __init__(self, n_mels: int, vocab: int, hidden: int, layers: int, subsample: int = SUBSAMPLE):
        super().__init__()
        if subsample < 1:
            raise ValueError(f"time subsampling must be a positive integer, got {subsample}")
        self.subsample = subsample
        first = 2 if subsample >= 4 and subsample % 2 == 0 else 1  # striding early spares the second layer work
        self.front = nn.Sequential(
            nn.Conv1d(n_mels, hidden, 5, stride=first, padding=2),
            nn.GELU(),
            nn.Conv1d(hidden, hidden, 5, stride=subsample // first, padding=2),
            nn.GELU(),
        )
        self.norm = nn.LayerNorm(hidden)
        self.rnn = nn.GRU(
            hidden, hidden, num_layers=layers, bidirectional=True, batch_first=True, dropout=0.1 if layers > 1 else 0.0
        )
        self.out = nn.Linear(2 * hidden, vocab + 1)

    def output_lengths(self, lengths: Tensor) -> Tensor:
        for conv in (self.front[0], self.front[2]):  # ceil(n / stride) per layer (kernel 5, padding 2)
            stride = conv.stride[0]
            lengths = torch.div(lengths + stride - 1, stride, rounding_mode="floor")
        return lengths

    def forward(self, log_mel: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = mask_features(mel_to_unit(log_mel), lengths)
        x = self.norm(self.front(x).transpose(1, 2))
        x, _ = self.rnn(x)
        return F.log_softmax(self.out(x), dim=-1), self.output_lengths(lengths)


def mask_features(x: Tensor, lengths: Tensor) -> Tensor:
    """Frames past each clip's length set to -1, the unit value of silence (ln 1e-5): padding
    then looks like the silent tail of a short clip, whatever the batch it landed in."""
    return x.masked_fill(~length_mask(lengths, x.shape[-1])[:, None, :], -1.0)


def spec_augment(x: Tensor, lengths: Tensor, gen: torch.Generator) -> Tensor:
    """Two frequency masks (up to 10 mel bands) and two time masks (up to 8 frames, 80 ms:
    less than a short word) per clip, filled with the clip's mean (SpecAugment, no warping)."""
    x = x.clone()
    n_mels = x.shape[1]
    for b in range(x.shape[0]):
        length = int(lengths[b])
        fill = x[b, :, :length].mean()
        for _ in range(2):
            w = int(torch.randint(0, 11, (), generator=gen))
            f0 = int(torch.randint(0, max(1, n_mels - w), (), generator=gen))
            x[b, f0 : f0 + w, :length] = fill
            w = int(torch.randint(0, 9, (), generator=gen))
            t0 = int(torch.randint(0, max(1, length - w), (), generator=gen))
            x[b, :, t0 : t0 + w] = fill
    return x


# --------------------------------------------------------------------------- decoding


def build_trie(words: list[str]) -> dict:
    """Prefix trie of the lexicon: nested dicts char -> node; WORD_END in a node ends a word."""
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[WORD_END] = True
    return root


def greedy_decode(log_probs: np.ndarray, vocab: list[str]) -> str:
    """Best path of [T, vocab + 1] log-probabilities: repeats collapsed, blanks (0) dropped."""
    best = np.asarray(log_probs).argmax(-1)
    if best.size == 0:  # an input shorter than one step
        return ""
    keep = best[(best != 0) & np.append(True, best[1:] != best[:-1])]
    return " ".join("".join(vocab[i - 1] for i in keep).split())


def lexicon_decode(log_probs: np.ndarray, vocab: list[str], trie: dict, beam: int, spaced: bool) -> str:
    """CTC prefix beam search that only spells words of the lexicon trie.

    In a spaced language a space may only follow a whole word, and a word may only continue
    along the trie. In an unspaced one a whole word may be followed directly by the first
    character of the next. Probabilities are kept linear and rescaled every frame (the beam's
    ranking is all that matters), and at each frame only the characters above PRUNE are
    tried: CTC posteriors are peaked, so most frames extend nothing. The best hypothesis
    that ends on a whole word wins; when none does, the greedy transcript is returned.
    """
    probs = np.exp(np.asarray(log_probs, dtype=np.float64))
    space = vocab.index(" ") + 1 if " " in vocab else -1
    labels = [""] + list(vocab)

    def step(node: dict, c: int) -> dict | None:
        """The trie node after label c, or None when c would leave the lexicon."""
        if c == space:
            return trie if spaced and WORD_END in node else None
        child = node.get(labels[c])
        if child is None and not spaced and WORD_END in node:
            child = trie.get(labels[c])
        return child

    # prefix (tuple of labels) -> [p ending in blank, p ending in its last label]
    beams: dict[tuple, list[float]] = {(): [1.0, 0.0]}
    nodes: dict[tuple, dict] = {(): trie}
    for p in probs:
        candidates = np.flatnonzero(p[1:] > PRUNE) + 1
        nxt: dict[tuple, list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = pb + pnb
            last = prefix[-1] if prefix else 0
            cur = nxt.setdefault(prefix, [0.0, 0.0])
            cur[0] += total * p[0]
            if last:
                cur[1] += pnb * p[last]  # the last label held on: still the same prefix
            node = nodes[prefix]
            for c in candidates:
                # a repeat of the last label is a new label only after a blank
                ext = (pb if c == last else total) * p[c]
                if ext <= 0.0:
                    continue
                child = step(node, int(c))
                if child is None:
                    continue
                longer = prefix + (int(c),)
                nodes[longer] = child
                nxt.setdefault(longer, [0.0, 0.0])[1] += ext
        ranked = sorted(nxt.items(), key=lambda kv: kv[1][0] + kv[1][1], reverse=True)[:beam]
        scale = ranked[0][1][0] + ranked[0][1][1]
        if scale <= 0.0:  # every path died (a frame with zero posteriors): nothing to rank
            break
        beams = {k: [v[0] / scale, v[1] / scale] for k, v in ranked}
    for prefix in sorted(beams, key=lambda k: beams[k][0] + beams[k][1], reverse=True):
        node = nodes[prefix]
        if prefix and (WORD_END in node or node is trie):
            return " ".join("".join(labels[c] for c in prefix).split())
    return greedy_decode(log_probs, vocab)


# --------------------------------------------------------------------------- inputs


def read_input(item: np.ndarray | str | Path, mel_cfg: MelConfig) -> np.ndarray:
    """A recogniser input as natural-log mel [n_mels, frames]: a 16 kHz float waveform, a
    path to an audio file (.wav, .flac, ...; resampled when needed) or to a mel .npz."""
    from l2s.audio import log_mel

    if isinstance(item, np.ndarray):
        if item.ndim != 1:
            raise ValueError(f"a waveform input must be one-dimensional (mono samples), got shape {item.shape}")
        return log_mel(item.astype(np.float32), mel_cfg)
    path = Path(item)
    if not path.exists():
        raise FileNotFoundError(f"recogniser input {path} does not exist")
    if path.suffix == ".npz":
        with np.load(path) as z:
            if "mel" not in z:
                raise ValueError(f"{path}: no array 'mel' in the .npz (it has: {', '.join(z.files)})")
            mel = np.asarray(z["mel"], dtype=np.float32)
        if mel.ndim != 2 or mel.shape[0] != mel_cfg.n_mels:
            raise ValueError(f"{path}: 'mel' must be [{mel_cfg.n_mels}, frames], got {list(mel.shape)}")
        return mel
    return log_mel(read_wave(path, mel_cfg.sample_rate), mel_cfg)


def read_wave(path: Path, sample_rate: int) -> np.ndarray:
    """An audio file as mono float32 at `sample_rate`."""
    import soundfile

    wave, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if sr != sample_rate:
        import librosa

        wave = librosa.resample(wave, orig_sr=sr, target_sr=sample_rate)
    return wave.astype(np.float32)


def resynthesise(mels: np.ndarray, mel_cfg: MelConfig, seed: int = 0, batch: int = 16) -> list[np.ndarray]:
    """Log-mels [N, n_mels, M] through the test path: Griffin-Lim audio, then its log-mel again.

    The test stage writes Griffin-Lim audio of the generated spectrograms and the wer stage
    recomputes the mel from it; this sends ground truth down the same road."""
    from l2s.audio import log_mel
    from l2s.vocoder import to_waves

    out = []
    for i in range(0, len(mels), batch):
        waves = to_waves(torch.from_numpy(np.asarray(mels[i : i + batch], dtype=np.float32)), mel_cfg, seed=seed + i)
        out.extend(log_mel(wave, mel_cfg) for wave in waves)
    return out


# --------------------------------------------------------------------------- recognisers


class Recognizer(Protocol):
    """Speech to normalised text, for the wer stage."""

    lang: str

    def transcribe(self, inputs: list[np.ndarray | str | Path]) -> list[str]:
        """One normalised transcript per input: a 16 kHz float waveform, a .wav path or a mel .npz path."""
        ...


class CTCRecognizer:
    """Our character CTC recogniser; `CTCRecognizer.load(path)` rebuilds it from its checkpoint alone."""

    def __init__(self, model: CTCModel, checkpoint: dict, decoding: str = "lexicon", beam: int = 8):
        if decoding not in ("greedy", "lexicon"):
            raise ValueError(f"unknown decoding {decoding!r}; choose greedy or lexicon")
        self.model = model.eval()
        self.lang: str = checkpoint["lang"]
        self.vocab: list[str] = checkpoint["vocab"]
        self.lexicon: list[str] = checkpoint["lexicon"]
        self.mel_cfg = MelConfig(**checkpoint["mel"])
        self.spaced = text.spaced(self.lang)
        self.trie = build_trie(self.lexicon)
        self.decoding, self.beam = decoding, beam

    @classmethod
    def load(cls, path: str | Path, decoding: str = "lexicon", beam: int = 8) -> CTCRecognizer:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no speech recogniser at {path}")
        ck = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ck, dict) or ck.get("format") != FORMAT:
            raise ValueError(f"{path} is not an l2s CTC recogniser checkpoint")
        return cls(_build_model(ck), ck, decoding, beam)

    def log_probs(self, mels: list[np.ndarray], batch: int = 32) -> list[np.ndarray]:
        """Per-step log-probabilities [steps, vocab + 1] of each log-mel [n_mels, frames]."""
        out = []
        with torch.no_grad():
            for i in range(0, len(mels), batch):
                chunk = mels[i : i + batch]
                lengths = torch.tensor([m.shape[-1] for m in chunk])
                x = torch.full((len(chunk), chunk[0].shape[0], int(lengths.max())), math.log(1e-5))
                for j, m in enumerate(chunk):
                    x[j, :, : m.shape[-1]] = torch.from_numpy(np.asarray(m, dtype=np.float32))
                lp, steps = self.model(x, lengths)
                out += [lp[j, : steps[j]].numpy() for j in range(len(chunk))]
        return out

    def decode(self, log_probs: np.ndarray, decoding: str | None = None) -> str:
        if (decoding or self.decoding) == "greedy":
            return greedy_decode(log_probs, self.vocab)
        return lexicon_decode(log_probs, self.vocab, self.trie, self.beam, self.spaced)

    def transcribe_mels(self, mels: list[np.ndarray], decoding: str | None = None) -> list[str]:
        return [self.decode(lp, decoding) for lp in self.log_probs(mels)]

    def transcribe(self, inputs: list[np.ndarray | str | Path]) -> list[str]:
        return self.transcribe_mels([read_input(x, self.mel_cfg) for x in inputs])


class WhisperRecognizer:
    """A faster-whisper model from a local folder (CTranslate2 format); never downloads."""

    def __init__(self, lang: str, model_dir: str | Path, beam: int = 5, mel_cfg: MelConfig | None = None):
        self.lang = lang
        self.mel_cfg = mel_cfg or MelConfig()
        self.beam = beam
        folder = paths.resolve(model_dir) if str(model_dir) else None
        if folder is None or not folder.is_dir():
            raise FileNotFoundError(
                f"asr.backend is faster-whisper but asr.model_dir {str(folder) if folder else '(empty)'} is not a "
                "folder; set asr.model_dir in params.yaml to a local faster-whisper (CTranslate2) model folder "
                "(models are never downloaded here)"
            )
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise ImportError(
                "asr.backend is faster-whisper but the package is not installed; run: pip install faster-whisper"
            ) from e
        self.model = WhisperModel(str(folder), device="auto", compute_type="default", local_files_only=True)

    def _wave(self, item: np.ndarray | str | Path) -> np.ndarray:
        if isinstance(item, np.ndarray):
            return item.astype(np.float32)
        path = Path(item)
        if path.suffix == ".npz":  # a mel only: Griffin-Lim gives the audio Whisper listens to
            from l2s.vocoder import to_wave

            return to_wave(torch.from_numpy(read_input(path, self.mel_cfg)), self.mel_cfg)
        return read_wave(path, 16000)

    def transcribe(self, inputs: list[np.ndarray | str | Path]) -> list[str]:
        out = []
        for item in inputs:
            segments, _ = self.model.transcribe(self._wave(item), language=self.lang, beam_size=self.beam)
            out.append(text.normalise(" ".join(s.text for s in segments), self.lang))
        return out


def checkpoint_path(lang: str) -> Path:
    return paths.root() / "models" / "asr" / lang / "asr.pt"


def load_recognizer(lang: str, params: config.Params | None = None) -> Recognizer:
    """The recogniser of `lang` that params.yaml `asr.backend` names."""
    params = params or config.load()
    cfg = params.asr
    if cfg.backend == "faster-whisper":
        return WhisperRecognizer(lang, cfg.model_dir, beam=cfg.beam, mel_cfg=params.preprocess.mel)
    path = checkpoint_path(lang)
    if not path.exists():
        raise FileNotFoundError(f"no speech recogniser for {lang!r} at {path}; run: dvc repro asr@{lang}")
    return CTCRecognizer.load(path, cfg.decoding, cfg.beam)


# --------------------------------------------------------------------------- training


def _build_model(ck: dict) -> CTCModel:
    m = ck["model"]
    model = CTCModel(m["n_mels"], len(ck["vocab"]), m["hidden"], m["layers"], m["subsample"])
    if "state_dict" in ck:
        model.load_state_dict(ck["state_dict"])
    return model


@dataclasses.dataclass
class Clips:
    """One split in memory: log-mels [N, n_mels, M] float32, valid mel frames, transcripts."""

    mel: np.ndarray
    lengths: np.ndarray
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def load_split(data, split: str, lang: str, required: bool = True) -> Clips | None:
    """The clips of a split that have a transcript, normalised; None for an empty optional split."""
    try:
        rows = data.split(split)
    except ValueError as e:
        if required:
            raise ValueError(f"asr {lang}: {e}; the recogniser needs {split} clips (see preprocess.split)") from e
        return None
    rows = [r for r in rows if text.normalise(data.clips[r]["text"], lang)]
    if not rows:
        if required:
            raise ValueError(f"asr {lang}: no clip of the {split} split has a transcript")
        return None
    mels_per_frame = data.mel.shape[-1] // data.frames.shape[1]
    lengths = [min(data.mel.shape[-1], int(data.clips[r]["valid_frames"]) * mels_per_frame) for r in rows]
    return Clips(
        mel=np.stack([np.asarray(data.mel[r], dtype=np.float32) for r in rows]),
        lengths=np.array(lengths),
        texts=[text.normalise(data.clips[r]["text"], lang) for r in rows],
    )


def lexicon_of(texts: list[str], lang: str) -> list[str]:
    """The training words (every character in an unspaced language), sorted."""
    return sorted({w for t in texts for w in text.tokens(t, lang)})


def _lr_factor(step: int, steps: int) -> float:
    """Linear warm-up over the first 5 % of steps, then cosine decay to 5 % of the peak."""
    warm = max(1, steps // 20)
    if step < warm:
        return (step + 1) / warm
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


class AsrTrainer:
    """Trains one language's CTC recogniser; the batches and masks come from seeded generators."""

    def __init__(self, lang: str, params: config.Params):
        from l2s.dataset import ProcessedLanguage

        self.lang, self.cfg, self.mel_cfg = lang, params.asr, params.preprocess.mel
        data = ProcessedLanguage(lang)
        self.train = load_split(data, "train", lang)
        self.val = load_split(data, "val", lang, required=False)
        self.test = load_split(data, "test", lang)
        self.vocab = sorted({ch for t in self.train.texts for ch in t})
        self.lexicon = lexicon_of(self.train.texts, lang)
        index = {ch: i + 1 for i, ch in enumerate(self.vocab)}
        # a character never seen in training cannot be learnt: drop it from the targets
        self.targets = [[index[ch] for ch in t if ch in index] for t in self.train.texts]
        torch.manual_seed(self.cfg.seed)
        self.model = CTCModel(self.mel_cfg.n_mels, len(self.vocab), self.cfg.hidden, self.cfg.layers, SUBSAMPLE)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.cfg.lr, weight_decay=1e-2)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: _lr_factor(s, self.cfg.steps))
        self.gen = torch.Generator().manual_seed(self.cfg.seed)

    def checkpoint(self, state_dict: dict | None = None, extra: dict | None = None) -> dict:
        return {
            "format": FORMAT,
            "lang": self.lang,
            "vocab": self.vocab,
            "lexicon": self.lexicon,
            "model": {
                "n_mels": self.mel_cfg.n_mels,
                "hidden": self.cfg.hidden,
                "layers": self.cfg.layers,
                "subsample": self.model.subsample,
            },
            "mel": dataclasses.asdict(self.mel_cfg),
            "asr": dataclasses.asdict(self.cfg),
            "state_dict": state_dict if state_dict is not None else self.model.state_dict(),
            **(extra or {}),
        }

    def batches(self):
        """Endless batches of train clip indices: seeded shuffles, epoch after epoch."""
        while True:
            order = torch.randperm(len(self.train), generator=self.gen).tolist()
            size = min(self.cfg.batch_size, len(order))
            for i in range(0, len(order) - size + 1, size):
                yield order[i : i + size]

    def step(self, idx: list[int]) -> float:
        lengths = torch.from_numpy(self.train.lengths[idx])
        mel = torch.from_numpy(self.train.mel[idx, :, : int(lengths.max())])
        if self.cfg.spec_augment:
            mel = spec_augment(mel, lengths, self.gen)
        targets = [self.targets[i] for i in idx]
        self.model.train()
        log_probs, steps = self.model(mel, lengths)
        loss = F.ctc_loss(
            log_probs.transpose(0, 1),
            torch.tensor([c for t in targets for c in t], dtype=torch.long),
            steps,
            torch.tensor([len(t) for t in targets]),
            blank=0,
            zero_infinity=True,  # a clip too fast for its steps is skipped, not a NaN
        )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.sched.step()
        return float(loss.detach())

    def recognizer(self, state_dict: dict | None = None, decoding: str | None = None) -> CTCRecognizer:
        ck = self.checkpoint(state_dict)
        model = _build_model(ck)
        return CTCRecognizer(model, ck, decoding or self.cfg.decoding, self.cfg.beam)

    def fit(self, history: Path) -> tuple[dict, dict]:
        """Train for asr.steps; returns the weights of the best validation CER and a summary."""
        steps = self.cfg.steps
        every = max(1, min(100, steps // 10))
        best, best_cer, best_step = None, math.inf, 0
        batches = self.batches()
        losses: list[float] = []
        start = time.perf_counter()
        history.unlink(missing_ok=True)
        for step in range(1, steps + 1):
            loss = self.step(next(batches))
            if not math.isfinite(loss):
                raise RuntimeError(f"asr {self.lang}: the CTC loss became {loss} at step {step}")
            losses.append(loss)
            if step % every == 0 or step == steps:
                row = {"step": step, "loss": float(np.mean(losses[-every:])), "seconds": time.perf_counter() - start}
                if self.val is not None:
                    rec = self.recognizer(self.model.state_dict(), "greedy")
                    hyps = rec.transcribe_mels(_valid(self.val))
                    row["val_cer"] = text.cer(self.val.texts, hyps, self.lang)
                    row["val_wer"] = text.wer(self.val.texts, hyps, self.lang)
                    # ties go to the later weights, trained longer at a lower learning rate
                    if row["val_cer"] <= best_cer:
                        best, best_cer, best_step = copy.deepcopy(self.model.state_dict()), row["val_cer"], step
                paths.append_row(history, row)
                log.info(
                    "asr %s step %d/%d  loss %.4f%s  (%.0f s)",
                    self.lang,
                    step,
                    steps,
                    row["loss"],
                    f"  val cer {row['val_cer']:.4f} wer {row['val_wer']:.4f}" if "val_cer" in row else "",
                    row["seconds"],
                )
        if best is None:  # no validation split: the last weights
            best, best_step = copy.deepcopy(self.model.state_dict()), steps
        summary = {
            "train_seconds": round(time.perf_counter() - start, 1),
            "best_step": best_step,
            "final_loss": round(float(np.mean(losses[-every:])), 4),
        }
        if math.isfinite(best_cer):
            summary["val_cer"] = round(best_cer, 4)
        return best, summary


def _valid(clips: Clips) -> list[np.ndarray]:
    return [m[:, :n] for m, n in zip(clips.mel, clips.lengths)]


def evaluate(rec: CTCRecognizer, clips: Clips, seed: int = 0) -> dict:
    """WER/CER of the recogniser on ground-truth speech: the stored mel of each whole clip (as
    a wav of it would give) and the same through mel -> Griffin-Lim -> mel (the test path)."""
    lang = rec.lang
    mels = list(clips.mel)
    start = time.perf_counter()
    lps = rec.log_probs(mels)
    hyps = [rec.decode(lp) for lp in lps]
    seconds = time.perf_counter() - start
    greedy = [rec.decode(lp, "greedy") for lp in lps]
    start = time.perf_counter()
    gl_mels = resynthesise(clips.mel, rec.mel_cfg, seed)
    gl_seconds = time.perf_counter() - start
    gl_hyps = rec.transcribe_mels(gl_mels)
    errors = [(ref, hyp) for ref, hyp in zip(clips.texts, hyps) if ref != hyp]
    for ref, hyp in errors[:5]:
        log.info("asr %s test error: %r -> %r", lang, ref, hyp)
    return {
        "test_clips": len(clips),
        "wer": round(text.wer(clips.texts, hyps, lang), 5),
        "cer": round(text.cer(clips.texts, hyps, lang), 5),
        "wer_greedy": round(text.wer(clips.texts, greedy, lang), 5),
        "cer_greedy": round(text.cer(clips.texts, greedy, lang), 5),
        "wer_griffin_lim": round(text.wer(clips.texts, gl_hyps, lang), 5),
        "cer_griffin_lim": round(text.cer(clips.texts, gl_hyps, lang), 5),
        "decode_ms_per_clip": round(1000 * seconds / len(clips), 2),
        "griffin_lim_ms_per_clip": round(1000 * gl_seconds / len(clips), 1),
    }


def train(lang: str, params: config.Params | None = None, out: str | Path | None = None) -> dict:
    """Train the recogniser of `lang`; returns its metrics, with its WER/CER on ground truth.

    Writes asr.pt (best validation CER) and history.csv to `out`, by default models/asr/<lang>,
    where the metrics also go to reports/metrics/asr/<lang>.json (else out/metrics.json)."""
    params = params or config.load()
    params.source(lang)
    default = out is None
    out = Path(out) if out else paths.root() / "models" / "asr" / lang
    out.mkdir(parents=True, exist_ok=True)
    # the suite and a busy machine set OMP_NUM_THREADS; otherwise every core
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    trainer = AsrTrainer(lang, params)
    log.info(
        "asr %s: %d train clips, %d val, %d test; %d characters, %d lexicon words",
        lang,
        len(trainer.train),
        len(trainer.val) if trainer.val else 0,
        len(trainer.test),
        len(trainer.vocab),
        len(trainer.lexicon),
    )
    best, summary = trainer.fit(out / "history.csv")
    path = out / "asr.pt"
    tmp = path.with_name(path.name + ".tmp")
    torch.save(trainer.checkpoint(best, {"trained": summary}), tmp)
    os.replace(tmp, path)  # atomic: a kill during torch.save leaves the old file whole
    rec = CTCRecognizer.load(path, params.asr.decoding, params.asr.beam)
    metrics = {
        "lang": lang,
        "train_clips": len(trainer.train),
        "characters": len(trainer.vocab),
        "lexicon_words": len(trainer.lexicon),
        "decoding": params.asr.decoding,
        **summary,
        **evaluate(rec, trainer.test, params.asr.seed),
    }
    log.info(
        "asr %s: test WER %.4f CER %.4f; through Griffin-Lim WER %.4f CER %.4f",
        lang,
        metrics["wer"],
        metrics["cer"],
        metrics["wer_griffin_lim"],
        metrics["cer_griffin_lim"],
    )
    if default:
        paths.write_metrics("asr", lang, metrics)
    else:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return metrics
