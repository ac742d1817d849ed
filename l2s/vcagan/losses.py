"""VCA-GAN training losses: non-saturating GAN with R1, audio-visual sync, reconstruction.

Per-scale adversarial terms are averaged over the scales (the sum of both heads per
scale), as in the paper. Everything that looks along time masks out padded frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from l2s.config import MELS_PER_FRAME
from l2s.data.features import unit_to_mel
from l2s.vcagan.model import GeneratorOutput, length_mask, mel_scales

HeadOutputs = Sequence[tuple[Tensor, Tensor]]  # per scale: (unconditional logits, conditional logits)


def generator_adversarial(d_outs: HeadOutputs) -> Tensor:
    """Non-saturating generator loss: softplus(-D(fake)) on both heads, mean over scales."""
    return sum(F.softplus(-u).mean() + F.softplus(-c).mean() for u, c in d_outs) / len(d_outs)


def discriminator_adversarial(real_outs: HeadOutputs, fake_outs: HeadOutputs) -> Tensor:
    """Non-saturating discriminator loss: softplus(-D(real)) + softplus(D(fake)), both heads, mean over scales."""
    real = sum(F.softplus(-u).mean() + F.softplus(-c).mean() for u, c in real_outs)
    fake = sum(F.softplus(u).mean() + F.softplus(c).mean() for u, c in fake_outs)
    return (real + fake) / len(real_outs)


def r1_penalty(real_logits: Tensor | Sequence[Tensor], real_inputs: Tensor | Sequence[Tensor]) -> Tensor:
    """R1: E ||d D(real) / d real||^2, per sample summed over the input, mean over batch and scales.

    Give the unconditional real logits and the real mels they came from (which must require
    grad). The graph is kept so the penalty itself can be back-propagated.
    """
    logits = [real_logits] if isinstance(real_logits, Tensor) else list(real_logits)
    inputs = [real_inputs] if isinstance(real_inputs, Tensor) else list(real_inputs)
    grads = torch.autograd.grad([lg.sum() for lg in logits], inputs, create_graph=True)
    return sum(g.pow(2).flatten(1).sum(1).mean() for g in grads) / len(grads)


def sync_infonce(v_emb: Tensor, a_emb: Tensor, lengths: Tensor, temperature: float = 1.0) -> Tensor:
    """Symmetric InfoNCE within each clip: a frame's visual and audio embeddings are the
    positive pair, the clip's other valid frames the negatives.

    v_emb, a_emb [B,T,D]; lengths [B] valid frames. Mean over valid frames of the batch.
    """
    valid = length_mask(lengths, v_emb.shape[1])  # [B,T]
    sim = torch.bmm(F.normalize(v_emb, dim=-1), F.normalize(a_emb, dim=-1).transpose(1, 2)) / temperature
    sim = sim.float()
    pair = valid[:, :, None] & valid[:, None, :]
    # a large finite negative, not -inf: padded rows would be all -inf and give NaN gradients
    # even where their loss is masked out
    sim = sim.masked_fill(~pair, -1e9)
    diag = torch.diagonal(sim, dim1=1, dim2=2)  # [B,T]
    # log-softmax over audio (rows: a video frame) and over video (columns: an audio frame)
    v2a = diag - torch.logsumexp(sim, dim=2)
    a2v = diag - torch.logsumexp(sim, dim=1)
    nll = -(v2a + a2v) / 2
    return torch.where(valid, nll, torch.zeros_like(nll)).sum() / valid.sum().clamp(min=1)


def sync_generator(v_emb: Tensor, a_emb: Tensor, lengths: Tensor) -> Tensor:
    """Generator-side sync loss: 1 - cos(visual, audio of the generated mel), mean over valid frames.

    Pass visual embeddings of detached frame features: the generator is pushed to make speech
    that matches the lips, not the lips to match the speech.
    """
    valid = length_mask(lengths, v_emb.shape[1]).to(v_emb.dtype)
    cos = F.cosine_similarity(v_emb.float(), a_emb.float(), dim=-1)
    return ((1 - cos) * valid).sum() / valid.sum().clamp(min=1)


def _masked_l1(pred: Tensor, target: Tensor, lengths: Tensor, steps_per_frame: int) -> Tensor:
    """Mean |pred - target| over [B,F,t] where t < lengths * steps_per_frame."""
    valid = length_mask(lengths * steps_per_frame, pred.shape[-1]).to(pred.dtype)[:, None, :]  # [B,1,t]
    return ((pred - target).abs() * valid).sum() / (valid.sum() * pred.shape[-2]).clamp(min=1)


def reconstruction(out: GeneratorOutput, mel_target_unit: Tensor, linear_target: Tensor, lengths: Tensor) -> Tensor:
    """L1 on de-normalised (natural-log) mels, mean over the 3 scales, plus L1 on the linear spectrogram.

    mel_target_unit [B,80,4T] in [-1,1] (lower scales compare with its 2x2 and 4x4 averages);
    linear_target [B,321,4T] raw magnitude; lengths [B] valid video frames.
    """
    mel_loss = 0.0
    for pred, target in zip(out.mels, mel_scales(mel_target_unit)):
        steps = pred.shape[-1] // out.mels[0].shape[-1]  # time steps per video frame at this scale
        mel_loss = mel_loss + _masked_l1(unit_to_mel(pred[:, 0]), unit_to_mel(target[:, 0]), lengths, steps)
    linear = _masked_l1(out.linear[:, 0], linear_target, lengths, MELS_PER_FRAME)
    return mel_loss / len(out.mels) + linear


def lip_reading_ctc(logits: Tensor, lengths: Tensor, labels: Tensor, label_lengths: Tensor) -> Tensor:
    """CTC of the lip-reading head, mean over the clips that have phonemes (0 when none has).

    logits [B,T,C] (class 0: blank), lengths [B] valid frames, labels [B,L] inventory ids + 1
    padded with 0, label_lengths [B] (0: no transcript for this item). Each clip's loss is
    divided by its label length, as F.ctc_loss's mean does."""
    has = label_lengths > 0
    if not bool(has.any()):
        return 0.0 + logits.sum() * 0.0  # keeps the graph (DDP wants every parameter used); 0.0 + : not -0
    log_probs = logits[has].float().log_softmax(-1).transpose(0, 1)  # [T,B,C]
    return F.ctc_loss(
        log_probs, labels[has], lengths[has], label_lengths[has], blank=0, reduction="mean", zero_infinity=True
    )


def frame_phoneme_ce(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy of the lip-reading head against per-frame phoneme labels (classes as
    the head counts them; -100 where unknown); 0 when no frame has a label."""
    if not bool((labels >= 0).any()):
        return 0.0 + logits.sum() * 0.0
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)


def memory_losses(out: GeneratorOutput, lengths: Tensor, labels: Tensor, label_lengths: Tensor) -> dict[str, Tensor]:
    """The visual-audio memory's losses (l2s.vcagan.memory), by name: its reconstruction,
    alignment and recall losses, and the CTC of its audio features against the clip's
    phonemes (the audio path's own task, so that its features cannot collapse to one).
    Unweighted; the trainer weighs their sum by train.memory_weight."""
    if out.memory is None:
        raise ValueError("no memory losses: the generator has no memory, or was not given the mel (mel_unit)")
    audio_ctc = lip_reading_ctc(out.memory.audio_logits, lengths, labels, label_lengths)
    return {**out.memory.losses, "audio_ctc": audio_ctc}
