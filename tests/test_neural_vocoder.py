"""The neural vocoder: sizes and their checks, exact output length, discriminators, losses,
checkpoints that rebuild the vocoder alone, and the small preset learning one clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l2s.config import ConfigError, MelConfig
from l2s.data.features import log_mel, prepare
from l2s.vocoder import losses
from l2s.vocoder.discriminators import Discriminators
from l2s.vocoder.model import Vocoder, load_vocoder, vocoder_checkpoint
from l2s.vocoder.presets import PRESETS, vocoder_config

pytestmark = pytest.mark.usefixtures("one_thread")


def _glide(seconds: float = 0.75, sr: int = 16000) -> np.ndarray:
    """A voiced-looking clip: ten harmonics of a pitch gliding 120 -> 220 Hz, at a syllable rate."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(120 + 100 * t / t[-1]) / sr
    wave = sum(np.sin(k * phase) / k for k in range(1, 11)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def _ln_mel(b: int, frames: int, seed: int = 0) -> torch.Tensor:
    """Random ln-mels in the range the generator gives (ln 1e-5 = -11.5 up to about 0)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 80, frames, generator=g) * -11.5


# --------------------------------------------------------------------------- sizes


def test_full_preset_is_the_published_vocos_base_and_small_is_smaller():
    full, small = vocoder_config("full"), vocoder_config("small")
    assert (full.dim, full.intermediate, full.blocks, full.kernel) == (512, 1536, 8, 7)
    assert full.mpd_periods == (2, 3, 5, 7, 11) and full.mpd_channels == (32, 128, 512, 1024, 1024)
    assert small.dim < full.dim and small.blocks <= full.blocks
    assert set(PRESETS) == {"full", "small"}


def test_audio_sizes_follow_the_features_not_the_preset():
    cfg = vocoder_config("small", mel=MelConfig(hop=200, n_fft=800, win=800, n_mels=64))
    assert (cfg.hop, cfg.n_fft, cfg.win, cfg.n_mels, cfg.bins) == (200, 800, 800, 64, 401)
    assert vocoder_config("small", {"dim": 96, "mpd_channels": [4, 8]}).mpd_channels == (4, 8)  # YAML list


@pytest.mark.parametrize(
    "preset, overrides, key",
    [
        ("tiny", {}, "preset"),  # unknown preset
        ("small", {"widht": 64}, "model.widht"),  # misspelt knob
        ("small", {"dim": 0}, "model.dim"),  # non-positive width
        ("small", {"intermediate": -384}, "model.intermediate"),
        ("small", {"blocks": 2.5}, "model.blocks"),
        ("small", {"dim": True}, "model.dim"),
        ("small", {"kernel": 6}, "model.kernel"),  # even: no same padding
        ("small", {"mpd_channels": 8}, "model.mpd_channels"),  # not a list
        ("small", {"mpd_periods": []}, "model.mpd_periods"),
        ("small", {"mrd_ffts": [322]}, "model.mrd_ffts"),
        ("small", {"hop": 200}, "model.hop"),  # set by preprocess.mel
    ],
)
def test_bad_config_names_the_key(preset, overrides, key):
    with pytest.raises(ConfigError) as err:
        vocoder_config(preset, overrides)
    assert str(err.value).startswith(f"{key}: "), str(err.value)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="choose one of: full, small"):
        vocoder_config("base")


# --------------------------------------------------------------------------- generator


@pytest.mark.parametrize("frames", [1, 7, 100])
def test_small_vocoder_gives_exactly_frames_times_hop_samples(frames):
    torch.manual_seed(0)
    voc = Vocoder(vocoder_config("small")).eval()
    with torch.no_grad():
        wave = voc(_ln_mel(2, frames))
    assert wave.shape == (2, frames * 160) and wave.dtype == torch.float32
    assert torch.isfinite(wave).all()


def test_full_vocoder_builds_and_runs_a_tiny_forward():
    torch.manual_seed(0)
    voc = Vocoder(vocoder_config("full")).eval()
    # about 13 M parameters, as Vocos' base model (80 mels and a 640-point STFT here)
    assert 12e6 < sum(p.numel() for p in voc.parameters()) < 14e6
    with torch.no_grad():
        wave = voc(_ln_mel(1, 5))
    assert wave.shape == (1, 5 * 160) and torch.isfinite(wave).all()


def test_the_output_of_a_frame_depends_on_nearby_frames_only():
    """Convolutions over time, no global state: changing the last frames leaves the start alone,
    so clips can be vocoded in a padded batch and cut to their lengths."""
    torch.manual_seed(0)
    voc = Vocoder(vocoder_config("small", {"blocks": 2})).eval()
    a = _ln_mel(1, 60)
    b = a.clone()
    b[..., 50:] = -11.5
    with torch.no_grad():
        wa, wb = voc(a), voc(b)
    # receptive field: 3 frames per conv each side (embedding + 2 blocks), 2 more for the STFT window
    reach = (3 * 3 + 2) * 160
    assert torch.allclose(wa[:, : 50 * 160 - reach], wb[:, : 50 * 160 - reach], atol=1e-6)
    assert not torch.allclose(wa[:, 50 * 160 :], wb[:, 50 * 160 :])


# --------------------------------------------------------------------------- checkpoints


def test_a_checkpoint_alone_rebuilds_the_vocoder(tmp_path):
    torch.manual_seed(0)
    cfg = vocoder_config("small", {"dim": 64, "intermediate": 96, "blocks": 2})
    voc = Vocoder(cfg).eval()
    mel = _ln_mel(1, 30)
    path = tmp_path / "vocoder.pt"
    torch.save(vocoder_checkpoint(voc, MelConfig(), step=12), path)
    loaded, meta = load_vocoder(path)
    assert loaded.cfg == cfg and not loaded.training
    assert meta["mel"] == MelConfig() and meta["step"] == 12
    with torch.no_grad():
        assert torch.equal(loaded(mel), voc(mel))
    assert load_vocoder(path, mel=MelConfig())[0].cfg == cfg
    with pytest.raises(ValueError, match="learnt other audio features"):
        load_vocoder(path, mel=MelConfig(fmin=0.0))


def test_load_vocoder_says_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="dvc repro vocoder@"):
        load_vocoder(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        load_vocoder(tmp_path / "junk.pt")
    torch.save({"generator": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an l2s vocoder checkpoint"):
        load_vocoder(tmp_path / "other.pt")
    ck = vocoder_checkpoint(Vocoder(vocoder_config("small", {"blocks": 1})), MelConfig())
    torch.save({**ck, "format": 99}, tmp_path / "newer.pt")
    with pytest.raises(ValueError, match="another version of l2s"):
        load_vocoder(tmp_path / "newer.pt")
    ck["vocoder_config"]["blocks"] = 2  # weights of one block, a config of two
    torch.save(ck, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="does not fit"):
        load_vocoder(tmp_path / "mismatch.pt")


# --------------------------------------------------------------------------- discriminators and losses


def test_discriminators_judge_every_period_and_resolution():
    torch.manual_seed(0)
    cfg = vocoder_config("small")
    disc = Discriminators(cfg)
    wave = (0.1 * torch.randn(2, 4001)).requires_grad_()  # not a whole number of any period
    out = disc(wave)
    assert set(out) == {"mpd", "mrd"}
    for family, count in (("mpd", len(cfg.mpd_periods)), ("mrd", len(cfg.mrd_ffts))):
        logits, features = out[family]
        assert len(logits) == len(features) == count
        assert all(lg.shape[0] == 2 and lg.dim() == 2 for lg in logits)
        assert all(len(maps) == 6 for maps in features)  # five hidden layers and the logits
    # a period discriminator's widths follow the preset
    assert [m.shape[1] for m in out["mpd"][1][0][:-1]] == list(cfg.mpd_channels)
    assert out["mrd"][1][0][0].shape[1] == cfg.mrd_channels
    # the generator learns through both families
    total = sum(lg.sum() for fam in out.values() for lg in fam[0])
    (grad,) = torch.autograd.grad(total, wave)
    assert grad.abs().sum() > 0


def test_losses_are_zero_for_a_perfect_copy_and_have_the_published_forms():
    torch.manual_seed(0)
    mel_loss = losses.MultiResolutionMelLoss(16000)
    real = 0.1 * torch.randn(2, 8000)
    assert mel_loss(real, real) == 0
    assert mel_loss(0.5 * real, real) > 0.5  # ln 2 = 0.69 wherever the mel is above the floor
    maps = [[torch.ones(2, 3, 4), torch.ones(2, 5)]]
    judged = ([torch.full((2, 10), 0.5)], maps)
    assert losses.feature_matching(judged, judged) == 0
    assert losses.feature_matching(judged, ([judged[0][0]], [[2 * m for m in maps[0]]])) == 2.0
    fake = ([torch.full((2, 10), -0.5)], maps)
    assert losses.generator_adversarial(fake, "hinge") == pytest.approx(1.5)
    assert losses.generator_adversarial(fake, "lsgan") == pytest.approx(2.25)
    # real at 0.5, fake at -0.5: hinge relu(0.5) + relu(0.5); lsgan 0.25 + 0.25
    assert losses.discriminator_adversarial(judged, fake, "hinge") == pytest.approx(1.0)
    assert losses.discriminator_adversarial(judged, fake, "lsgan") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="hinge or lsgan"):
        losses.generator_adversarial(fake, "wgan")


def test_a_generator_and_discriminator_step_runs_on_the_small_preset():
    torch.manual_seed(0)
    cfg = vocoder_config("small")
    voc, disc, mel_loss = Vocoder(cfg), Discriminators(cfg), losses.MultiResolutionMelLoss(cfg.sample_rate)
    mel, real = _ln_mel(2, 50), 0.1 * torch.randn(2, 50 * 160)
    fake = voc(mel)
    d_loss, d_parts = losses.discriminator_loss(disc(real), disc(fake.detach()))
    assert set(d_parts) == {"d_mpd", "d_mrd"}
    d_loss.backward()
    assert all(p.grad is not None for p in disc.parameters())
    disc.zero_grad()
    g_loss, parts = losses.generator_loss(mel_loss(fake, real), disc(real), disc(fake))
    assert set(parts) == {"mel", "adv_mpd", "fm_mpd", "adv_mrd", "fm_mrd"} and torch.isfinite(g_loss)
    g_loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in voc.parameters())


# --------------------------------------------------------------------------- learning


def test_small_vocoder_overfits_one_clip():
    """The reconstruction loss alone teaches the small preset one clip: the multi-resolution
    mel loss falls by more than half within 200 steps (about 2 s on one core)."""
    torch.manual_seed(0)
    cfg = MelConfig()
    wave = _glide()
    target = torch.from_numpy(prepare(wave, cfg))[None]
    mel = torch.from_numpy(log_mel(wave, cfg))[None]
    target = target[:, : mel.shape[-1] * cfg.hop]
    voc = Vocoder(vocoder_config("small", {"blocks": 4}, cfg))
    mel_loss = losses.MultiResolutionMelLoss(cfg.sample_rate)
    opt = torch.optim.AdamW(voc.parameters(), 2e-3, betas=(0.8, 0.99))
    history = []
    for _ in range(200):
        loss = mel_loss(voc(mel), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert history[-1] < 0.5 * history[0], history[::20]
