"""Training on a tiny real corpus: overfitting, DDP with two CPU processes, kill and
resume, checkpoints that rebuild the model, and a clear stop on a NaN loss."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from l2s import config, training
from l2s.parallel import free_port
from l2s.vcagan import train
from l2s.vcagan.inference import generate, load_generator
from l2s.vcagan.model import normalise_frames
from tests.helpers import english_root, kill_at, logged_losses, two_nodes, weights_that_differ, write_params

# both parts of the default recipe: lip-reading pre-training (2 steps), then the whole model
SMALL = {
    "steps": 6,
    "reader_steps": 2,
    "reader_batch_size": 2,
    "batch_size": 2,
    "window": 16,
    "eval_every": 3,
    "eval_clips": 1,
    "log_every": 1,
    "flip": True,
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A repository root with 8 preprocessed English clips (6 train, 2 val)."""
    return english_root(tmp_path_factory.mktemp("trainroot"), train=SMALL, models={"tiny": {"languages": ["en"]}})


def _env(root):
    return dict(os.environ, L2S_ROOT=str(root), PYTHONUNBUFFERED="1")


def _set_train(root, **train_cfg):
    write_params(root, base=root / "params.yaml", train={**SMALL, **train_cfg})


def _run_train(root, out, *extra, torchrun=False, check=True):
    cmd = [sys.executable, "-m", "l2s.vcagan.train", "tiny", "--out", str(out), *extra]
    if torchrun:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", *cmd[1:]]
    p = subprocess.run(cmd, cwd=root, env=_env(root), capture_output=True, text=True)
    if check:
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


@pytest.mark.slow
def test_demo_preset_overfits_four_clips(root, monkeypatch, tmp_path):
    monkeypatch.setenv("L2S_ROOT", str(root))
    # the whole model from the first step (no pre-training, nothing frozen)
    _set_train(
        root,
        steps=200,
        reader_steps=0,
        freeze_reader=False,
        batch_size=4,
        eval_every=200,
        log_every=10,
        flip=False,
        erase=False,
    )
    params = config.load(root / "params.yaml")
    trainer = train.Trainer("tiny", params, tmp_path, tmp_path / "history.csv", train.Dist(), torch.device("cpu"))
    trainer.train_set.index = trainer.train_set.index[:4]
    loader = torch.utils.data.DataLoader(trainer.train_set, batch_size=4, shuffle=True)
    recon = []
    while trainer.step < 200:
        for batch in loader:
            recon.append(trainer.train_step(batch)["loss/recon"])
            trainer.step += 1
    first, last = sum(recon[:10]) / 10, sum(recon[-10:]) / 10
    assert last < 0.5 * first, (first, last)


@pytest.mark.slow
def test_lip_reading_head_overfits_four_clips(root, monkeypatch, tmp_path):
    """The demo preset with the CTC head learns to read the phonemes of 4 whole clips."""
    from l2s.data.phonemes import WORD_ID, phoneme_edits
    from l2s.vcagan.inference import read_lips

    monkeypatch.setenv("L2S_ROOT", str(root))
    # lip-reading pre-training alone, as the default recipe starts
    _set_train(root, steps=300, reader_steps=300, batch_size=4, lr=3e-3, flip=False, erase=False)
    params = config.load(root / "params.yaml")
    trainer = train.Trainer("tiny", params, tmp_path, tmp_path / "history.csv", train.Dist(), torch.device("cpu"))
    assert trainer.gen.reader is not None
    trainer.reader_set.index = trainer.reader_set.index[:4]
    batch = next(iter(torch.utils.data.DataLoader(trainer.reader_set, batch_size=4)))
    assert (batch["phoneme_length"] > 0).all()  # whole clips carry their transcripts
    while trainer.step < 300:
        ctc = trainer.train_step(batch)["loss/ctc"]
        trainer.step += 1
    trainer.gen.eval()
    with torch.no_grad():
        out = trainer.gen(normalise_frames(batch["frames"]), batch["length"])
    edits = symbols = 0
    for truth, n, read in zip(
        batch["phonemes"], batch["phoneme_length"], read_lips(out.phoneme_logits, batch["length"])
    ):
        truth = (truth[:n] - 1).tolist()
        edits += phoneme_edits(truth, read)
        symbols += sum(i != WORD_ID for i in truth)
    assert edits / symbols < 0.2, (edits / symbols, ctc)


def test_clips_without_transcripts_train(root, monkeypatch, tmp_path):
    """A clip without phonemes (no transcript, or none espeak-ng could read) trains without
    the lip-reading loss, in pre-training and after; a batch without any has a CTC of 0."""
    monkeypatch.setenv("L2S_ROOT", str(root))
    _set_train(root, steps=4, batch_size=2, window=75, ctc_weight=1.0, reader_steps=2, eval_every=100)
    params = config.load(root / "params.yaml")
    trainer = train.Trainer("tiny", params, tmp_path, tmp_path / "history.csv", train.Dist(), torch.device("cpu"))
    for _, row in trainer.train_set.index[:4:2]:
        trainer.data[0].clips[row]["phonemes"] = ""
    batch = next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=4)))
    assert batch["phoneme_length"].tolist()[::2] == [0, 0] and all(batch["phoneme_length"][1::2] > 0)
    for step in (0, 3):  # pre-training, then the whole model
        trainer.step = step
        assert all(math.isfinite(v) for v in trainer.train_step(batch).values())
    for clip in trainer.data[0].clips:
        clip["phonemes"] = ""
    batch = next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=4)))
    assert trainer.train_step(batch)["loss/ctc"] == 0.0


def _trainer(root, out, **train_cfg):
    _set_train(root, **train_cfg)
    params = config.load(root / "params.yaml")
    return train.Trainer("tiny", params, out, out / "history.csv", train.Dist(), torch.device("cpu"))


def test_learning_rate_restarts_in_each_phase(root, monkeypatch, tmp_path):
    monkeypatch.setenv("L2S_ROOT", str(root))
    cfg = dict(steps=100, reader_steps=60, warmup_steps=10, lr=1e-2, lr_decay="cosine")
    lr = _trainer(root, tmp_path, **cfg, lr_per_phase=True).learning_rate
    # pre-training: warm-up, peak, decay to 5 % at its last step; then the same for the decoder
    assert lr(0) == pytest.approx(1e-3) and lr(9) == pytest.approx(1e-2) and lr(59) == pytest.approx(5e-4, rel=0.1)
    assert lr(60) == pytest.approx(1e-3) and lr(69) == pytest.approx(1e-2) and lr(99) == pytest.approx(5e-4, rel=0.1)
    # one schedule over the run: the decoder's phase begins where the pre-training left off
    lr = _trainer(root, tmp_path, **cfg, lr_per_phase=False).learning_rate
    assert lr(60) < lr(59) < 0.5e-2 and lr(99) == pytest.approx(5e-4, rel=0.1)


def test_resume_needs_the_same_recipe(root, monkeypatch, tmp_path):
    """More steps continue a run; another recipe (here the learning rate) starts afresh."""
    monkeypatch.setenv("L2S_ROOT", str(root))
    trainer = _trainer(root, tmp_path)
    trainer.step = 6
    trainer.save("last.pt")
    assert _trainer(root, tmp_path, steps=9, eval_every=4).resume()
    assert not _trainer(root, tmp_path, lr=1e-4).resume()
    # fewer steps than the checkpoint's is another recipe too (`dvc exp run -S train.steps=...`)
    assert not _trainer(root, tmp_path, steps=5).resume()
    # the same recipe on data made anew (dvc repro after a corpus change) starts afresh too
    from l2s.data.dataset import ProcessedLanguage

    monkeypatch.setattr(ProcessedLanguage, "fingerprint", lambda self: "made anew")
    assert not _trainer(root, tmp_path, steps=9, eval_every=4).resume()


def test_the_data_fingerprint_sees_a_changed_frame(root, tmp_path):
    import shutil

    from l2s.data.dataset import ProcessedLanguage

    copy = tmp_path / "en"
    shutil.copytree(root / "data/processed/en", copy)
    before = ProcessedLanguage("en", copy).fingerprint()
    assert ProcessedLanguage("en", copy).fingerprint() == before
    frames = np.load(copy / "frames.npy", mmap_mode="r+")
    frames[len(frames) // 2] = 255 - frames[len(frames) // 2]  # one clip's pixels, as a new corpus would
    frames.flush()
    del frames
    assert ProcessedLanguage("en", copy).fingerprint() != before


@pytest.mark.slow
@pytest.mark.parametrize(
    "augment", [{}, {"reader_steps": 6, "random_crop": 2, "time_mask": 3}], ids=["default", "reader augmentation"]
)
def test_kill_and_resume_gives_the_same_nextlogged_losses(root, tmp_path, augment):
    # the checkpoint at step 4 falls mid-epoch (the whole-model phase starts at step 3, with
    # 3 batches an epoch): the resumed run skips the batches already seen, and its new loader
    # iterator must not shift torch's global RNG (the generator's noise). With the reader's
    # augmentation the checkpoint falls in the pre-training, where the random crop draws
    # from that RNG and time masking from the loader's own generators.
    _set_train(root, steps=8, eval_every=4, **augment)
    reference = _run_train(root, tmp_path / "reference")
    expected = logged_losses(reference.stderr)
    assert sorted(expected) == list(range(1, 9))

    out = tmp_path / "killed"
    # killed hard just after step 5 (checkpoint at step 4)
    kill_at([sys.executable, "-m", "l2s.vcagan.train", "tiny", "--out", str(out)], root, "step 5/8")
    assert (out / "last.pt").exists() and not list(out.glob("*.tmp*"))
    resumed = _run_train(root, out)
    assert "resumed" in resumed.stderr and "from step 4" in resumed.stderr
    again = logged_losses(resumed.stderr)
    assert sorted(again) == [5, 6, 7, 8]
    for step in again:
        assert again[step] == expected[step], (step, again[step], expected[step])


@pytest.mark.slow
def test_a_run_goes_on_from_another_runs_reader(root, tmp_path, monkeypatch):
    """reader.pt (the state at the end of the pre-training) continued with the same
    settings trains the same model as the run that kept it; in bf16 it goes on too (the
    precision is a resumable setting) and with a later adversarial phase, while another
    recipe is refused, not started afresh."""
    import shutil

    from l2s import paths

    monkeypatch.setenv("L2S_ROOT", str(root))
    _set_train(root)  # 2 pre-training steps of 6
    params = config.load(root / "params.yaml")
    train.train("tiny", params, tmp_path / "whole", keep_reader=True)
    assert torch.load(tmp_path / "whole" / paths.READER, weights_only=False)["step"] == 2

    def go_on(name: str, settings: config.Params) -> dict:
        (tmp_path / name).mkdir()
        shutil.copyfile(tmp_path / "whole" / paths.READER, tmp_path / name / paths.LAST)
        train.train("tiny", settings, tmp_path / name, must_resume=True)
        return torch.load(tmp_path / name / paths.LAST, weights_only=False)

    whole = torch.load(tmp_path / "whole" / paths.LAST, weights_only=False)
    again = go_on("again", params)
    assert again["step"] == 6 and all(torch.equal(whole["generator"][k], v) for k, v in again["generator"].items())
    _set_train(root, precision="bf16")
    assert go_on("bf16", config.load(root / "params.yaml"))["step"] == 6
    # a longer decoder: more steps, and the adversarial phase (not begun at reader.pt) later
    _set_train(root, steps=8, gan_start=6)
    assert go_on("longer", config.load(root / "params.yaml"))["step"] == 8
    _set_train(root, lr=2 * params.train_config("tiny").lr)  # another recipe
    with pytest.raises(ValueError, match="cannot be resumed"):
        go_on("other", config.load(root / "params.yaml"))


@pytest.mark.slow
def test_ddp_two_cpu_processes(root, tmp_path):
    _set_train(root, steps=4, eval_every=2)
    worker = Path(__file__).with_name("ddp_worker.py")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        str(worker),
        str(tmp_path),
    ]
    p = subprocess.run(cmd, cwd=root, env=_env(root), capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "replicas identical after step 4" in p.stdout
    # rank 0 alone writes checkpoints, logs and history
    assert (tmp_path / "rank0" / "last.pt").exists() and (tmp_path / "rank0" / "history.csv").exists()
    assert not any((tmp_path / "rank1").iterdir())
    # the 2-process run resumes from its own checkpoint
    _set_train(root, steps=6, eval_every=2)
    p = subprocess.run(cmd, cwd=root, env=_env(root), capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "resumed" in p.stderr and "replicas identical after step 6" in p.stdout
    assert torch.load(tmp_path / "rank0" / "last.pt", weights_only=False)["step"] == 6


@pytest.mark.slow
def test_two_torchrun_nodes_train_what_one_node_trains(root, tmp_path):
    """train.nnodes: 2 (a process per node, c10d rendezvous, gloo), both nodes on this host,
    trains the same model as one node running two processes: the same global batch of two
    ranks' batches, only the rendezvous and the transport differ."""
    _set_train(root, steps=4, eval_every=2)
    _run_train(root, tmp_path / "one", torchrun=True)
    _set_train(root, steps=4, eval_every=2, nnodes=2, nproc="1", rdzv_endpoint=f"127.0.0.1:{free_port()}")
    cmd = train.launch_command("tiny", config.load(root / "params.yaml"))
    assert "--nnodes=2" in cmd and "--rdzv-backend=c10d" in cmd
    try:
        outputs = two_nodes([*cmd, "--out", str(tmp_path / "two")], root)
    finally:
        _set_train(root, nnodes=1, nproc="auto")  # the module's other tests run as one process
    assert sum("step 4/4" in out for out in outputs) == 1  # rank 0 alone logs
    assert (
        weights_that_differ(tmp_path / "one/last.pt", tmp_path / "two/last.pt", ("generator", "discriminators", "sync"))
        == []
    )
    assert torch.load(tmp_path / "two/last.pt", weights_only=False)["step"] == 4


@pytest.mark.slow
def test_checkpoint_alone_rebuilds_the_generator(root, tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(root))
    _set_train(root, steps=2, eval_every=2)
    params = config.load(root / "params.yaml")
    train.train("tiny", params, tmp_path)
    gen, meta = load_generator(tmp_path / "last.pt")
    assert meta["languages"] == ["en"] and meta["step"] == 2
    ck = torch.load(tmp_path / "last.pt", weights_only=False)
    again = train.Trainer("tiny", params, tmp_path / "x", tmp_path / "h.csv", train.Dist(), torch.device("cpu"))
    again.gen.load_state_dict(ck["generator"])
    again.gen.eval()
    frames = torch.randint(0, 255, (1, 20, 112, 112), dtype=torch.uint8)
    torch.manual_seed(0)
    a = generate(gen, frames).mel
    torch.manual_seed(0)
    b = generate(again.gen, frames).mel
    assert a.shape == (1, 80, 80) and torch.allclose(a, b)
    with pytest.raises(FileNotFoundError, match="train the model first"):
        load_generator(tmp_path / "missing.pt")


def test_a_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(root, tmp_path, monkeypatch):
    from l2s.vcagan import losses

    monkeypatch.setenv("L2S_ROOT", str(root))
    _set_train(root, steps=6, eval_every=2, reader_steps=0, freeze_reader=False)  # the whole model throughout
    params = config.load(root / "params.yaml")
    real = losses.reconstruction
    calls = {"n": 0}

    def poisoned(*a, **k):
        calls["n"] += 1
        value = real(*a, **k)
        return value * float("nan") if calls["n"] >= 4 else value

    monkeypatch.setattr(losses, "reconstruction", poisoned)
    with pytest.raises(training.NonFiniteLoss, match="non-finite at step"):
        train.train("tiny", params, tmp_path)
    assert torch.load(tmp_path / "last.pt", weights_only=False)["step"] == 2


def test_clear_errors(root, monkeypatch, tmp_path):
    monkeypatch.setenv("L2S_ROOT", str(root))
    params = config.load(root / "params.yaml")
    with pytest.raises(config.ConfigError, match="unknown model 'nope'"):
        train.train("nope", params, tmp_path)
    write_params(root, base=root / "params.yaml", train={**SMALL, "preset": "huge"})
    with pytest.raises(config.ConfigError, match="train.preset: unknown model preset 'huge'"):
        config.load(root / "params.yaml")  # on load, before any training process starts
    _set_train(root, preset="demo")
    wrong = config.load(
        write_params(
            tmp_path,
            languages={"en": {"source": "synthetic"}, "es": {"source": "synthetic"}},
            models={"m": {"languages": ["es"]}},
        )
    )
    monkeypatch.setenv("L2S_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="run: dvc repro preprocess@es"):
        train.train("m", wrong, tmp_path / "out")


def test_launch_command(root, monkeypatch):
    from l2s import training

    params = config.load(root / "params.yaml")
    monkeypatch.setattr(training, "visible_gpus", lambda: 0)
    assert train.launch_command("tiny", params)[1:] == ["-m", "l2s.vcagan.train", "tiny"]
    monkeypatch.setattr(training, "visible_gpus", lambda: 4)
    cmd = train.launch_command("tiny", params)
    assert "--nproc-per-node=4" in cmd and "--standalone" in cmd and cmd[-3:] == ["-m", "l2s.vcagan.train", "tiny"]


def test_time_mask_replaces_short_spans_with_the_mean_frame():
    from l2s.data.dataset import _mask_time

    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (75, 6, 6), dtype=torch.uint8, generator=g)
    frames[70:] = 0  # padding beyond the 70 valid frames
    mean = frames[:70].float().mean(dim=0).round().to(torch.uint8)
    spans = []
    for seed in range(20):
        masked = _mask_time(frames, 70, 10, torch.Generator().manual_seed(seed))
        changed = [t for t in range(75) if not torch.equal(masked[t], frames[t])]
        assert all(torch.equal(masked[t], mean) for t in changed)
        assert all(t < 70 for t in changed)  # padding untouched
        assert len(changed) <= 3 * 10  # one span of at most 10 frames per started second
        spans.append(len(changed))
        again = _mask_time(frames, 70, 10, torch.Generator().manual_seed(seed))
        assert torch.equal(masked, again)  # drawn from the item's own generator
    assert max(spans) > 10 and min(spans) < max(spans)
    assert torch.equal(frames, _mask_time(frames, 70, 0, torch.Generator()))


def test_final_metrics_leave_out_what_the_last_phase_does_not_log(tmp_path):
    """The pre-training logs the memory's losses, the whole-model phase (memory frozen) does
    not: the last row's empty cells are left out, not read as numbers."""
    from l2s.training import final_metrics

    history = tmp_path / "history.csv"
    history.write_text("step,loss/ctc,loss/memory_recall,val/stoi\n400,2.0,0.06,0.43\n3900,0.0,,0.63\n")
    metrics = final_metrics(history, 3900, "best_val_stoi", 0.65)
    assert metrics == {"steps": 3900, "best_val_stoi": 0.65, "loss_ctc": 0.0, "val_stoi": 0.63}


def test_auto_precision_on_a_cpu_is_bf16_only_where_it_pays(monkeypatch):
    """`auto` on a CPU with native bf16: the whole model's steps and inference in bf16, the
    lip reader's pre-training and the vocoder in fp32; without native bf16, fp32 throughout."""
    autocast_dtype, cpu = training.autocast_dtype, torch.device("cpu")
    for native in (True, False):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
        assert autocast_dtype("auto", cpu) is None
        assert autocast_dtype("auto", cpu, cpu_bf16=True) is (torch.bfloat16 if native else None)
        # an explicit setting is what it says, everywhere
        assert autocast_dtype("bf16", cpu) is torch.bfloat16 and autocast_dtype("fp32", cpu, cpu_bf16=True) is None
