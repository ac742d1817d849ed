"""VCA-GAN: lip to speech with a visual context attentional GAN (Kim, Hong, Ro, NeurIPS 2021).

Our own implementation of the published architecture, sized by `ModelConfig`:

    frames uint8 [B,T,112,112] --normalise_frames--> VisualFrontEnd
        3D conv stem + ResNet-18 trunk -> per-frame features [B,T,512]
        2-layer BiGRU + linear         -> visual context    [B,T,512]
    MelDecoder: features tiled over 20 rows + N(0,1) noise -> residual blocks
        scale 0: 20 x T  --(context attention)--> scale 1: 40 x 2T --(context attention)--> scale 2: 80 x 4T
        a tanh mel head at every scale
    Postnet: 80-bin mel -> 321-bin linear magnitude
    Discriminators: one per scale, an unconditional and a context-conditioned head
    SyncNet: mel segments (4 mel frames = 1 video frame) and visual features in one embedding space

Padding: frames beyond `lengths` are blanked before the front-end, the BiGRU runs on packed
sequences, and attention never looks at padded context, so what padded frames hold cannot
change any output of the valid part (in eval mode; training-mode batch norm pools all frames).

Lip-reading head (`phonemes` > 0; beyond the paper): a linear CTC classifier over the shared
phoneme inventory on the visual context, trained with `train.ctc_weight` (the multi-task
objective of Kim, Hong, Ro, ICASSP 2023). With `reader_to_decoder` its posteriors also join
the decoder's input, so the decoder is told what is being said, not only how the lips move.

Language embedding (`languages` > 0): a learnt vector per language, added to the per-frame
visual features after they are returned as `frame_features` (the sync loss sees pure
visual features) and before the BiGRU and the decoder, so both the visual context and the
decoder input carry the language. It starts at zero: a new model begins language-neutral.

Visual-audio memory (`memory_slots` > 0; beyond VCA-GAN, l2s.vcagan.memory): audio
representations recalled from the visual context alone are fused into it, before the
lip-reading head and the decoder's attention; in training the clip's unit mel
(`mel_unit`) teaches the memory, and its losses come back in `GeneratorOutput.memory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2s.vcagan.memory import MemoryOutput, VisualAudioMemory
from l2s.vcagan.presets import ModelConfig

FRAME_MEAN = 0.4136  # grayscale mean and std of the authors' lip crops, pixel values in [0, 1]
FRAME_STD = 0.1700
SCALES = 3  # mel outputs at n_mels/4, n_mels/2 and n_mels rows


# --------------------------------------------------------------------------- data helpers


def normalise_frames(frames: Tensor) -> Tensor:
    """uint8 grayscale frames [..., H, W] -> float32 normalised with the authors' mean and std."""
    # one scale and one shift in place: a fifth of the lip-reading pre-training step went to
    # the four passes of (x / 255 - mean) / std over whole 75-frame clips
    return frames.float().mul_(1.0 / (255.0 * FRAME_STD)).sub_(FRAME_MEAN / FRAME_STD)


def mel_scales(mel_unit: Tensor) -> list[Tensor]:
    """Unit mel [B,80,4T] or [B,1,80,4T] -> the three scales [B,1,20,T], [B,1,40,2T], [B,1,80,4T].

    Lower scales are 4x4 and 2x2 averages: the targets of the lower generator heads and the
    real inputs of the lower discriminators.
    """
    mel = mel_unit if mel_unit.dim() == 4 else mel_unit.unsqueeze(1)
    return [F.avg_pool2d(mel, 4), F.avg_pool2d(mel, 2), mel]


def length_mask(lengths: Tensor, steps: int) -> Tensor:
    """[B] frame counts -> bool [B, steps], True where a step is a valid frame."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def _nhwc(x: Tensor) -> Tensor:
    """4D activations in channels-last layout.

    The 2D convs run on channels-last maps: on CPU, oneDNN is several times faster on them
    for narrow layers (a 3x3 8->8 conv trains 4x faster, a 1x1 conv to one channel 20x),
    and on GPU it is the layout tensor cores want. Results are the same up to rounding.
    """
    return x.contiguous(memory_format=torch.channels_last)


def channels_last(module: nn.Module) -> nn.Module:
    """Store the module's 4D weights channels-last (3D-conv weights stay as they are).

    `module.to(memory_format=torch.channels_last)` refuses the front-end's 5D stem weight;
    this converts what it can, in place. Optional: activations are channels-last anyway, and
    a conv converts a standard-layout weight on the fly.
    """
    for t in list(module.parameters()) + list(module.buffers()):
        if t.dim() == 4:
            t.data = t.data.contiguous(memory_format=torch.channels_last)
    return module


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of a module."""
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- building blocks


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs with batch norm); PReLU in the visual trunk."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, prelu: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act1 = nn.PReLU(c_out) if prelu else nn.ReLU()
        self.act2 = nn.PReLU(c_out) if prelu else nn.ReLU()
        self.skip = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(y + self.skip(x))


class TemporalBlock(nn.Module):
    """Residual temporal convolution over per-frame features [B,D,T]: conv (kernel 5), BN, PReLU."""

    def __init__(self, dim: int, kernel: int = 5):
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, 1, kernel // 2, bias=False)
        self.norm = nn.BatchNorm1d(dim)
        self.act = nn.PReLU(dim)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x [B,D,T], mask [B,1,T] (1 on valid frames): padded frames stay zero, so the
        valid frames near a clip's end see the same zeros whatever the padding."""
        return (x + self.act(self.norm(self.conv(x)))) * mask


class UpBlock(nn.Module):
    """Generator residual block: (BN, LeakyReLU, conv) x 2, optional nearest x2 up-sampling.

    The sum is scaled by 1/sqrt(2) to keep unit variance through the deep stack.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.norm1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2)
        self.norm2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel, 1, kernel // 2)
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()

    def _up(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest") if self.upsample else x

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv1(self._up(F.leaky_relu(self.norm1(x), 0.2)))
        y = self.conv2(F.leaky_relu(self.norm2(y), 0.2))
        # the 1x1 skip conv before the nearest up-sampling: the same map on a quarter of the positions
        return (y + self._up(self.skip(x))) / math.sqrt(2)


class DownBlock(nn.Module):
    """Discriminator residual block without normalisation, 2x2 average-pool down-sampling."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_in, kernel, 1, kernel // 2)
        self.conv2 = nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2)
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = F.avg_pool2d(self.conv1(F.leaky_relu(x, 0.2)), 2)
        y = self.conv2(F.leaky_relu(y, 0.2))
        # pooling before the 1x1 conv is the same map (both linear), on a quarter of the positions
        return (y + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


class ResBlock1d(nn.Module):
    """Postnet residual block over time: LeakyReLU, 5-tap convs, 1/sqrt(2) scaled sum."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_in, 5, 1, 2)
        self.conv2 = nn.Conv1d(c_in, c_out, 5, 1, 2)
        self.skip = nn.Conv1d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))
        return (y + self.skip(x)) / math.sqrt(2)


# --------------------------------------------------------------------------- visual front-end


class VisualFrontEnd(nn.Module):
    """Frames [B,T,H,W] -> per-frame features [B,T,D] and visual context [B,T,C].

    A 3D conv stem sees 5 neighbouring frames; a 2D ResNet trunk then embeds every frame on
    its own; the BiGRU over the valid frames gives each frame the context of the sentence.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        kt, kh, kw = cfg.stem_kernel
        self.stem = nn.Sequential(
            nn.Conv3d(
                1,
                cfg.stem_channels,
                cfg.stem_kernel,
                (1, cfg.stem_stride, cfg.stem_stride),
                (kt // 2, kh // 2, kw // 2),
                bias=False,
            ),
            nn.BatchNorm3d(cfg.stem_channels),
            nn.PReLU(cfg.stem_channels),
        )
        # a per-frame 3x3/2 max-pool: the same as a (1,3,3) 3D pool, and much faster on CPU
        self.pool = nn.MaxPool2d(3, 2, 1)
        layers, c_in = [], cfg.stem_channels
        for i, (c_out, blocks) in enumerate(zip(cfg.trunk_channels, cfg.trunk_blocks)):
            for b in range(blocks):
                layers.append(BasicBlock(c_in, c_out, stride=2 if i > 0 and b == 0 else 1))
                c_in = c_out
        self.trunk = nn.Sequential(*layers)
        self.temporal = nn.ModuleList(TemporalBlock(cfg.feature_dim) for _ in range(cfg.temporal_blocks))
        self.dropout = nn.Dropout(cfg.dropout)
        self.language = nn.Embedding(cfg.languages, cfg.feature_dim) if cfg.languages else None
        if self.language is not None:
            nn.init.zeros_(self.language.weight)
        self.gru = nn.GRU(
            cfg.feature_dim,
            cfg.context_hidden,
            cfg.context_layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.context_layers > 1 else 0.0,
        )
        self.context_proj = nn.Linear(2 * cfg.context_hidden, cfg.context_dim)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _crop(self, frames: Tensor) -> Tensor:
        """[B,T,H,W] -> [B,T,H-2m,W-2m] (m: crop_margin): the centre in eval mode; in training
        each clip's own crop, at a place drawn from torch's RNG (saved with the checkpoint)."""
        m = self.cfg.crop_margin
        if not m:
            return frames
        h, w = frames.shape[-2] - 2 * m, frames.shape[-1] - 2 * m
        if not self.training:
            return frames[..., m : m + h, m : m + w]
        ys, xs = torch.randint(0, 2 * m + 1, (2, frames.shape[0])).tolist()
        return torch.stack([f[..., y : y + h, x : x + w] for f, y, x in zip(frames, ys, xs)])

    def forward(self, frames: Tensor, lengths: Tensor, language: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Returns (frame_features [B,T,D], decoder_features [B,T,D], context [B,T,C]).

        decoder_features are frame_features plus the language embedding (when on).
        """
        b, t = frames.shape[:2]
        valid = length_mask(lengths, t)  # [B,T]
        frames = self._crop(frames)
        if self.cfg.standardise_frames:
            mean = frames.mean(dim=(2, 3), keepdim=True)
            frames = (frames - mean) / frames.std(dim=(2, 3), keepdim=True).clamp(min=1e-3)
        # blank padded frames: the stem's temporal kernel would otherwise carry them into valid frames
        x = (frames * valid[:, :, None, None].to(frames.dtype)).unsqueeze(1)  # [B,1,T,H,W]
        x = self.stem(x)  # [B,C,T,h,w]
        x = self.pool(_nhwc(x.transpose(1, 2).flatten(0, 1)))  # [B*T,C,h,w]
        x = self.trunk(x).mean(dim=(2, 3))  # global average pool -> [B*T,D]
        if len(self.temporal):
            mask = valid[:, None, :].to(x.dtype)
            y = x.view(b, t, -1).transpose(1, 2) * mask  # [B,D,T]
            for block in self.temporal:
                y = block(y, mask)
            x = y.transpose(1, 2).reshape(b * t, -1)
        feats = self.dropout(x).view(b, t, -1) * valid[:, :, None].to(x.dtype)
        dec = feats
        if self.language is not None and language is not None:
            # None on a model with an embedding: no language vector, as for a language it never saw
            dec = feats + self.language(language)[:, None, :] * valid[:, :, None].to(feats.dtype)
        elif language is not None:
            raise ValueError("this model has no language embedding (languages=0); pass language=None")
        # packed sequences: the backward GRU direction starts at each clip's last valid frame
        packed = nn.utils.rnn.pack_padded_sequence(dec, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
        context = self.context_proj(out) * valid[:, :, None].to(out.dtype)
        return feats, dec, context


# --------------------------------------------------------------------------- generator


class ContextAttention(nn.Module):
    """Visual context attention: each speech time step (all rows and channels) is a query,
    the visual context of every valid video frame is key and value.

    The attended context is projected back to `out_channels` x rows, a map the decoder
    concatenates with its own features.
    """

    def __init__(self, channels: int, rows: int, context_dim: int, dim: int, out_channels: int):
        super().__init__()
        self.query = nn.Linear(channels * rows, dim)
        self.key = nn.Linear(context_dim, dim)
        self.value = nn.Linear(context_dim, dim)
        self.out = nn.Linear(dim, out_channels * rows)
        self.out_channels, self.scale = out_channels, dim**-0.5
        self.keep_weights = False  # set to look at the attention afterwards (self.weights [B,t,S])
        self.weights: Tensor | None = None

    def forward(self, speech: Tensor, context: Tensor, valid: Tensor) -> Tensor:
        """speech [B,C,F,t], context [B,S,Cc], valid bool [B,S] -> [B,out_channels,F,t]."""
        b, c, f, t = speech.shape
        q = self.query(speech.permute(0, 3, 1, 2).reshape(b, t, c * f))  # [B,t,dim]
        scores = torch.bmm(q, self.key(context).transpose(1, 2)) * self.scale  # [B,t,S]
        scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
        weights = scores.softmax(dim=-1)
        if self.keep_weights:
            self.weights = weights.detach()
        attended = torch.bmm(weights, self.value(context))  # [B,t,dim]
        return self.out(attended).view(b, t, self.out_channels, f).permute(0, 2, 3, 1)


class MelDecoder(nn.Module):
    """Per-frame features + noise -> unit mels at three scales, with context attention between scales."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        k, c_in = cfg.kernel, cfg.feature_dim + cfg.noise_channels
        if cfg.reader_to_decoder:
            c_in += cfg.posterior_channels or cfg.phonemes
        bottleneck = []
        for c_out in cfg.bottleneck_channels:
            bottleneck.append(UpBlock(c_in, c_out, k))
            c_in = c_out
        self.bottleneck = nn.Sequential(*bottleneck)
        self.scales, self.heads = nn.ModuleList(), nn.ModuleList()
        self.attention, self.fuse = nn.ModuleList(), nn.ModuleList()
        for s, c_out in enumerate(cfg.scale_channels):
            blocks = [UpBlock(c_in, c_out, k, upsample=s > 0)]
            blocks += [UpBlock(c_out, c_out, k) for _ in range(cfg.blocks_per_scale - 1)]
            self.scales.append(nn.Sequential(*blocks))
            self.heads.append(
                nn.Sequential(nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2), nn.Conv2d(c_out, 1, 1), nn.Tanh())
            )
            if s < SCALES - 1:  # the attended context feeds the next, finer scale
                a = cfg.attention_channels[s]
                rows = cfg.rows * 2**s
                self.attention.append(ContextAttention(c_out, rows, cfg.context_dim, cfg.attention_dim, a))
                self.fuse.append(nn.Conv2d(c_out + a, c_out, k, 1, k // 2))
            c_in = c_out

    def forward(self, feats: Tensor, context: Tensor, valid: Tensor, noise: Tensor | None = None) -> list[Tensor]:
        """feats [B,T,D], context [B,T,C], valid [B,T] -> mels [B,1,20,T], [B,1,40,2T], [B,1,80,4T]."""
        b, t, _ = feats.shape
        if noise is None:
            noise = torch.randn(b, self.cfg.noise_channels, self.cfg.rows, t, device=feats.device, dtype=feats.dtype)
        x = feats.transpose(1, 2)[:, :, None, :].expand(-1, -1, self.cfg.rows, -1)  # tile over rows
        x = self.bottleneck(_nhwc(torch.cat([x, noise.to(feats.dtype)], dim=1)))
        mels = []
        for s, blocks in enumerate(self.scales):
            x = blocks(x)
            mels.append(self.heads[s](x))
            if s < SCALES - 1:
                x = self.fuse[s](torch.cat([x, self.attention[s](x, context, valid)], dim=1))
        return mels


class Postnet(nn.Module):
    """Unit mel [B,1,80,t] -> linear magnitude spectrogram [B,1,321,t] (1D convs over time)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, c1 = cfg.postnet_channels
        layers: list[nn.Module] = [nn.Conv1d(cfg.n_mels, c0, 7, 1, 3), nn.BatchNorm1d(c0), nn.LeakyReLU(0.2)]
        layers += [ResBlock1d(c0 if i == 0 else c1, c1) for i in range(cfg.postnet_blocks)]
        layers.append(nn.Conv1d(c1, cfg.n_linear, 1, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, mel: Tensor) -> Tensor:
        return self.net(mel.squeeze(1)).unsqueeze(1)


@dataclass
class GeneratorOutput:
    """What the generator gives: unit mels at 3 scales, linear spectrogram, visual features."""

    mels: list[Tensor]  # [B,1,20,T], [B,1,40,2T], [B,1,80,4T] in [-1, 1]
    linear: Tensor  # [B,1,321,4T]
    frame_features: Tensor  # [B,T,D], zero on padded frames
    context: Tensor  # [B,T,C], zero on padded frames
    phoneme_logits: Tensor | None = None  # [B,T,phonemes] of the lip-reading head (class 0: CTC blank)
    # the visual-audio memory's losses and audio logits: only with a memory and a mel_unit
    memory: MemoryOutput | None = None


class Generator(nn.Module):
    """The generator side of VCA-GAN: visual front-end, mel decoder and postnet."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.frontend = VisualFrontEnd(cfg)
        self.decoder = MelDecoder(cfg)
        self.postnet = Postnet(cfg)
        self.reader = nn.Linear(cfg.context_dim, cfg.phonemes) if cfg.phonemes else None
        # None without the option: no parameters, no state_dict keys, the same model as before
        self.memory = VisualAudioMemory(cfg) if cfg.memory_slots else None
        self.posterior_encoder = None
        if cfg.reader_to_decoder and cfg.posterior_channels:
            c = cfg.posterior_channels
            self.posterior_encoder = nn.Sequential(
                nn.Conv1d(cfg.phonemes, c, 5, 1, 2), nn.LeakyReLU(0.2), nn.Conv1d(c, c, 5, 1, 2), nn.LeakyReLU(0.2)
            )

    def forward(
        self,
        frames: Tensor,
        lengths: Tensor,
        language: Tensor | None = None,
        noise: Tensor | None = None,
        read_only: bool = False,
        mel_unit: Tensor | None = None,
    ) -> GeneratorOutput:
        """frames: normalised float [B,T,H,W]; lengths: valid frames [B]; language: index [B];
        noise: [B, noise_channels, n_mels/4, T], drawn from N(0,1) when None. `read_only`:
        the visual front-end and the lip-reading head alone (no mels), for lip-reading
        pre-training. mel_unit: the clip's unit mel [B,n_mels,4T], in training only, for the
        memory's losses (ignored without a memory; speech never needs it)."""
        feats, dec_feats, context = self.frontend(frames, lengths, language)
        valid = length_mask(lengths, frames.shape[1])
        memory = None
        if self.memory is not None:
            context, memory = self.memory(context, valid, mel_unit)
        logits = self.reader(context) if self.reader is not None else None
        if read_only:
            return GeneratorOutput([], None, feats, context, logits, memory)
        if self.cfg.reader_to_decoder:
            mask = valid[:, :, None].to(logits.dtype)
            posteriors = logits.softmax(-1) * mask
            if self.posterior_encoder is not None:
                posteriors = self.posterior_encoder(posteriors.transpose(1, 2)).transpose(1, 2) * mask
            dec_feats = torch.cat([dec_feats, posteriors.to(dec_feats.dtype)], dim=-1)
        mels = self.decoder(dec_feats, context, valid, noise)
        return GeneratorOutput(mels, self.postnet(mels[-1]), feats, context, logits, memory)


# --------------------------------------------------------------------------- discriminators


def _time_mask(lengths: Tensor | None, total: int, steps: int, like: Tensor) -> Tensor:
    """Weights [B,1,1,steps] for a mean over the valid part of a map down-sampled from `total` frames."""
    if lengths is None:
        return torch.ones(like.shape[0], 1, 1, steps, device=like.device, dtype=like.dtype)
    valid = torch.ceil(lengths.float() * steps / total).clamp(min=1)
    return (torch.arange(steps, device=like.device)[None, :] < valid[:, None]).to(like.dtype)[:, None, None, :]


class ScaleDiscriminator(nn.Module):
    """One scale: residual down-sampling to n_mels/16 rows, an unconditional head and a head
    conditioned on the clip's mean visual context."""

    def __init__(self, cfg: ModelConfig, scale: int):
        super().__init__()
        k, c = cfg.kernel, cfg.disc_channels
        blocks: list[nn.Module] = [nn.Conv2d(1, c, k, 1, k // 2)]
        for _ in range(scale + 2):  # every scale ends at n_mels/16 rows and a quarter of its time steps
            blocks.append(DownBlock(c, min(2 * c, cfg.disc_max_channels), k))
            c = min(2 * c, cfg.disc_max_channels)
        self.body = nn.Sequential(*blocks)
        rows = cfg.rows // 4
        # the last conv spans all remaining rows; it pads time so that short windows work
        self.uncond = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(c, c, (rows, k), 1, (0, k // 2)), nn.LeakyReLU(0.2))
        self.cond = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Conv2d(c + cfg.context_dim, c, k, 1, k // 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, c, (rows, k), 1, (0, k // 2)),
            nn.LeakyReLU(0.2),
        )
        self.uncond_out, self.cond_out = nn.Linear(c, 1), nn.Linear(c, 1)

    def forward(self, mel: Tensor, context: Tensor, frames: int, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        """mel [B,1,F,t], context [B,C] (pooled) -> (uncond logits [B,1], cond logits [B,1])."""
        h = self.body(_nhwc(mel))
        ctx = context[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        u, c = self.uncond(h), self.cond(torch.cat([h, ctx], dim=1))
        w = _time_mask(lengths, frames, u.shape[-1], u)
        pool = lambda z: (z * w).sum(dim=(2, 3)) / (w.sum(dim=(2, 3)) * z.shape[2])  # noqa: E731
        return self.uncond_out(pool(u)), self.cond_out(pool(c))


class Discriminators(nn.Module):
    """One discriminator per mel scale."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.nets = nn.ModuleList(ScaleDiscriminator(cfg, s) for s in range(SCALES))

    def forward(
        self, mels: list[Tensor], context: Tensor, lengths: Tensor | None = None
    ) -> list[tuple[Tensor, Tensor]]:
        """mels: the 3 scales [B,1,F,t]; context [B,T,C]; lengths: valid frames [B] (None: all valid).

        Returns (unconditional logits [B,1], conditional logits [B,1]) per scale.
        """
        t = context.shape[1]
        if lengths is None:
            pooled = context.mean(dim=1)
        else:
            w = length_mask(lengths, t).to(context.dtype)[:, :, None]
            pooled = (context * w).sum(dim=1) / w.sum(dim=1).clamp(min=1)
        return [net(mel, pooled, t, lengths) for net, mel in zip(self.nets, mels)]


# --------------------------------------------------------------------------- synchronisation


class SyncNet(nn.Module):
    """Audio-visual sync embeddings: one per video frame from its 4 mel frames, one from its visual feature.

    The audio encoder halves time and rows twice (4 mel frames -> 1 step), a residual block
    follows, and a linear layer maps all rows to the embedding. The visual side is the
    front-end's feature, through a linear projection only when its size differs from the
    embedding's (the paper compares them directly).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, c1 = cfg.sync_channels
        self.audio = nn.Sequential(
            nn.Conv2d(1, c0, 3, 2, 1),
            nn.BatchNorm2d(c0),
            nn.PReLU(c0),
            nn.Conv2d(c0, c1, 3, 2, 1),
            nn.BatchNorm2d(c1),
            nn.PReLU(c1),
            BasicBlock(c1, c1, prelu=False),
        )
        self.audio_proj = nn.Linear(c1 * cfg.rows, cfg.sync_dim)
        self.visual_proj = (
            nn.Linear(cfg.feature_dim, cfg.sync_dim) if cfg.feature_dim != cfg.sync_dim else nn.Identity()
        )

    def forward(self, frame_features: Tensor, mel80: Tensor) -> tuple[Tensor, Tensor]:
        """frame_features [B,T,D], unit mel [B,1,80,4T] or [B,80,4T] -> (v_emb [B,T,E], a_emb [B,T,E])."""
        mel = mel80 if mel80.dim() == 4 else mel80.unsqueeze(1)
        a = self.audio(_nhwc(mel))  # [B,c1,rows,T]
        a = self.audio_proj(a.flatten(1, 2).transpose(1, 2))  # [B,T,E]
        return self.visual_proj(frame_features), a
