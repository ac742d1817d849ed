"""Training a neural vocoder on a tiny real corpus: checkpoints that rebuild it, an exact
resume, and the test stage voicing a model with it."""

import os
import re
import subprocess
import sys

import pytest
import torch

from l2s import config, paths, training
from l2s.parallel import free_port
from l2s.vocoder import train
from l2s.vocoder.model import load_vocoder
from tests.helpers import english_root, two_nodes, weights_that_differ, write_params

TINY = {
    "model": {"dim": 16, "intermediate": 32, "blocks": 2, "mpd_channels": [4, 4], "mrd_channels": 4},
    "steps": 4,
    "batch_size": 2,
    "segment_frames": 16,
    "gan_start": 2,
    "lr_decay": "none",  # a schedule over `steps` would differ between a 4- and a 6-step run
    "eval_every": 2,
    "eval_clips": 1,
    "log_every": 1,
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A repository root with 8 preprocessed English clips (6 train, 2 val)."""
    return english_root(tmp_path_factory.mktemp("vocoderroot"), vocoder=TINY, vocoders={"voc": {"languages": ["en"]}})


def _run(root, out, steps):
    write_params(root, base=root / "params.yaml", vocoder={**TINY, "steps": steps})
    cmd = [sys.executable, "-m", "l2s.vocoder.train", "voc", "--out", str(out)]
    p = subprocess.run(cmd, cwd=root, env=dict(os.environ, L2S_ROOT=str(root)), capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"step (\d+)/\d+\s+(.*?)\s+\(", p.stderr)}, p.stderr


def test_vocoder_trains_saves_and_resumes_exactly(root, tmp_path):
    straight, _ = _run(root, tmp_path / "straight", 6)
    assert set(straight) == {1, 2, 3, 4, 5, 6} and "d_mpd" in straight[3] and "d_mpd" not in straight[2]
    _run(root, tmp_path / "resumed", 4)
    again, log = _run(root, tmp_path / "resumed", 6)
    assert "resumed" in log and set(again) == {5, 6}
    assert again == {5: straight[5], 6: straight[6]}
    vocoder, meta = load_vocoder(tmp_path / "resumed" / paths.LAST)
    assert meta["step"] == 6 and meta["languages"] == ["en"]
    assert vocoder(torch.zeros(1, 80, 10)).shape == (1, 10 * meta["mel"].hop)
    history = (tmp_path / "resumed" / "history.csv").read_text().splitlines()
    assert history[0].startswith("step,") and "val/pesq_wb" in history[0] and len(history) == 4


def test_a_changed_recipe_starts_afresh(root, tmp_path, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(root))
    _run(root, tmp_path / "v", 2)
    write_params(root, base=root / "params.yaml", vocoder={**TINY, "steps": 3, "lr": 1e-3})
    params = config.load(root / "params.yaml")
    trainer = train.VocoderTrainer("voc", params, tmp_path / "v", train.Dist(), torch.device("cpu"))
    assert not trainer.resume() and trainer.step == 0


def test_unknown_vocoder_knob_fails_on_load(root, tmp_path):
    bad = {"voc": {"languages": ["en"], "train": {"model": {"widht": 3}}}}
    path = write_params(tmp_path, base=root / "params.yaml", vocoders=bad)
    with pytest.raises(config.ConfigError, match="widht"):
        config.load(path)
    path = write_params(tmp_path, base=root / "params.yaml", test={"vocoder": "nosuch"})
    with pytest.raises(config.ConfigError, match="test.vocoder: mel, linear or a vocoder of `vocoders:` \\(voc\\)"):
        config.load(path)


def test_the_test_stage_voices_with_a_trained_vocoder(root, tmp_path, monkeypatch):
    """train() in the pipeline's places, then test.speak with test.vocoder naming it: the
    generated speech and its ceiling (copy synthesis) both come from the vocoder, and the
    same mels voiced by Griffin-Lim are scored beside them."""
    import dataclasses
    import json

    from l2s.bench import untrained_checkpoint
    from l2s.evaluation import test

    monkeypatch.setenv("L2S_ROOT", str(root))
    write_params(root, base=root / "params.yaml", vocoder={**TINY, "steps": 2})
    params = config.load(root / "params.yaml")
    metrics = train.train("voc", params)
    assert metrics["steps"] == 2 and (root / "models/vocoders/voc/best.pt").exists()
    assert json.loads((root / "reports/records/vocoder/voc.json").read_text())["steps"] == 2
    # its curves for the vocoder stage's `dvc plots`: one file per kind, every row a step
    validation = (root / "reports/plots/vocoder/validation/voc.csv").read_text().splitlines()
    assert validation[0] == "step,val/stoi,val/estoi,val/pesq_wb" and validation[-1].startswith("2,")
    checkpoint = untrained_checkpoint("demo", tmp_path)
    cfg = dataclasses.replace(params.test, vocoder="voc", workers=1)
    spoken = test.speak(checkpoint, "en", "val", cfg, tmp_path / "out")
    assert spoken["clips"] == 2 and 0 <= spoken["ceiling"]["stoi"] <= 1
    assert len(list((tmp_path / "out/wav").rglob("*.wav"))) == 2
    for kind in ("wav", "ceiling"):
        assert len(list((tmp_path / "out/griffin_lim" / kind).rglob("*.wav"))) == 2
    gl = spoken["griffin_lim"]
    assert set(gl) >= {"stoi", "pesq_wb", "ceiling"} and gl["ceiling"]["stoi"] != spoken["ceiling"]["stoi"]
    header = (tmp_path / "out/scores.csv").read_text().splitlines()[0].split(",")
    assert {"stoi", "ceiling_stoi", "griffin_lim_stoi", "griffin_lim_ceiling_pesq_wb"} <= set(header)
    missing = dataclasses.replace(cfg, vocoder="other")
    with pytest.raises(FileNotFoundError, match="dvc repro vocoder@other"):
        test.speak(checkpoint, "en", "val", missing, tmp_path / "out2")


@pytest.mark.slow
def test_vocoder_trains_under_torchrun_with_two_cpu_processes(root, tmp_path):
    """As the generator's training: two gloo processes, each on its shard of the segments,
    and rank 0 alone writes the checkpoints, history and metrics."""
    write_params(root, base=root / "params.yaml", vocoder={**TINY, "steps": 3})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    cmd += ["-m", "l2s.vocoder.train", "voc", "--out", str(tmp_path / "ddp")]
    p = subprocess.run(cmd, cwd=root, env=dict(os.environ, L2S_ROOT=str(root)), capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "step 3/3" in p.stderr
    vocoder, meta = load_vocoder(tmp_path / "ddp" / paths.LAST)
    assert meta["step"] == 3 and sorted(f.name for f in (tmp_path / "ddp").iterdir()) == [
        "best.pt",
        "history.csv",
        "last.pt",
        "metrics.json",
        "tb",
    ]


@pytest.mark.slow
def test_two_torchrun_nodes_train_the_vocoder_one_node_trains(root, tmp_path):
    """As the generator's: vocoder.nnodes 2 on this host against one node of two processes."""
    write_params(root, base=root / "params.yaml", vocoder={**TINY, "steps": 3})
    one = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    one += ["-m", "l2s.vocoder.train", "voc", "--out", str(tmp_path / "one")]
    p = subprocess.run(one, cwd=root, env=dict(os.environ, L2S_ROOT=str(root)), capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    nodes = {"nnodes": 2, "nproc": "1", "rdzv_endpoint": f"127.0.0.1:{free_port()}"}
    write_params(root, base=root / "params.yaml", vocoder={**TINY, "steps": 3, **nodes})
    cmd = training.launch_command("l2s.vocoder.train", "voc", config.load(root / "params.yaml").vocoder_config("voc"))
    try:
        two_nodes([*cmd, "--out", str(tmp_path / "two")], root)
    finally:  # the module's other tests run as one process
        write_params(root, base=root / "params.yaml", vocoder={**TINY, "nnodes": 1, "nproc": "auto"})
    assert weights_that_differ(tmp_path / "one/last.pt", tmp_path / "two/last.pt", ("vocoder", "discriminators")) == []
