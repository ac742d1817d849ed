"""What a vocoder learns from: random stretches of recorded speech with their ln-mel."""

from __future__ import annotations

import numpy as np
import torch

from l2s.config import MELS_PER_FRAME, MelConfig
from l2s.data.dataset import ProcessedLanguage
from l2s.data.features import prepare


class SpeechSegments(torch.utils.data.Dataset):
    """`frames` mel frames of a clip's ln-mel (data/processed, as the generator learnt to make
    them) and the prepared waveform they were computed from (peak-normalised and
    pre-emphasised, l2s.data.features.prepare), `frames * hop` samples.

    Segments lie inside a clip's valid frames (not its padding). The position of item i in
    epoch e comes from a generator seeded by (seed, e, i), never the global RNG, so a
    resumed run draws what an uninterrupted one would."""

    def __init__(self, languages: list[ProcessedLanguage], split: str, frames: int, mel_cfg: MelConfig, seed: int = 0):
        self.languages, self.frames, self.mel_cfg = languages, frames, mel_cfg
        self.seed, self.epoch = seed, 0
        self.index = [(k, r) for k, d in enumerate(languages) for r in d.split(split)]
        longest = languages[0].mel.shape[-1]
        if frames > longest:
            raise ValueError(f"vocoder.segment_frames {frames} is longer than the clips ({longest} mel frames)")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        k, r = self.index[i]
        data = self.languages[k]
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_003 + i)
        valid = data.valid_frames(r) * MELS_PER_FRAME
        start = int(torch.randint(0, max(1, valid - self.frames + 1), (), generator=gen))
        start = min(start, data.mel.shape[-1] - self.frames)
        hop = self.mel_cfg.hop
        wave = prepare(data.wave(r), self.mel_cfg)[start * hop : (start + self.frames) * hop]
        mel = np.array(data.mel[r, :, start : start + self.frames], dtype=np.float32)
        return {"mel": torch.from_numpy(mel), "wave": torch.from_numpy(np.ascontiguousarray(wave))}
