"""Multi-head visual-audio memory (Kim, Yeo, Ro, "Distinguishing Homophenes using Multi-head
Visual-audio Memory for Lip Reading", AAAI 2022): an option of the lip reader
(`ModelConfig.memory_slots` > 0). Our own implementation; how it differs from the authors'
is said below.

The lips do not show everything that is said, and several sounds share one lip shape
(homophenes). The memory learns, from paired video and speech, which sounds go with which
lip movements, and at inference recalls them from the video alone:

    value memory  V  [S,C]    S slots of audio representations
    key memories  K_h [S,C]   one per head h = 1..H, addressed by visual features
    address(q, M) = softmax(SCALE * cos(q, M_s) over the slots s)

    training (the clip's ground-truth unit mel is at hand)
        a_t   = AudioEncoder(mel)_t                 one audio feature per video frame
        alpha = address(a_t, V), a^_t = alpha V     the audio addresses the value memory
        beta_h = address(W_h c_t, K_h)              each head's visual address
        r_h   = beta_h V                            each head's recalled audio feature
    inference (video alone)
        c'_t  = c_t + Fuse([c_t, r_1, ..., r_H])    residual fusion into the visual context

Level: the memory reads at one temporal level, the visual context (the BiGRU output after
its projection, [B,T,C]). The authors read at several levels, before and inside their
temporal back-end, so that the context decides among the candidate sounds; our back-end is a single BiGRU whose
output already carries the whole sentence, and it is the one tensor that both the CTC
head (`Generator.reader`) and the decoder's attention read, so one read there reaches
every consumer at the least cost. The per-frame features stay as they were: the sync
loss compares them with the audio and the decoder tiles them.

Losses (each a mean over valid frames; padded frames enter none of them):
    reconstruction  1 - cos(a^_t, a_t): the value memory must be able to hold the audio
    alignment       KL(alpha || beta_h): a head's visual address agrees with the audio's
    recall          1 - cos(r_h, a_t): what a head recalls is the frame's audio feature
    audio CTC       the audio features read the clip's phonemes with their own linear CTC
                    head (`audio_logits`; the trainer computes it, having the labels)

The audio leads: alignment and recall see alpha and a_t detached, so their gradients reach
the visual path (query, keys) and the value slots, not the audio encoder or its address.
They reach the audio only indirectly, through the slots that reconstruction then pulls the
audio features towards. Nothing in the three memory losses stops the audio encoder from
collapsing to one constant feature (all three are then trivially zero), because
reconstruction's target, the audio feature, is not detached; the audio CTC gives the audio
path a task of its own that a constant cannot solve, and keeps the visual head's weights
learning from the video alone.

Compared with the authors' published code (github.com/ms-dot-k/Multi-head-Visual-Audio-Memory;
the paper's method section was not at hand, so this is the reference we checked against):
- Their keys learn from the task loss alone: the visual recall reads the value memory
  detached, and there is no alignment or recall loss (those two are ours, after the
  single-head visual-audio memory of the same group). Their value memory learns from the
  reconstruction of the (detached, linearly embedded) audio feature, a loss that keeps its
  slots apart (|I - V V^T| over the unit slots), and a second pass of the network in which
  the audio's own reconstruction replaces the recall and gets the task loss. We have no
  second pass; the audio CTC head stands in for it.
- They split one query projection into H heads of C/H dimensions (8 heads, 112 slots,
  C = 512); ours gives every head a full C-dimensional query and keys (4 heads, 64 slots).
- They fuse with layer norms and dropout (norm(query + norm(Linear(recalls)))); ours is the
  zero-initialised residual below.
- They read at four temporal levels, each with a memory of its own: the front-end's
  output and after three of the four blocks of their temporal network.
Ours is measured (README, Faces that move), not theirs; their recipe is the next thing to
try against it.

Heads: H candidate sounds per lip shape (the one-to-many viseme-to-phoneme mapping). If
every head were pulled towards the audio's address they would all learn the same one, so
alignment and recall train mostly the head that is already closest to the audio on that
frame (relaxed winner-takes-all: weight 1 - HEAD_SPREAD on it, HEAD_SPREAD shared by all
heads so that no head stops learning). The fusion then sees every head's candidate beside
the sentence context and learns which to trust.

The fusion's output layer starts at zero: a model with a memory starts as the same
function as one without, and the memory's contribution grows as it becomes useful.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2s.vcagan.presets import ModelConfig

SCALE = 16.0  # inverse temperature of the addressing softmax over cosine similarities
HEAD_SPREAD = 0.1  # share of the alignment and recall losses spread over all heads


@dataclass
class MemoryOutput:
    """What the memory gives in training: its losses and the audio path's phoneme logits."""

    losses: dict[str, Tensor]  # "reconstruction", "alignment", "recall": scalars
    audio_logits: Tensor  # [B,T,phonemes] of the audio features (class 0: CTC blank)


def address(query: Tensor, memory: Tensor) -> Tensor:
    """Log-addresses: log softmax over the slots of SCALE * cosine similarity.

    query [..., C], memory [S,C] -> [..., S]. Cosine similarity makes the address depend on
    directions only, so neither a feature's nor a slot's size can take over the softmax."""
    cos = F.normalize(query.float(), dim=-1) @ F.normalize(memory.float(), dim=-1).T
    return (SCALE * cos).log_softmax(-1)


def _masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of x [B,T] over the True entries of mask [B,T] (0 when there are none)."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1)


class AudioEncoder(nn.Module):
    """Unit mel [B,1,n_mels,4T] -> one audio feature per video frame [B,T,C].

    As SyncNet's audio side: two stride-2 convs turn 4 mel frames into one step, a linear
    layer maps all rows to the feature; then a 3-frame temporal conv (residual) gives each
    frame its neighbours (a phoneme spans several frames). No batch norm: its batch
    statistics would pool padded frames."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, c1 = cfg.sync_channels
        self.convs = nn.Sequential(
            nn.Conv2d(1, c0, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(c0, c1, 3, 2, 1), nn.LeakyReLU(0.2)
        )
        self.proj = nn.Linear(c1 * cfg.rows, cfg.context_dim)
        self.temporal = nn.Conv1d(cfg.context_dim, cfg.context_dim, 3, 1, 1)

    def forward(self, mel_unit: Tensor, valid: Tensor) -> Tensor:
        """mel_unit [B,n_mels,4T] or [B,1,n_mels,4T], valid bool [B,T] -> [B,T,C], zero on padded frames."""
        mel = mel_unit if mel_unit.dim() == 4 else mel_unit.unsqueeze(1)
        keep = valid.to(mel.dtype)
        # silence the mel beyond each clip: the convs would otherwise carry it into valid frames
        mel = mel * keep.repeat_interleave(mel.shape[-1] // valid.shape[1], dim=1)[:, None, None, :]
        a = self.convs(mel.contiguous(memory_format=torch.channels_last))  # [B,c1,rows,T]
        a = self.proj(a.flatten(1, 2).transpose(1, 2)) * keep[:, :, None]  # [B,T,C]
        a = a + self.temporal(a.transpose(1, 2)).transpose(1, 2)
        return a * keep[:, :, None]


class VisualAudioMemory(nn.Module):
    """Multi-head key memories, one value memory of audio, the audio encoder and the fusion.

    forward(context, valid) recalls audio from the visual context alone and returns the
    fused context; given the clip's unit mel it also returns the memory's losses."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if not cfg.memory_slots:
            raise ValueError("VisualAudioMemory needs model.memory_slots > 0")
        if not cfg.phonemes:
            raise ValueError("model.memory_slots: the memory needs the lip-reading head (phonemes > 0)")
        c, s, h = cfg.context_dim, cfg.memory_slots, cfg.memory_heads
        self.heads = h
        # random unit-scale slots: cosine addressing ignores their size, and distinct
        # directions give every slot its own share of the first addresses
        self.keys = nn.Parameter(torch.randn(h, s, c))
        self.values = nn.Parameter(torch.randn(s, c))
        self.query = nn.Linear(c, h * c)  # one query projection per head
        self.fuse = nn.Linear((1 + h) * c, c)
        nn.init.zeros_(self.fuse.weight)
        nn.init.zeros_(self.fuse.bias)
        self.audio = AudioEncoder(cfg)
        self.audio_reader = nn.Linear(c, cfg.phonemes)

    def recall(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """context [B,T,C] -> (log visual addresses [B,T,H,S], recalled audio [B,T,H,C])."""
        b, t, c = context.shape
        queries = self.query(context).view(b, t, self.heads, c)
        log_beta = torch.stack([address(queries[:, :, i], self.keys[i]) for i in range(self.heads)], dim=2)
        recalled = log_beta.exp() @ self.values.float()
        return log_beta, recalled

    def forward(
        self, context: Tensor, valid: Tensor, mel_unit: Tensor | None = None
    ) -> tuple[Tensor, MemoryOutput | None]:
        """context [B,T,C] (zero on padded frames), valid bool [B,T], mel_unit [B,n_mels,4T]
        (training only) -> (fused context [B,T,C], zero on padded frames; MemoryOutput or None)."""
        keep = valid[:, :, None].to(context.dtype)
        log_beta, recalled = self.recall(context)
        candidates = recalled.to(context.dtype).flatten(2)  # [B,T,H*C]
        fused = (context + self.fuse(torch.cat([context, candidates], dim=-1))) * keep
        if mel_unit is None:
            return fused, None

        audio = self.audio(mel_unit.to(context.dtype), valid)  # [B,T,C]
        log_alpha = address(audio, self.values)  # [B,T,S]
        rebuilt = log_alpha.exp() @ self.values.float()
        reconstruction = _masked_mean(1 - F.cosine_similarity(rebuilt, audio.float(), dim=-1), valid)

        alpha, target = log_alpha.detach().exp(), audio.detach().float()  # the audio teaches
        kl = (alpha[:, :, None] * (log_alpha.detach()[:, :, None] - log_beta)).sum(-1)  # [B,T,H]
        miss = 1 - F.cosine_similarity(recalled, target[:, :, None], dim=-1)  # [B,T,H]
        # relaxed winner-takes-all over the heads: mostly the one closest to the audio learns
        closest = F.one_hot((kl + miss).detach().argmin(-1), self.heads).to(kl.dtype)
        weights = (1 - HEAD_SPREAD) * closest + HEAD_SPREAD / self.heads
        losses = {
            "reconstruction": reconstruction,
            "alignment": _masked_mean((weights * kl).sum(-1), valid),
            "recall": _masked_mean((weights * miss).sum(-1), valid),
        }
        return fused, MemoryOutput(losses, self.audio_reader(audio))
