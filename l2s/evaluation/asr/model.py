"""The recogniser's network: log-mel -> per-step character log-probabilities for CTC.

Log-mel scaled to [-1, 1] (`features.mel_to_unit`), masked past each clip's length; two
1-D convolutions (the second halves the time rate, to 50 steps/s) and a bidirectional GRU;
a linear layer over the characters of the normalised training transcripts plus the CTC
blank (index 0). SpecAugment masks regularise it.

Subsampling by 4 trained faster but dropped letters (a spelt letter and a space need steps
of their own), and a second GRU layer learnt far slower for the same time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2s.data.features import mel_to_unit
from l2s.vcagan.model import length_mask

SUBSAMPLE = 2  # time subsampling of the front-end: 100 mel frames/s -> 50 CTC steps/s


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
    """Frames past each clip's length set to -1, the unit value of silence (LOG_MEL_MIN): padding
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


def build_model(ck: dict) -> CTCModel:
    """The network a recogniser checkpoint describes, with its weights when it has them."""
    m = ck["model"]
    model = CTCModel(m["n_mels"], len(ck["vocab"]), m["hidden"], m["layers"], m["subsample"])
    if "state_dict" in ck:
        model.load_state_dict(ck["state_dict"])
    return model
