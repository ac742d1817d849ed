"""Speech to normalised text for the wer stage: `load_recognizer(lang)` returns ours
(`CTCRecognizer`, rebuilt from its checkpoint alone), or a faster-whisper model already on
disk (`WhisperRecognizer`, `asr.backend: faster-whisper`, never downloaded). Either
transcribes waveforms, audio files or mel .npz files."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from l2s import config, paths
from l2s.config import MelConfig
from l2s.data.features import LOG_MEL_MIN
from l2s.evaluation import text
from l2s.evaluation.asr.inputs import read_input, read_wave
from l2s.evaluation.asr.model import CTCModel, build_model
from l2s.evaluation.decoding import build_trie, greedy_decode, lexicon_decode, word_decode

FORMAT = "l2s-asr-ctc"  # checkpoint tag, so that another .pt is refused with a clear message
WHISPER_RATE = 16000  # Whisper listens at 16 kHz whatever the pipeline's rate


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
        # trained on isolated words (LRW): lexicon decoding picks one of them per clip
        self.isolated: bool = checkpoint.get("isolated_words", False)

    @classmethod
    def load(cls, path: str | Path, decoding: str = "lexicon", beam: int = 8) -> CTCRecognizer:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no speech recogniser at {path}")
        ck = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ck, dict) or ck.get("format") != FORMAT:
            raise ValueError(f"{path} is not an l2s CTC recogniser checkpoint")
        return cls(build_model(ck), ck, decoding, beam)

    def log_probs(self, mels: list[np.ndarray], batch: int = 32) -> list[np.ndarray]:
        """Per-step log-probabilities [steps, vocab + 1] of each log-mel [n_mels, frames]."""
        out = []
        with torch.no_grad():
            for i in range(0, len(mels), batch):
                chunk = mels[i : i + batch]
                lengths = torch.tensor([m.shape[-1] for m in chunk])
                x = torch.full((len(chunk), chunk[0].shape[0], int(lengths.max())), LOG_MEL_MIN)
                for j, m in enumerate(chunk):
                    x[j, :, : m.shape[-1]] = torch.from_numpy(np.asarray(m, dtype=np.float32))
                lp, steps = self.model(x, lengths)
                out += [lp[j, : steps[j]].numpy() for j in range(len(chunk))]
        return out

    def decode(self, log_probs: np.ndarray, decoding: str | None = None) -> str:
        if (decoding or self.decoding) == "greedy":
            return greedy_decode(log_probs, self.vocab)
        if self.isolated:
            return word_decode(log_probs, self.vocab, self.lexicon)
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
            from l2s.vcagan.vocoder import to_wave

            return to_wave(torch.from_numpy(read_input(path, self.mel_cfg)), self.mel_cfg)
        return read_wave(path, WHISPER_RATE)

    def transcribe(self, inputs: list[np.ndarray | str | Path]) -> list[str]:
        out = []
        for item in inputs:
            segments, _ = self.model.transcribe(self._wave(item), language=self.lang, beam_size=self.beam)
            out.append(text.normalise(" ".join(s.text for s in segments), self.lang))
        return out


def load_recognizer(lang: str, params: config.Params | None = None, second: bool = False) -> Recognizer:
    """The recogniser of `lang` that params.yaml `asr.backend` names (`second`: the second
    one, asr.second, always trained here)."""
    params = params or config.load()
    cfg = params.asr
    if cfg.backend == "faster-whisper" and not second:
        return WhisperRecognizer(lang, cfg.model_dir, beam=cfg.beam, mel_cfg=params.preprocess.mel)
    path = paths.asr_checkpoint(lang, second)
    if not path.exists():
        which = "second speech recogniser (asr.second)" if second else "speech recogniser"
        raise FileNotFoundError(f"no {which} for {lang!r} at {path}; run: dvc repro asr@{lang}")
    return CTCRecognizer.load(path, cfg.decoding, cfg.beam)
