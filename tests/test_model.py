"""VCA-GAN model and losses: published sizes, shapes, padding masks, losses, presets."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from l2s.config import ConfigError
from l2s.data.features import mel_to_unit, unit_to_mel
from l2s.vcagan import losses
from l2s.vcagan.model import (
    ContextAttention,
    Discriminators,
    Generator,
    GeneratorOutput,
    SyncNet,
    channels_last,
    count_parameters,
    length_mask,
    mel_scales,
    normalise_frames,
)
from l2s.vcagan.presets import PRESETS, model_config

# the paper's counts (VCA-GAN, NeurIPS 2021) and its generator cost on a 3 s clip
PAPER_GENERATOR_PARAMS = 51.8e6
PAPER_CRITIC_PARAMS = 50.1e6  # three discriminators + sync network
PAPER_GFLOP_3S = 178.0


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def paper():
    torch.manual_seed(0)
    cfg = model_config("paper")
    return cfg, Generator(cfg).eval(), Discriminators(cfg).eval(), SyncNet(cfg).eval()


def _frames(b: int, t: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return normalise_frames(torch.randint(0, 256, (b, t, 112, 112), dtype=torch.uint8, generator=g))


def _check_shapes(cfg, out: GeneratorOutput, b: int, t: int) -> None:
    assert [tuple(m.shape) for m in out.mels] == [(b, 1, 20, t), (b, 1, 40, 2 * t), (b, 1, 80, 4 * t)]
    assert tuple(out.linear.shape) == (b, 1, 321, 4 * t)
    assert tuple(out.frame_features.shape) == (b, t, cfg.feature_dim)
    assert tuple(out.context.shape) == (b, t, cfg.context_dim)
    for m in out.mels:  # tanh heads
        assert m.abs().max() <= 1


# --------------------------------------------------------------------------- paper preset


def test_paper_parameter_counts(paper):
    cfg, gen, disc, sync = paper
    assert cfg.feature_dim == 512 and cfg.context_dim == 512
    n_gen = count_parameters(gen)
    n_critic = count_parameters(disc) + count_parameters(sync)
    assert abs(n_gen / PAPER_GENERATOR_PARAMS - 1) < 0.02, n_gen
    assert abs(n_critic / PAPER_CRITIC_PARAMS - 1) < 0.02, n_critic


def test_paper_window_shapes(paper):
    cfg, gen, disc, sync = paper
    lengths = torch.tensor([40, 31])
    with torch.no_grad():
        out = gen(_frames(2, 40), lengths)
        _check_shapes(cfg, out, 2, 40)
        for u, c in disc(out.mels, out.context, lengths):
            assert u.shape == (2, 1) and c.shape == (2, 1)
        v, a = sync(out.frame_features, out.mels[-1])
    assert v.shape == a.shape == (2, 40, 512)


def test_paper_clip_shapes_and_flops(paper):
    """A 3 s clip (75 frames) through the generator: the published shapes and ~178 GFLOP."""
    cfg, gen, _, _ = paper
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = gen(_frames(1, 75), torch.tensor([75]))
    _check_shapes(cfg, out, 1, 75)
    gflop = counter.get_total_flops() / 1e9  # the counter reports 2 x multiply-adds
    assert abs(gflop / PAPER_GFLOP_3S - 1) < 0.10, gflop


# --------------------------------------------------------------------------- demo preset


def test_demo_shapes_and_size():
    cfg = model_config("demo")
    gen, disc, sync = Generator(cfg).eval(), Discriminators(cfg).eval(), SyncNet(cfg).eval()
    assert count_parameters(gen) < 1e6
    assert count_parameters(disc) + count_parameters(sync) < 1e6
    lengths = torch.tensor([40, 25])
    with torch.no_grad():
        out = gen(_frames(2, 40), lengths)
        _check_shapes(cfg, out, 2, 40)
        assert all(u.shape == c.shape == (2, 1) for u, c in disc(out.mels, out.context, lengths))
        v, a = sync(out.frame_features, out.mels[-1].squeeze(1))  # [B,80,4T] works too
    assert v.shape == a.shape == (2, 40, cfg.sync_dim)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        gen(_frames(1, 75), torch.tensor([75]))
    assert counter.get_total_flops() < 3e9  # ~2.5 GFLOP per 3 s clip


def test_demo_short_window():
    """Windows down to a few frames pass the discriminators (their last conv pads time)."""
    cfg = model_config("demo")
    gen, disc = Generator(cfg).eval(), Discriminators(cfg).eval()
    with torch.no_grad():
        out = gen(_frames(1, 8), torch.tensor([8]))
        assert all(torch.isfinite(u).all() and torch.isfinite(c).all() for u, c in disc(out.mels, out.context))


# --------------------------------------------------------------------------- padding masks


@pytest.mark.parametrize(
    "recipe",
    [
        {},
        {"phonemes": 12, "reader_to_decoder": True, "posterior_channels": 8},
        {"phonemes": 12, "temporal_blocks": 2, "standardise_frames": True, "crop_margin": 4},
    ],
    ids=["plain", "posteriors", "lip-reading front-end"],
)
def test_padded_frames_do_not_reach_valid_outputs(recipe):
    """What frames beyond `lengths` hold changes nothing: context, features, mels, linear
    (also through the lip-reading head's posteriors and their temporal encoder)."""
    torch.manual_seed(0)
    cfg = model_config("demo", recipe, internal=True)
    gen = Generator(cfg).eval()
    lengths = torch.tensor([12, 20])
    frames = _frames(2, 20)
    other = frames.clone()
    other[0, 12:] = _frames(1, 8, seed=5)[0]
    noise = torch.randn(2, cfg.noise_channels, cfg.rows, 20)
    with torch.no_grad():
        a, b = gen(frames, lengths, noise=noise), gen(other, lengths, noise=noise)
    assert torch.equal(a.context, b.context)
    assert torch.equal(a.frame_features, b.frame_features)
    for x, y in zip(a.mels + [a.linear], b.mels + [b.linear]):
        assert torch.equal(x, y)
    assert a.context[0, 12:].abs().max() == 0  # padded steps are zero


def test_context_matches_the_unpadded_clip():
    """A short clip in a padded batch gets the context it gets alone (packed BiGRU, masked stem)."""
    torch.manual_seed(0)
    gen = Generator(model_config("demo")).eval()
    frames = _frames(2, 20)
    with torch.no_grad():
        batch = gen(frames, torch.tensor([12, 20]))
        alone = gen(frames[:1, :12], torch.tensor([12]))
    torch.testing.assert_close(batch.context[0, :12], alone.context[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(batch.frame_features[0, :12], alone.frame_features[0], rtol=1e-4, atol=1e-5)


def test_attention_ignores_padded_context():
    torch.manual_seed(0)
    att = ContextAttention(channels=4, rows=5, context_dim=6, dim=8, out_channels=3)
    speech = torch.randn(2, 4, 5, 14)
    context = torch.randn(2, 7, 6)
    valid = length_mask(torch.tensor([3, 7]), 7)
    changed = context.clone()
    changed[0, 3:] = 100 * torch.randn(4, 6)
    out = att(speech, context, valid)
    assert out.shape == (2, 3, 5, 14)
    torch.testing.assert_close(out, att(speech, changed, valid), rtol=0, atol=0)
    assert not torch.allclose(out[0], att(speech, changed, torch.ones_like(valid))[0])


# --------------------------------------------------------------------------- losses


def _demo_step_parts(languages: int = 0):
    torch.manual_seed(0)
    cfg = model_config("demo", {"languages": languages}, internal=True)
    gen, disc, sync = Generator(cfg), Discriminators(cfg), SyncNet(cfg)
    b, t = 2, 12
    lengths = torch.tensor([12, 9])
    mel = mel_to_unit(torch.log(torch.rand(b, 80, 4 * t).clamp(min=1e-5)))
    linear = torch.rand(b, 321, 4 * t)
    return cfg, gen, disc, sync, lengths, mel, linear


def _grad_norm(module: torch.nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def test_losses_are_finite_and_have_gradients():
    cfg, gen, disc, sync, lengths, mel, linear = _demo_step_parts()
    out = gen(_frames(2, 12), lengths)

    real = [m.requires_grad_() for m in mel_scales(mel)]
    d_real = disc(real, out.context.detach(), lengths)
    d_fake = disc([m.detach() for m in out.mels], out.context.detach(), lengths)
    d_loss = losses.discriminator_adversarial(d_real, d_fake)
    r1 = losses.r1_penalty([u for u, _ in d_real], real)
    v, a = sync(out.frame_features, mel)
    nce = losses.sync_infonce(v, a, lengths, temperature=0.5)
    for name, loss in {"d": d_loss, "r1": r1, "nce": nce}.items():
        assert torch.isfinite(loss) and loss.dim() == 0, name
    assert r1 > 0
    (d_loss + r1 + nce).backward(retain_graph=True)
    assert _grad_norm(disc) > 0 and _grad_norm(sync) > 0
    assert _grad_norm(gen.frontend) > 0  # the sync loss trains the visual front-end too

    for m in (gen, disc, sync):
        m.zero_grad()
    g_adv = losses.generator_adversarial(disc(out.mels, out.context, lengths))
    v2, a2 = sync(out.frame_features.detach(), out.mels[-1])
    g_sync = losses.sync_generator(v2, a2, lengths)
    rec = losses.reconstruction(out, mel, linear, lengths)
    for name, loss in {"adv": g_adv, "gsync": g_sync, "rec": rec}.items():
        assert torch.isfinite(loss) and loss.dim() == 0, name
    (g_adv + g_sync + 50 * rec).backward()
    for part in (gen.frontend, gen.decoder, gen.postnet):
        assert _grad_norm(part) > 0
        assert all(torch.isfinite(p.grad).all() for p in part.parameters() if p.grad is not None)


def test_adversarial_losses_are_non_saturating():
    big = [(torch.full((2, 1), 10.0), torch.full((2, 1), 10.0))] * 3
    small = [(torch.full((2, 1), -10.0), torch.full((2, 1), -10.0))] * 3
    assert losses.generator_adversarial(big) < 1e-3  # fooled D: no loss
    assert losses.discriminator_adversarial(big, small) < 1e-3  # perfect D
    assert math.isclose(float(losses.generator_adversarial(small)), 2 * 10.0, rel_tol=1e-3)


def test_sync_infonce_rewards_alignment_and_masks_padding():
    torch.manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(2, 10, 16), dim=-1)
    lengths = torch.tensor([10, 6])
    aligned = losses.sync_infonce(emb, emb, lengths, temperature=0.1)
    shifted = losses.sync_infonce(emb, emb.roll(1, dims=1), lengths, temperature=0.1)
    assert aligned < 0.1 < shifted
    # padded steps of the second clip neither count nor serve as negatives
    noisy = emb.clone()
    noisy[1, 6:] = emb[1, :4]
    assert torch.allclose(losses.sync_infonce(noisy, noisy, lengths, 0.1), aligned)
    v = emb.clone().requires_grad_()
    losses.sync_infonce(v, emb, lengths, 0.1).backward()
    assert torch.isfinite(v.grad).all() and v.grad[1, 6:].abs().max() == 0
    assert losses.sync_generator(emb, emb, lengths) < 1e-6


def test_reconstruction_is_zero_for_targets_and_masks_padding():
    torch.manual_seed(0)
    b, t = 2, 6
    mel = torch.rand(b, 80, 4 * t) * 2 - 1
    linear = torch.rand(b, 321, 4 * t)
    lengths = torch.tensor([6, 4])
    perfect = GeneratorOutput(mels=mel_scales(mel), linear=linear[:, None], frame_features=None, context=None)
    assert float(losses.reconstruction(perfect, mel, linear, lengths)) < 1e-6
    noisy_pad = mel.clone()
    noisy_pad[1, :, 16:] = 5.0
    lin_pad = linear.clone()
    lin_pad[1, :, 16:] = 100.0
    assert float(losses.reconstruction(perfect, noisy_pad, lin_pad, lengths)) < 1e-6
    off = GeneratorOutput(
        mels=[m + 0.1 for m in mel_scales(mel)], linear=linear[:, None], frame_features=None, context=None
    )
    # 0.1 in unit space is 0.1 x 5.756 in natural-log mel
    assert math.isclose(float(losses.reconstruction(off, mel, linear, lengths)), 0.5756, rel_tol=1e-3)


# --------------------------------------------------------------------------- language embedding


def test_language_embedding_on_and_off():
    torch.manual_seed(0)
    frames, lengths = _frames(2, 10), torch.tensor([10, 10])
    plain = Generator(model_config("demo")).eval()
    assert plain.frontend.language is None
    with pytest.raises(ValueError, match="no language embedding"):
        plain(frames, lengths, language=torch.tensor([0, 1]))

    multi = Generator(model_config("demo", {"languages": 3}, internal=True)).eval()
    assert count_parameters(multi) == count_parameters(plain) + 3 * multi.cfg.feature_dim
    noise = torch.randn(2, multi.cfg.noise_channels, multi.cfg.rows, 10)
    with torch.no_grad():
        # starts language-neutral (zero vectors), then the language steers context and speech
        a = multi(frames, lengths, torch.tensor([0, 0]), noise)
        assert torch.equal(a.context, multi(frames, lengths, torch.tensor([2, 1]), noise).context)
        # no language (one the model never saw): no vector at all
        assert torch.equal(a.context, multi(frames, lengths, None, noise).context)
        multi.frontend.language.weight.normal_()
        b = multi(frames, lengths, torch.tensor([0, 0]), noise)
        c = multi(frames, lengths, torch.tensor([2, 0]), noise)
    assert torch.equal(b.frame_features, c.frame_features)  # the sync loss sees pure visual features
    assert not torch.allclose(b.context[0], c.context[0]) and torch.equal(b.context[1], c.context[1])
    assert not torch.allclose(b.mels[-1][0], c.mels[-1][0])


# --------------------------------------------------------------------------- configuration


def test_presets_and_overrides():
    assert set(PRESETS) >= {"paper", "demo"}
    paper, demo = model_config("paper"), model_config("demo")
    assert paper.preset == "paper" and demo.preset == "demo"
    cfg = model_config("demo", {"scale_channels": [16, 8, 4], "languages": 2}, internal=True)  # YAML lists
    assert cfg.scale_channels == (16, 8, 4) and cfg.languages == 2 and cfg.kernel == demo.kernel
    gen = Generator(cfg).eval()
    with torch.no_grad():
        out = gen(_frames(1, 6), torch.tensor([6]), torch.tensor([1]))
    assert out.mels[-1].shape == (1, 1, 80, 24)


def test_unknown_preset_and_key():
    with pytest.raises(ConfigError, match="'huge'.*paper.*demo"):
        model_config("huge")
    with pytest.raises(ConfigError, match="model.widht: unknown.*scale_channels"):
        model_config("demo", {"widht": 3})
    with pytest.raises(ConfigError, match="model.scale_channels"):
        model_config("demo", {"scale_channels": [16, 8]})
    # the training recipe sets these, params may not
    with pytest.raises(ConfigError, match="model.phonemes: unknown"):
        model_config("demo", {"phonemes": 40})


def test_lip_reading_head_and_posteriors_to_the_decoder():
    cfg = model_config("demo", {"phonemes": 12, "reader_to_decoder": True}, internal=True)
    gen = Generator(cfg).eval()
    with torch.no_grad():
        out = gen(_frames(2, 6), torch.tensor([6, 4]))
    assert out.phoneme_logits.shape == (2, 6, 12) and out.mels[-1].shape == (2, 1, 80, 24)
    assert Generator(model_config("demo")).reader is None
    encoded = Generator(
        model_config("demo", {"phonemes": 12, "reader_to_decoder": True, "posterior_channels": 4}, internal=True)
    )
    assert (
        encoded.posterior_encoder[0].in_channels == 12
        and encoded.decoder.bottleneck[0].conv1.in_channels == 64 + 16 + 4
    )
    with pytest.raises(ConfigError, match="reader_to_decoder"):
        model_config("demo", {"reader_to_decoder": True}, internal=True)
    with pytest.raises(ConfigError, match="model.kernel"):
        model_config("paper", {"kernel": 0})


# --------------------------------------------------------------------------- helpers


def test_mel_unit_mapping_and_frames():
    log_mel = torch.tensor([math.log(1e-5), 0.0, -3.0])
    unit = mel_to_unit(log_mel)
    torch.testing.assert_close(unit[:2], torch.tensor([-1.0, 1.0]))
    torch.testing.assert_close(unit_to_mel(unit), log_mel)
    x = normalise_frames(torch.tensor([[0, 255]], dtype=torch.uint8))
    torch.testing.assert_close(x, torch.tensor([[-0.4136 / 0.17, 0.5864 / 0.17]]))
    scales = mel_scales(torch.arange(80 * 8, dtype=torch.float32).view(1, 80, 8))
    assert [tuple(s.shape) for s in scales] == [(1, 1, 20, 2), (1, 1, 40, 4), (1, 1, 80, 8)]


def test_channels_last_keeps_outputs():
    torch.manual_seed(0)
    gen = Generator(model_config("demo")).eval()
    frames, lengths = _frames(1, 8), torch.tensor([8])
    noise = torch.randn(1, gen.cfg.noise_channels, gen.cfg.rows, 8)
    with torch.no_grad():
        before = gen(frames, lengths, noise=noise).mels[-1]
        channels_last(gen)
        after = gen(frames, lengths, noise=noise).mels[-1]
    torch.testing.assert_close(before, after, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- lip-reading front-end options


def test_standardised_frames_ignore_brightness_and_contrast():
    """With standardise_frames, a clip under other light (gain and offset) reads the same."""
    torch.manual_seed(0)
    gen = Generator(model_config("demo", {"standardise_frames": True})).eval()
    frames = _frames(1, 10)
    lengths = torch.tensor([10])
    with torch.no_grad():
        a, b = gen(frames, lengths, read_only=True), gen(frames * 1.7 - 0.4, lengths, read_only=True)
    torch.testing.assert_close(a.context, b.context, rtol=1e-4, atol=1e-4)
    plain = Generator(model_config("demo")).eval()
    with torch.no_grad():
        c, d = plain(frames, lengths, read_only=True), plain(frames * 1.7 - 0.4, lengths, read_only=True)
    assert not torch.allclose(c.context, d.context, atol=1e-3)  # without it the light reaches the trunk


def test_crop_margin_takes_the_centre_at_inference_and_random_crops_in_training():
    torch.manual_seed(0)
    cropped = Generator(model_config("demo", {"crop_margin": 4}, internal=True))
    whole = Generator(model_config("demo"))
    whole.load_state_dict(cropped.state_dict())  # the same weights: the margin is no parameter
    frames, lengths = _frames(2, 8), torch.tensor([8, 8])
    cropped.eval(), whole.eval()
    with torch.no_grad():
        a = cropped(frames, lengths, read_only=True)
        b = whole(frames[..., 4:-4, 4:-4], lengths, read_only=True)
    assert torch.equal(a.context, b.context)
    cropped.train()
    seen = set()
    for seed in range(6):  # each clip its own place, drawn from torch's (seeded) RNG
        torch.manual_seed(seed)
        crops = cropped.frontend._crop(frames)
        assert crops.shape == (2, 8, 104, 104)
        for clip, crop in zip(frames, crops):
            at = [(y, x) for y in range(9) for x in range(9) if torch.equal(clip[..., y : y + 104, x : x + 104], crop)]
            assert len(at) == 1
            seen.add(at[0])
    assert len(seen) > 3
    torch.manual_seed(3)
    again = cropped.frontend._crop(frames)
    torch.manual_seed(3)
    assert torch.equal(again, cropped.frontend._crop(frames))


def test_front_end_option_values_are_checked():
    for bad in ({"crop_margin": -1}, {"temporal_blocks": 1.5}, {"standardise_frames": "yes"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            model_config("demo", bad, internal=True)
    with pytest.raises(ConfigError, match="crop_margin"):  # set by train.random_crop, not a size knob
        model_config("demo", {"crop_margin": 4})
