"""The multi-head visual-audio memory (l2s.vcagan.memory): shapes, the model without it
unchanged, padding, its losses learn and reach every part, and the trainer, checkpoints
and speech without audio with it on."""

from __future__ import annotations

import math

import pytest
import torch

from l2s import config
from l2s.config import ConfigError
from l2s.vcagan import losses, train
from l2s.vcagan.inference import generate, load_generator
from l2s.vcagan.model import Generator, normalise_frames
from l2s.vcagan.presets import model_config
from tests.helpers import english_root, write_params

PHONEMES = 12
MEMORY = {"memory_slots": 16, "memory_heads": 3, "phonemes": PHONEMES}
# pre-training (2 steps), then the whole model; the memory trains in both (nothing frozen)
SMALL = {
    "steps": 4,
    "reader_steps": 2,
    "reader_batch_size": 2,
    "batch_size": 2,
    "window": 16,
    "eval_every": 100,
    "eval_clips": 1,
    "log_every": 1,
    "freeze_reader": False,
}
# the model's own train.model: params.yaml's studies hold a recipe without the lip-reading head
WITH_MEMORY = {"model": {"memory_slots": 16, "memory_heads": 2}}


pytestmark = pytest.mark.usefixtures("one_thread")


def _frames(b: int, t: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return normalise_frames(torch.randint(0, 256, (b, t, 112, 112), dtype=torch.uint8, generator=g))


def _mel(b: int, t: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 80, 4 * t, generator=g) * 2 - 1


def _gen(**knobs) -> Generator:
    torch.manual_seed(0)
    return Generator(model_config("demo", {**MEMORY, **knobs}, internal=True))


def test_shapes_and_no_audio_at_inference():
    gen = _gen().eval()
    lengths = torch.tensor([10, 7])
    with torch.no_grad():
        out = gen(_frames(2, 10), lengths, mel_unit=_mel(2, 10))
        assert out.context.shape == (2, 10, 64) and out.phoneme_logits.shape == (2, 10, PHONEMES)
        assert set(out.memory.losses) == {"reconstruction", "alignment", "recall"}
        assert out.memory.audio_logits.shape == (2, 10, PHONEMES)
        log_beta, recalled = gen.memory.recall(out.context)
        assert log_beta.shape == (2, 10, 3, 16) and recalled.shape == (2, 10, 3, 64)
        assert torch.allclose(log_beta.exp().sum(-1), torch.ones(2, 10, 3))
        speech = gen(_frames(2, 10), lengths)  # video alone
    assert speech.memory is None and speech.mels[-1].shape == (2, 1, 80, 40)


def test_no_memory_is_the_model_as_before():
    """memory_slots 0: no memory parameters or state_dict keys, whatever memory_heads says,
    and a mel given to it changes nothing."""
    plain = _gen(memory_slots=0)
    other = _gen(memory_slots=0, memory_heads=7)
    assert plain.memory is None and not any(k.startswith("memory") for k in plain.state_dict())
    assert plain.state_dict().keys() == other.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), other.state_dict().values()))
    plain.eval()
    lengths, noise = torch.tensor([8]), torch.randn(1, 16, 20, 8)
    with torch.no_grad():
        a = plain(_frames(1, 8), lengths, noise=noise)
        b = plain(_frames(1, 8), lengths, noise=noise, mel_unit=_mel(1, 8))
    assert b.memory is None and torch.equal(a.linear, b.linear) and torch.equal(a.context, b.context)


def test_a_new_memory_starts_as_the_model_without():
    """The fusion starts at zero: the first outputs are those of the same weights without memory."""
    with_memory, without = _gen().eval(), _gen(memory_slots=0).eval()
    without.load_state_dict({k: v for k, v in with_memory.state_dict().items() if not k.startswith("memory.")})
    noise = torch.randn(1, 16, 20, 8)
    with torch.no_grad():
        a = with_memory(_frames(1, 8), torch.tensor([8]), noise=noise)
        b = without(_frames(1, 8), torch.tensor([8]), noise=noise)
    assert torch.allclose(a.context, b.context) and torch.allclose(a.linear, b.linear)


def test_padded_frames_change_no_valid_output_and_no_loss():
    gen = _gen().eval()
    with torch.no_grad():  # a fusion that is not zero, as after training
        gen.memory.fuse.weight.normal_(0, 0.1)
    lengths = torch.tensor([6, 10])
    frames, mel = _frames(2, 10), _mel(2, 10)
    frames2, mel2 = frames.clone(), mel.clone()
    frames2[0, 6:] = _frames(1, 4, seed=7)[0]
    mel2[0, :, 24:] = -mel2[0, :, 24:]
    noise = torch.randn(2, 16, 20, 10)
    with torch.no_grad():
        a = gen(frames, lengths, noise=noise, mel_unit=mel)
        b = gen(frames2, lengths, noise=noise, mel_unit=mel2)
    assert torch.equal(a.context, b.context) and a.context[0, 6:].abs().max() == 0
    assert torch.equal(a.phoneme_logits[0, :6], b.phoneme_logits[0, :6])
    assert torch.equal(a.mels[-1][..., :24], b.mels[-1][..., :24]) and torch.equal(a.linear, b.linear)
    for k in a.memory.losses:
        assert torch.equal(a.memory.losses[k], b.memory.losses[k]), k
    assert torch.equal(a.memory.audio_logits[0, :6], b.memory.audio_logits[0, :6])


def _memory_loss(gen, frames, lengths, mel, labels, label_lengths):
    out = gen(frames, lengths, read_only=True, mel_unit=mel)
    parts = losses.memory_losses(out, lengths, labels, label_lengths)
    return sum(parts.values()), parts


def test_losses_learn_and_reach_every_part():
    gen = _gen().train()
    lengths = torch.tensor([12, 9])
    frames, mel = _frames(2, 12), _mel(2, 12)
    labels, label_lengths = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 0]]), torch.tensor([4, 3])
    total, parts = _memory_loss(gen, frames, lengths, mel, labels, label_lengths)
    assert set(parts) == {"reconstruction", "alignment", "recall", "audio_ctc"}
    assert all(math.isfinite(float(v.detach())) for v in parts.values())
    total.backward()
    memory = gen.memory
    for name, p in [
        ("keys", memory.keys),
        ("values", memory.values),
        ("query", memory.query.weight),
        ("audio encoder", memory.audio.convs[0].weight),
        ("audio reader", memory.audio_reader.weight),
        ("front-end", gen.frontend.context_proj.weight),
    ]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    opt = torch.optim.Adam(gen.parameters(), lr=3e-3)
    first = {k: float(v) for k, v in parts.items()}
    for _ in range(30):
        opt.zero_grad()
        total, parts = _memory_loss(gen, frames, lengths, mel, labels, label_lengths)
        total.backward()
        opt.step()
    last = {k: float(v) for k, v in parts.items()}
    assert sum(last.values()) < 0.7 * sum(first.values()), (first, last)
    for k in ("alignment", "recall", "audio_ctc"):
        assert last[k] < first[k], (k, first, last)


def test_the_audio_teaches_the_video():
    """Alignment and recall leave the audio encoder alone: only reconstruction and the
    audio CTC move it."""
    gen = _gen().train()
    out = gen(_frames(2, 8), torch.tensor([8, 8]), read_only=True, mel_unit=_mel(2, 8))
    (out.memory.losses["alignment"] + out.memory.losses["recall"]).backward()
    assert gen.memory.audio.proj.weight.grad is None or gen.memory.audio.proj.weight.grad.abs().sum() == 0
    assert gen.memory.keys.grad.abs().sum() > 0


def test_bad_knobs_name_the_knob(tmp_path):
    with pytest.raises(ConfigError, match="model.memory_slots"):
        model_config("demo", {"memory_slots": -1})
    with pytest.raises(ConfigError, match="model.memory_heads"):
        model_config("demo", {"memory_slots": 8, "memory_heads": 0})
    with pytest.raises(ValueError, match="memory_slots.*lip-reading head"):
        Generator(model_config("demo", {"memory_slots": 8}))
    with pytest.raises(ConfigError, match="train.memory_weight: must be >= 0"):
        config.load(write_params(tmp_path, train={"memory_weight": -1.0}))
    no_head = {"ctc_weight": 0.0, "reader_steps": 0, "freeze_reader": False, "reader_to_decoder": False}
    with pytest.raises(ConfigError, match="train.model.memory_slots: the memory needs the lip-reading head"):
        config.load(write_params(tmp_path, train={**no_head, "model": {"memory_slots": 8}}))
    # a model of its own with the memory, beside the shipped ones; all of them with it fails
    # where one has no head, and says which
    models = {"m": {"languages": ["en"], "train": {"model": {"memory_slots": 8, "memory_heads": 2}}}}
    params = config.load(write_params(tmp_path, languages={"en": {"source": "synthetic"}}, models=models))
    assert params.train_config("m").model == {"memory_slots": 8, "memory_heads": 2}
    # a study recipe without the head that keeps the shipped memory fails, and says which
    study = {"models": {"x": {"languages": ["en"]}}, "recipes": {"nohead": no_head}, "seeds": [0]}
    with pytest.raises(ConfigError, match=r"nohead.*model\.memory_slots: the memory needs"):
        config.load(write_params(tmp_path, studies={"s": study}))
    config.load(write_params(tmp_path, studies={"s": {**study, "recipes": {"nohead": {**no_head, "model": {}}}}}))


# --------------------------------------------------------------------------- with the trainer


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A repository root with 8 preprocessed English clips (6 train, 2 val)."""
    return english_root(tmp_path_factory.mktemp("memoryroot"), train=SMALL, models={"tiny": {"languages": ["en"]}})


def _trainer(root, out, memory: bool = True, **train_cfg):
    models = {"tiny": {"languages": ["en"], "train": WITH_MEMORY if memory else {"model": {}}}}
    write_params(root, base=root / "params.yaml", train={**SMALL, **train_cfg}, models=models)
    params = config.load(root / "params.yaml")
    return train.Trainer("tiny", params, out, out / "history.csv", train.Dist(), torch.device("cpu"))


def test_trainer_steps_checkpoint_and_speech_without_audio(root, monkeypatch, tmp_path):
    monkeypatch.setenv("L2S_ROOT", str(root))
    trainer = _trainer(root, tmp_path)
    assert trainer.gen.memory is not None
    names = {f"loss/memory_{k}" for k in ("reconstruction", "alignment", "recall", "audio_ctc")}
    reader = next(iter(torch.utils.data.DataLoader(trainer.reader_set, batch_size=2)))
    window = next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=2)))
    before = trainer.gen.memory.keys.detach().clone()
    for step, batch in ((0, reader), (1, reader), (2, window)):  # pre-training, then the whole model
        trainer.step = step
        scalars = trainer.train_step(batch)
        assert names <= scalars.keys() and all(math.isfinite(v) for v in scalars.values()), scalars
    assert not torch.equal(before, trainer.gen.memory.keys)

    trainer.step = 3
    trainer.save("last.pt")
    gen, _ = load_generator(tmp_path / "last.pt")
    assert gen.memory is not None and gen.cfg.memory_slots == 16
    spec = generate(gen, torch.randint(0, 255, (1, 20, 112, 112), dtype=torch.uint8))
    assert spec.mel.shape == (1, 80, 80) and torch.isfinite(spec.mel).all()


def test_a_frozen_reader_freezes_the_memory(root, monkeypatch, tmp_path):
    monkeypatch.setenv("L2S_ROOT", str(root))
    trainer = _trainer(root, tmp_path, freeze_reader=True)
    window = next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=2)))
    trainer.step = 2  # after pre-training
    before = {k: v.clone() for k, v in trainer.gen.memory.state_dict().items()}
    scalars = trainer.train_step(window)
    assert not any(k.startswith("loss/memory") for k in scalars)  # it does not learn: no mel, no losses
    assert not trainer.gen.memory.values.requires_grad and not trainer.gen.memory.training
    assert all(torch.equal(v, trainer.gen.memory.state_dict()[k]) for k, v in before.items())


def test_a_run_from_before_the_memory_resumes(root, monkeypatch, tmp_path):
    """A last.pt written before the memory's knobs existed (its configs lack them) resumes."""
    monkeypatch.setenv("L2S_ROOT", str(root))
    trainer = _trainer(root, tmp_path, memory=False)
    trainer.step = 2
    trainer.save("last.pt")
    ck = torch.load(tmp_path / "last.pt", weights_only=False)
    for key in ("memory_slots", "memory_heads"):
        del ck["model_config"][key]
    del ck["train_config"]["memory_weight"]
    torch.save(ck, tmp_path / "last.pt")
    assert _trainer(root, tmp_path, memory=False).resume()
    assert not _trainer(root, tmp_path).resume()  # a memory is another model
