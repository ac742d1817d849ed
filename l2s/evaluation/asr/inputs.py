"""What a recogniser listens to, as natural-log mel [n_mels, frames]: a 16 kHz waveform, an
audio file, or a mel .npz (as the VCA-GAN authors' --data option took wav or mel input)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from l2s.config import MelConfig
from l2s.data.features import log_mel
from l2s.vcagan.vocoder import to_waves


def read_input(item: np.ndarray | str | Path, mel_cfg: MelConfig) -> np.ndarray:
    """A recogniser input as natural-log mel [n_mels, frames]: a 16 kHz float waveform, a
    path to an audio file (.wav, .flac, ...; resampled when needed) or to a mel .npz."""
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

    out = []
    for i in range(0, len(mels), batch):
        waves = to_waves(torch.from_numpy(np.asarray(mels[i : i + batch], dtype=np.float32)), mel_cfg, seed=seed + i)
        out.extend(log_mel(wave, mel_cfg) for wave in waves)
    return out
