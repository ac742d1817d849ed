"""`l2s bench`: how fast each data step runs on this machine, against its anchors.

Works in a temporary repository root with a small corpus of its own, so it never
touches data/. Figures:
- corpus generation, seconds per clip (one process) and its parts;
- MediaPipe face mesh alone, ms per frame in tracking mode (the floor of preprocessing);
- preprocessing, frames per second per core, and its ratio to face mesh alone;
- the loader, clips per second from data/processed (memory-mapped);
- training step time and GFLOP/s of the demo and paper presets, next to the machine's
  convolution peak, and the generator alone;
- each neural vocoder preset: vocoding a 3 s clip (against Griffin-Lim's 60 iterations)
  and a training step with its FLOP;
- `l2s speak` on a 3 s clip, the whole path (decode, crop, generate, vocode), as a
  real-time factor with its parts, for both presets and with Griffin-Lim and the small
  neural vocoder (weights are random: speed only):
  warm (a Synthesiser that has voiced the clip before) and cold (a fresh `l2s speak`
  process, as a user meets it: imports, start-up and exit included);
- only with `--only memory`: the peak memory (resident set) and real-time factor of a
  fresh `l2s speak` process on long videos (`--seconds`, `--sizes`), made by looping a
  talking-face video from the scratch corpus without re-encoding it;
- only with `--only shared`: training steps and preprocessing while another process keeps
  one core busy, with the threads on every core (before) and kept to the free ones
  (l2s.parallel.CoreShare, now);
- only with `--only real`: `l2s speak --dnsmos` on the real videos `make setup` fetches,
  with the repository's trained model: real-time factor, peak memory and DNSMOS;
- only with `--only cluster`: preprocessing of `--clips` videos on one worker, a local Dask
  cluster of two, a process pool of two (as before Dask) and a scheduler with two workers
  started by the `dask` command line, with
  what the rate says of LRS3 on more cores; the bytes each of two torchrun ranks reads from
  a shard set per training step; training steps of the demo preset as one torchrun node of
  two processes and as two nodes of one process on this host.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

log = logging.getLogger(__name__)


def _timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def _root(tmp: Path, clips: int) -> None:
    from l2s import paths

    params = yaml.safe_load((paths.root() / "params.yaml").read_text())
    params["languages"] = {"en": {"source": "synthetic"}}
    params["corpus"].update(speakers=2, utterances_per_speaker=max(1, clips // 2), workers=1, languages={"en": {}})
    params["preprocess"]["workers"] = 1
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp / "dvc.yaml").write_text("stages: {}\n")
    os.environ["L2S_ROOT"] = str(tmp)


def corpus_parts(params, n: int) -> dict[str, float]:
    """Seconds per clip of each part of corpus generation, in this process."""
    from l2s.corpus import build
    from l2s.corpus.espeak import synthesize
    from l2s.corpus.motion import Track
    from l2s.corpus.visemes import mouth_track
    from l2s.data.media import write_video

    utts = build.plan("en", params)[:n]
    rng = np.random.default_rng(0)
    t = {"speech": 0.0, "face": 0.0, "encode": 0.0}
    for u in utts:
        speech, dt = _timed(synthesize, u.spoken, u.speaker.voice)
        t["speech"] += dt
        n_frames = int(75 * u.fps / 25)
        face = build._face(u.speaker.look, u.size)
        track = Track.draw(n_frames, u.fps, params.corpus.motion, rng)
        frames, dt = _timed(face.render, mouth_track(speech.phonemes, n_frames, u.fps), track)
        t["face"] += dt
        with tempfile.TemporaryDirectory() as d:
            _, dt = _timed(write_video, Path(d) / "x.mp4", frames, u.fps, speech.audio, speech.sample_rate)
        t["encode"] += dt
    return {k: v / len(utts) for k, v in t.items()}


def face_mesh_only(videos: list[Path], fps: float) -> tuple[float, int]:
    """Seconds of face mesh tracking alone over the videos' frames at the target fps."""
    from l2s.data import facecrop, media

    decoded = []
    for v in videos:
        clip = media.read_video(v)
        decoded.append(clip.frames[media.resample_indices(len(clip.frames), clip.fps, fps)][:75])
    total, frames = 0.0, 0
    with facecrop.FaceTracker() as tracker:
        for f in decoded:
            _, dt = _timed(tracker.track, f)
            total += dt
            frames += len(f)
    return total, frames


def loader_rate(lang: str, batch: int = 8, epochs: int = 3) -> float:
    import torch

    from l2s.data.dataset import ClipDataset, ProcessedLanguage

    data = ClipDataset(ProcessedLanguage(lang), "train")
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, num_workers=0)
    n, t0 = 0, time.perf_counter()
    for _ in range(epochs):
        for b in loader:
            n += len(b["clip_id"])
    return n / (time.perf_counter() - t0)


def data_rows(clips: int) -> list[tuple[str, str, str]]:
    """Corpus, face mesh, preprocessing and loader figures, one thread, in a scratch root."""
    from l2s import config, paths
    from l2s.corpus import build
    from l2s.data import preprocess
    from l2s.data.dataset import ProcessedLanguage

    params = config.load()
    n = len(build.plan("en", params))
    _, t_corpus = _timed(build.run, "en", params)
    parts = corpus_parts(params, min(n, 4))
    _, t_pre = _timed(preprocess.run, "en", params)
    processed_frames = sum(int(c["valid_frames"]) for c in ProcessedLanguage("en").clips)
    videos = sorted(paths.raw_dir("en").rglob("*.mp4"))
    t_mesh, mesh_frames = face_mesh_only(videos, params.preprocess.fps)
    rate = loader_rate("en")
    mesh_ms = 1000 * t_mesh / mesh_frames
    pre_fps = processed_frames / t_pre
    return [
        (
            "corpus generation",
            f"{t_corpus / n:.3f} s/clip",
            f"speech {parts['speech']:.3f} + face {parts['face']:.3f} + encode {parts['encode']:.3f} s",
        ),
        ("face mesh alone (tracking)", f"{mesh_ms:.2f} ms/frame", f"{1000 / mesh_ms:.0f} frames/s"),
        (
            "preprocessing, one core",
            f"{pre_fps:.0f} frames/s",
            f"{1000 / pre_fps:.2f} ms/frame = {1000 / pre_fps / mesh_ms:.2f}x face mesh alone (goal <= 1.5x)",
        ),
        ("loader (memory-mapped)", f"{rate:.0f} clips/s", f"batch 8, {rate * 75:.0f} frames/s"),
    ]


def conv_peak(device, repeats: int = 5) -> float:
    """GFLOP/s of one large fp32 convolution: what this machine can do at best."""
    import torch

    x = torch.randn(8, 128, 56, 56, device=device).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(128, 128, 3, padding=1, bias=False).to(device, memory_format=torch.channels_last)
    flops = 2 * 8 * 128 * 128 * 9 * 56 * 56
    with torch.no_grad():
        conv(x)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(repeats):
            conv(x)
        _sync(device)
    return flops * repeats / (time.perf_counter() - t0) / 1e9


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def training_flops(trainer, batch: dict, step: int = 0) -> float:
    """FLOP of one training step of `trainer` on `batch` as it trains at `step` (before or
    after train.gan_start). R1's double backward is left out: torch's counter cannot follow it."""
    from torch.utils.flop_counter import FlopCounterMode

    saved_step, saved_cfg = trainer.step, trainer.cfg
    trainer.step, trainer.cfg = step, dataclasses.replace(trainer.cfg, r1_weight=0.0)
    try:
        with FlopCounterMode(display=False) as counter:
            trainer.train_step(batch)
    finally:
        trainer.step, trainer.cfg = saved_step, saved_cfg
    return counter.get_total_flops()


def bench_trainer(preset: str, batch: int, precision: str):
    """A trainer of an English model of `preset` on the scratch corpus (nothing trained,
    nothing written), with the parameters it was made from and its device."""
    import torch

    from l2s import config
    from l2s.vcagan import train

    params = config.load()
    d, device = train.Dist(), torch.device("cuda" if torch.cuda.is_available() else "cpu")
    params = dataclasses.replace(
        params,
        train=dataclasses.replace(params.train, preset=preset, batch_size=batch, precision=precision),
        models={"bench": config.ModelEntry(languages=["en"])},
        evaluations={"bench-en": config.Evaluation(model="bench", lang="en")},
    )
    with tempfile.TemporaryDirectory() as out:
        trainer = train.Trainer("bench", params, Path(out), Path(out) / "h.csv", d, device)
    return trainer, params, device


def step_kinds(trainer, batch: int) -> list[tuple[str, dict, int]]:
    """Each kind of step of the recipe, as (name, a batch, a step it runs at): lip-reading
    pre-training on whole clips (train.reader_steps), then the whole model on windows,
    without and with the discriminators (train.gan_start)."""
    import torch

    cfg = trainer.cfg
    kinds = [("lip-reading pre-training step", trainer.reader_set, 0)] if cfg.reader_steps else []
    if cfg.gan_start > cfg.reader_steps:
        kinds.append(("training step, before gan_start", trainer.train_set, cfg.reader_steps))
    kinds.append(("training step", trainer.train_set, max(cfg.reader_steps, cfg.gan_start)))
    out = []
    for name, data, at_step in kinds:
        wanted = cfg.reader_batch if data is trainer.reader_set else batch
        size = min(wanted, len(data))  # a scratch corpus of a few clips (--clips) holds less than a batch
        out.append((name, next(iter(torch.utils.data.DataLoader(data, batch_size=size, shuffle=True))), at_step))
    return out


def model_rows(
    preset: str, batch: int, precision: str, steps: int = 3, with_vocoder: bool = False
) -> list[tuple[str, str, str]]:
    """Training step, generator and Griffin-Lim figures of one preset on this machine."""
    import torch

    from l2s.vcagan.inference import generate
    from l2s.vcagan.vocoder import to_wave

    trainer, params, device = bench_trainer(preset, batch, precision)
    rows = []
    for name, batch_data, at_step in step_kinds(trainer, batch):
        step_flops = training_flops(trainer, batch_data, at_step)
        trainer.step = at_step
        times = []
        for _ in range(steps):
            _sync(device)
            t0 = time.perf_counter()
            trainer.train_step(batch_data)
            _sync(device)
            times.append(time.perf_counter() - t0)
        step = min(times)
        window = batch_data["frames"].shape[1]
        rows.append(
            (
                f"{preset} ({precision}) {name}",
                f"{step:.3f} s",
                f"batch {len(batch_data['frames'])} x {window}, {step_flops / 1e9:.1f} GFLOP without R1"
                f" = {step_flops / step / 1e9:.0f} GFLOP/s",
            )
        )

    gen = trainer.gen.eval()
    clip = torch.from_numpy(np.array(trainer.data[0].frames[:1]))
    generate(gen, clip, dtype=trainer.dtype)
    gen_times = []
    for _ in range(3):
        _sync(device)
        t0 = time.perf_counter()
        mel = generate(gen, clip, dtype=trainer.dtype).mel[0].cpu()
        _sync(device)
        gen_times.append(time.perf_counter() - t0)
    t_gen = min(gen_times)
    _, t_gl = _timed(to_wave, mel, params.preprocess.mel)
    seconds = clip.shape[1] / params.preprocess.fps
    label = f"{preset} ({precision})"
    return [
        *rows,
        (f"{label} generator, 3 s clip", f"{t_gen:.3f} s", f"real-time factor {t_gen / seconds:.3f}"),
        *([("Griffin-Lim, 60 iterations", f"{t_gl:.3f} s", "per 3 s clip")] if with_vocoder else []),
    ]


def busy_core() -> subprocess.Popen:
    """Another process keeping one core busy (a Python loop), as on a shared machine."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def shared_rows(steps: int = 10) -> list[tuple[str, str, str]]:
    """Demo training steps (pre-training and whole model, bf16 where the CPU has it) alone
    and while another process keeps one core busy: on every core as before (fixed threads),
    and with `CoreShare` keeping the threads to the free cores, as training does now."""
    import torch

    from l2s.parallel import CoreShare, usable_cores

    cores = len(usable_cores())
    trainer, _, device = bench_trainer("demo", 8, "auto")
    if device.type != "cpu" or cores < 2:
        return [("shared machine", "skipped", f"needs 2 or more CPU cores and no GPU ({cores} cores, {device})")]
    saved = os.environ.pop("OMP_NUM_THREADS", None)  # CoreShare keeps to a fixed count where it is set
    rows = []
    try:
        for name, batch, at_step in step_kinds(trainer, 8)[:2]:  # the pre-training and the whole model
            trainer.step = at_step

            def seconds(share: CoreShare | None) -> float:
                trainer.train_step(batch)  # the first step after a thread change warms up
                t0 = time.perf_counter()
                for _ in range(steps):
                    if share is not None:
                        share.update()
                    trainer.train_step(batch)
                return (time.perf_counter() - t0) / steps

            torch.set_num_threads(cores)
            alone = seconds(None)
            competitor = busy_core()
            try:
                time.sleep(0.5)
                torch.set_num_threads(cores)
                before = seconds(None)
                share = CoreShare(every=1.0, what="bench")
                after = seconds(share)
            finally:
                competitor.kill()
                competitor.wait()
                torch.set_num_threads(cores)
            rows.append(
                (
                    f"demo {name}, one core busy with another process",
                    f"{after / alone:.2f}x alone",
                    f"{alone:.3f} s alone on {cores} threads; with the busy core: {before:.3f} s on {cores} threads "
                    f"({before / alone:.1f}x, before), {after:.3f} s on the free cores ({share.threads} thread(s))",
                )
            )
    finally:
        if saved is not None:
            os.environ["OMP_NUM_THREADS"] = saved
    return rows + [preprocess_shared_row()]


def preprocess_shared_row() -> tuple[str, str, str]:
    """Preprocessing of the scratch corpus (its worker processes, one thread each) alone and
    while another process keeps one core busy, each from an empty per-video cache."""
    import shutil

    from l2s import config, paths
    from l2s.data import preprocess
    from l2s.parallel import usable_cores

    params = config.load()  # the scratch root's one worker is for per-core figures; here the pipeline's
    params = dataclasses.replace(params, preprocess=dataclasses.replace(params.preprocess, workers=len(usable_cores())))

    def seconds() -> float:
        shutil.rmtree(paths.interim_dir("en"), ignore_errors=True)
        return _timed(preprocess.run, "en", params)[1]

    alone = seconds()
    competitor = busy_core()
    try:
        shared = seconds()
    finally:
        competitor.kill()
        competitor.wait()
    workers = params.preprocess.workers
    return (
        "preprocessing, one core busy with another process",
        f"{shared / alone:.2f}x alone",
        f"{alone:.1f} s alone, {shared:.1f} s with the busy core ({workers} worker processes of one thread; "
        f"a fair share of the cores would be {(workers + 1) / max(workers, len(usable_cores())):.2f}x)",
    )


# LRS3 (Afouras et al. 2018): about 151 k videos, 39 M frames at 25 fps (pretrain, trainval, test)
LRS3_FRAMES = 39e6


def cluster_rows() -> list[tuple[str, str, str]]:
    """Preprocessing of the scratch corpus from an empty cache on one worker (in process),
    a local Dask cluster of two processes, and a scheduler with two workers started by the
    `dask` command line, as on the machines of a cluster; with the projection for LRS3."""
    import shutil

    from l2s import config, paths
    from l2s.data import preprocess
    from l2s.data.cluster import dask_cli
    from l2s.data.dataset import ProcessedLanguage

    params = config.load()

    def rate(workers: int, cluster: str = "") -> tuple[float, float]:
        shutil.rmtree(paths.interim_dir("en"), ignore_errors=True)
        spread = dataclasses.replace(params.preprocess, workers=workers, cluster=cluster)
        _, seconds = _timed(preprocess.run, "en", dataclasses.replace(params, preprocess=spread))
        frames = sum(int(c["valid_frames"]) for c in ProcessedLanguage("en").clips)
        return len(ProcessedLanguage("en")) / seconds, frames / seconds

    def pool_rate() -> tuple[float, float]:
        """The same from a spawned multiprocessing.Pool of two single-threaded processes, as the
        stage ran before Dask: what the local cluster is measured against."""
        import multiprocessing

        from l2s.data.sources import list_items
        from l2s.parallel import single_thread

        shutil.rmtree(paths.interim_dir("en"), ignore_errors=True)
        t0 = time.perf_counter()
        cfg = params.preprocess_for("en")
        cache = paths.interim_dir("en")
        cache.mkdir(parents=True)
        items = list_items(params.source("en"), params.raw_dir("en"))
        tasks = [preprocess.Task(i, cfg, cache / f"{preprocess.cache_key(i, cfg)}.npz") for i in items]
        with multiprocessing.get_context("spawn").Pool(2, initializer=single_thread) as pool:
            for _ in pool.imap_unordered(preprocess.run_task, tasks):
                pass
        preprocess.pack("en", tasks, params, {})
        seconds = time.perf_counter() - t0
        frames = sum(int(c["valid_frames"]) for c in ProcessedLanguage("en").clips)
        return len(ProcessedLanguage("en")) / seconds, frames / seconds

    rows, one = [], rate(1)
    rows.append(("preprocessing, 1 worker (in process)", f"{one[0]:.2f} clips/s", f"{one[1]:.0f} frames/s"))
    two = rate(2)
    rows.append(
        ("preprocessing, local cluster of 2", f"{two[0]:.2f} clips/s", f"{two[1]:.0f} frames/s, start-up included")
    )
    pool = pool_rate()
    rows.append(
        (
            "preprocessing, process pool of 2",
            f"{pool[0]:.2f} clips/s",
            f"{pool[1]:.0f} frames/s, start-up included (the stage before Dask)",
        )
    )
    with dask_cli(2) as address:
        cli = rate(2, address)
    rows.append(("preprocessing, dask CLI cluster of 2", f"{cli[0]:.2f} clips/s", f"{cli[1]:.0f} frames/s"))
    per_core = cli[1] / 2
    hours = ", ".join(f"{cores} cores {LRS3_FRAMES / per_core / cores / 3600:.1f} h" for cores in (16, 64, 256))
    rows.append(
        (
            "LRS3 (39 M frames), projected",
            f"{LRS3_FRAMES / per_core / 3600:.0f} core-hours",
            f"{hours}: at the cluster's {per_core:.0f} frames/s per worker, every video independent "
            "(no shared state but the file system), the scheduler's ~1 ms a task (151 k tasks: minutes) not limiting",
        )
    )
    return rows


def shard_rows(clips_per_shard: int = 8, steps: int = 4) -> list[tuple[str, str, str]]:
    """What each of two torchrun ranks reads from a shard set per training step, counted by
    the shards' reader: the scratch corpus re-packed in shards (from the per-video cache),
    then each rank's share of the sampler's first steps read as training reads them, for a
    pre-training step (whole clips) and a whole-model step (windows)."""
    from l2s import config
    from l2s.data import preprocess, shards
    from l2s.data.dataset import ProcessedLanguage, ResumableSampler, WindowDataset

    params = config.load()
    sharded = dataclasses.replace(params.preprocess, shard_clips=clips_per_shard)
    preprocess.run("en", dataclasses.replace(params, preprocess=sharded))
    cfg, rows = params.train, []
    clip_frames = ProcessedLanguage("en").frames.shape[1]
    for step, window, batch in (
        ("pre-training step", clip_frames, cfg.reader_batch),
        ("whole-model step", cfg.window, cfg.batch_size),
    ):
        read, opened = [], []
        for rank in (0, 1):
            data = ProcessedLanguage("en")  # its own counters, no shard open yet
            clips = WindowDataset([data], "train", window, params.preprocess.mel)
            share = list(ResumableSampler(clips, 2, rank, cfg.seed, batch))
            done = max(1, min(steps, len(share) // batch))  # within the rank's first epoch
            for i in share[: done * batch]:
                clips[i]
            read.append(sum(getattr(data, k).bytes_read for k in shards.SHARDED) / done / 1e6)
            opened.append(len(data.frames._open))
        total = -(-len(ProcessedLanguage("en")) // clips_per_shard)
        rows.append(
            (
                f"shards, read per rank and {step}",
                f"{sum(read) / 2:.2f} MB",
                f"rank 0 {read[0]:.2f} MB, rank 1 {read[1]:.2f} MB ({done} steps of {batch} clips, window "
                f"{window} frames); frame shards opened: {opened[0]} and {opened[1]} of {total}",
            )
        )
    return rows


def nodes_rows(steps: int = 30) -> list[tuple[str, str, str]]:
    """Training steps of the demo preset (pre-training and whole model, batch 2 per process)
    as one torchrun node of two processes and as two nodes of one process each on this host
    (c10d rendezvous, gloo): the same global batch; the nodes pay the rendezvous and the
    transport, and no speed-up is expected on one host."""
    from l2s import config, paths, training
    from l2s.parallel import free_port

    base = yaml.safe_load((paths.root() / "params.yaml").read_text())
    small = {
        "steps": steps,
        "reader_steps": steps // 2,
        "reader_batch_size": 2,
        "batch_size": 2,
        "eval_every": 10 * steps,
    }
    base["train"].update(small, nproc="2")
    base["models"] = {"bench": {"languages": ["en"]}}
    base["evaluations"] = {"bench-en": {"model": "bench", "lang": "en"}}
    env = dict(os.environ, OMP_NUM_THREADS="1")
    rows = []
    for nodes in (1, 2):
        if nodes == 2:
            base["train"].update(nnodes=2, nproc="1", rdzv_endpoint=f"127.0.0.1:{free_port()}")
        (paths.root() / "params.yaml").write_text(yaml.safe_dump(base))
        cfg = config.load().train_config("bench")
        out = paths.root() / "nodes" / str(nodes)  # in the scratch root, removed with it
        out.mkdir(parents=True)
        cmd = [*training.launch_command("l2s.vcagan.train", "bench", cfg), "--out", str(out)]
        t0 = time.perf_counter()
        logs = [out / f"node{n}.log" for n in range(nodes)]
        procs = [subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT) for log in logs]
        if any(p.wait() for p in procs):
            tails = "\n".join(log.read_text()[-2000:] for log in logs)
            raise RuntimeError(f"training as {nodes} node(s) failed: {' '.join(cmd)}\n{tails}")
        seconds = time.perf_counter() - t0
        name = "one node of 2 processes" if nodes == 1 else "two nodes of 1 process"
        rows.append(
            (
                f"training, {name}",
                f"{steps / seconds:.2f} steps/s",
                f"{steps} steps in {seconds:.1f} s, start-up included",
            )
        )
    return rows


def vocoder_rows(presets: tuple[str, ...] = ("small", "full"), repeats: int = 5) -> list[tuple[str, str, str]]:
    """Each neural vocoder preset (untrained: the cost does not depend on the weights):
    vocoding a 3 s clip, warm, best of `repeats`, against Griffin-Lim's 60 iterations in
    model_rows; and a training step of the default recipe (batch x segment, generator and
    both discriminator families), with its FLOP from torch's counter."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from l2s import config
    from l2s.vocoder import losses
    from l2s.vocoder.discriminators import Discriminators
    from l2s.vocoder.model import Vocoder
    from l2s.vocoder.presets import vocoder_config

    params = config.load()
    mel_cfg, cfg = params.preprocess.mel, params.vocoder
    rows = []
    for preset in presets:
        model_cfg = vocoder_config(preset, {}, mel_cfg)
        vocoder, disc = Vocoder(model_cfg), Discriminators(model_cfg)
        mel_loss = losses.MultiResolutionMelLoss(mel_cfg.sample_rate)
        clip = torch.randn(1, mel_cfg.n_mels, 300) - 5
        with torch.no_grad():
            vocoder(clip)
            t_clip = min(_timed(vocoder, clip)[1] for _ in range(repeats))
        mel = torch.randn(cfg.batch_size, mel_cfg.n_mels, cfg.segment_frames) - 5
        real = torch.randn(cfg.batch_size, cfg.segment_frames * mel_cfg.hop) * 0.1

        def step():
            fake = vocoder(mel)
            loss_d, _ = losses.discriminator_loss(disc(real), disc(fake.detach()))
            loss_d.backward()
            loss_g, _ = losses.generator_loss(mel_loss(fake, real), disc(real), disc(fake))
            loss_g.backward()

        step()
        t_step = min(_timed(step)[1] for _ in range(max(1, repeats // 2)))
        with FlopCounterMode(display=False) as counter:
            step()
        flop = counter.get_total_flops()
        segment = f"{cfg.batch_size} x {cfg.segment_frames / 100:.2f} s"
        rows += [
            (f"vocoder {preset}, 3 s clip", f"{t_clip:.4f} s", f"real-time factor {t_clip / 3:.4f}"),
            (f"vocoder {preset} training step", f"{t_step:.3f} s", f"batch {segment}, {flop / 1e9:.1f} GFLOP"),
        ]
    return rows


def untrained_checkpoint(preset: str, folder: Path) -> Path:
    """A checkpoint of an untrained generator of `preset`, as training writes it, with
    params.yaml's preprocessing: what `l2s speak` loads, for timing and tests."""
    import torch

    from l2s import config
    from l2s.vcagan.inference import generator_checkpoint
    from l2s.vcagan.model import Generator
    from l2s.vcagan.presets import model_config

    params = config.load()
    gen = Generator(model_config(preset, mel=params.preprocess.mel))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{preset}.pt"
    torch.save(generator_checkpoint(gen, ["en"], params.preprocess.mel, dataclasses.asdict(params.preprocess)), path)
    return path


def untrained_vocoder(preset: str, folder: Path) -> Path:
    """A checkpoint of an untrained neural vocoder of `preset` with params.yaml's audio
    features (its cost does not depend on the weights): what `l2s speak --vocoder` loads."""
    import torch

    from l2s import config
    from l2s.vocoder.model import Vocoder, vocoder_checkpoint
    from l2s.vocoder.presets import vocoder_config

    mel = config.load().preprocess.mel
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"vocoder_{preset}.pt"
    torch.save(vocoder_checkpoint(Vocoder(vocoder_config(preset, {}, mel)), mel), path)
    return path


def cold_speak(video: Path, checkpoint: Path, repeats: int = 3, vocoder: str = "mel") -> tuple[float, dict[str, float]]:
    """Wall seconds of a fresh `l2s speak` process on `video`, the median of `repeats`, and
    the parts that run logged (decode, crop, generate, vocode)."""
    import l2s

    package_root = str(Path(l2s.__file__).parents[1])  # the child speaks with this l2s, not another install
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "l2s.cli", "speak", str(video), "--model", str(checkpoint), "--vocoder", vocoder]
    runs = []
    for i in range(repeats):
        out = video.with_name(f"cold{i}.wav")
        t0 = time.perf_counter()
        done = subprocess.run([*cmd, "-o", str(out)], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        parts = logged_timings(done.stderr)
        if done.returncode or not parts:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        runs.append((wall, parts))
    return sorted(runs, key=lambda run: run[0])[len(runs) // 2]


def logged_timings(log_text: str) -> dict[str, float]:
    """The parts of speak's work from its own log line, "<video> -> <wav> (3.0 s of speech;
    decode 0.021 s, crop 0.180 s, ...)": {"decode": 0.021, ...}, empty when it has none."""
    logged = re.search(r" s of speech; (.*)\)$", log_text, re.MULTILINE)
    return {k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+) s", logged.group(1))} if logged else {}


def speak_rows(presets: tuple[str, ...] = ("demo", "paper"), repeats: int = 3) -> list[tuple[str, str, str]]:
    """`l2s speak` on a 3 s, 25 fps video cut from the scratch corpus, for both presets and
    with each vocoder (Griffin-Lim; the small neural vocoder): warm, the best of `repeats`
    calls of one Synthesiser, and cold, the median of `repeats` fresh processes."""
    import csv

    from l2s import paths
    from l2s.data import media
    from l2s.vcagan.speak import Synthesiser

    raw = paths.raw_dir("en")
    with open(raw / "manifest.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["kind"] != "short" and float(r["fps"]) == 25.0)
    source = media.read_video(raw / row["path"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "3s.mp4"
        media.write_video(video, source.frames[:75], 25.0, source.audio[: 3 * source.sample_rate], source.sample_rate)
        vocoders = {"Griffin-Lim": "mel", "neural small": str(untrained_vocoder("small", Path(tmp)))}
        for preset in presets:
            checkpoint = untrained_checkpoint(preset, Path(tmp))
            for vocoder_name, vocoder in vocoders.items():
                synth = Synthesiser(checkpoint, vocoder=vocoder)
                synth(video)  # warm-up: first calls build MediaPipe graphs and FFT plans
                best = min((synth(video) for _ in range(repeats)), key=lambda s: sum(s.timings.values()))
                total = sum(best.timings.values())
                precision = "fp32" if synth.dtype is None else str(synth.dtype).removeprefix("torch.")
                label = f"{preset} ({precision}), {vocoder_name}, 3 s clip"
                parts = ", ".join(f"{k} {v:.3f}" for k, v in best.timings.items())
                rows.append(
                    (
                        f"l2s speak, {label}",
                        f"RTF {total / best.seconds:.3f}",
                        f"{total:.3f} s = {parts} s; {best.seconds / total:.1f}x faster than real time",
                    )
                )
                wall, timings = cold_speak(video, checkpoint, repeats, vocoder)
                start = wall - sum(timings.values())  # imports, loading the checkpoint, writing the .wav, exit
                parts = " + ".join(f"{k} {v:.3f}" for k, v in timings.items())
                rows.append(
                    (
                        f"l2s speak cold, {label}",
                        f"{wall:.3f} s",
                        f"a fresh process, median of {repeats}: start-up and exit {start:.3f} + {parts} s",
                    )
                )
    return rows


def talking_video(seconds: float, width: int, height: int, out: Path) -> Path:
    """A video of `seconds` at width x height and 25 fps: 30 s of the corpus's 25 fps clips
    end to end (re-encoded once, the face scaled to 4/5 of the height and centred), looped
    with `ffmpeg -stream_loop` and copied, not re-encoded, up to the length asked for."""
    import csv

    from l2s import paths
    from l2s.data.media import require_ffmpeg

    require_ffmpeg()
    raw = paths.raw_dir("en")
    with open(raw / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if float(r["fps"]) == 25.0]
    clips, total = [], 0.0
    for r in rows:  # about 30 s of speech to loop: longer only costs encoding time
        if total >= 30.0:
            break
        clips.append(raw / r["path"])
        total += float(r["seconds"])
    base = out.with_name(f"base_{width}x{height}.mp4")
    if not base.exists():
        listing = out.with_name("clips.txt")
        listing.write_text("".join(f"file '{c}'\n" for c in clips))
        face = height * 4 // 5 // 2 * 2
        scale = f"scale={face}:{face},pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:gray,fps=25"
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
        cmd += ["-vf", scale, "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(base)]
        subprocess.run(cmd, check=True)
    loop = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(base), "-c", "copy"]
    subprocess.run([*loop, "-t", f"{seconds}", str(out)], check=True)
    return out


def speak_memory(
    video: Path, checkpoint: Path, vocoder: str = "mel", package_root: str | None = None, extra: tuple[str, ...] = ()
) -> dict:
    """A fresh `l2s speak` process on `video` (with the options `extra`): its peak resident
    memory (bytes, the kernel's high-water mark of the process), wall seconds, the seconds
    of speech written and its log; `error` holds the last lines of the log when it failed.
    `package_root`: the l2s to run (default: this one)."""
    import l2s

    root = package_root or str(Path(l2s.__file__).parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    script = (
        "import resource, sys\n"
        "from l2s import cli\n"
        "code = cli.main(sys.argv[1:])\n"
        "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        "sys.exit(code)\n"
    )
    wav = video.with_suffix(".wav")
    cmd = [sys.executable, "-c", script, "speak", str(video), "--model", str(checkpoint), "--vocoder", vocoder]
    t0 = time.perf_counter()
    done = subprocess.run([*cmd, *extra, "-o", str(wav)], env=env, cwd=root, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak = re.search(r"peak_rss_kib (\d+)", done.stdout)
    result = {"peak": int(peak.group(1)) * 1024 if peak else 0, "wall": wall, "speech": 0.0, "error": ""}
    result["log"] = done.stderr
    if done.returncode or not wav.exists():
        result["error"] = done.stderr.strip()[-600:]
    else:
        import soundfile as sf

        result["speech"] = sf.info(str(wav)).duration
        wav.unlink()
    return result


def memory_rows(
    seconds: tuple[float, ...] = (20, 200), sizes: tuple[str, ...] = ("360x288",), preset: str = "demo"
) -> list[tuple[str, str, str]]:
    """Peak memory and real-time factor of `l2s speak` (a fresh process, Griffin-Lim, an
    untrained `preset` generator) on looped talking-face videos of each length and size."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = untrained_checkpoint(preset, Path(tmp))
        for size in sizes:
            width, height = (int(v) for v in size.split("x"))
            for length in seconds:
                video = talking_video(length, width, height, Path(tmp) / f"{size}_{length:g}s.mp4")
                run = speak_memory(video, checkpoint)
                video.unlink()
                label = f"l2s speak memory, {preset}, {size}, {_duration(length)}"
                if run["error"]:
                    rows.append((label, "failed", run["error"].splitlines()[-1][:200]))
                    continue
                rows.append(
                    (
                        label,
                        f"{run['peak'] / 2**20:.0f} MiB peak",
                        f"{run['wall']:.2f} s wall, RTF {run['wall'] / length:.3f} (a fresh process); "
                        f"{run['speech']:.1f} s of speech",
                    )
                )
    return rows


def real_rows(checkpoint: Path | None) -> list[tuple[str, str, str]]:
    """`l2s speak --dnsmos` on each real talking-face video of l2s.data.real_footage, a fresh
    process each: the real-time factor of its work (decode, crop, generate, vocode, against
    the video's length) and of the whole process, its peak memory, and DNSMOS OVRL of the
    speech. With `checkpoint` (the pipeline's trained model) where there is one, else an
    untrained demo generator (then the speed and memory hold, the DNSMOS does not)."""
    from l2s.data import media, real_footage

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = checkpoint or untrained_checkpoint("demo", Path(tmp))
        which = "the trained model" if checkpoint else "an untrained demo generator"
        for item in real_footage.FOOTAGE:
            try:
                source = real_footage.path(item.name)
            except FileNotFoundError as e:
                rows.append((f"l2s speak, real video {item.name}", "skipped", str(e).splitlines()[0][:200]))
                continue
            video = Path(tmp) / source.name  # a link: speak_memory's .wav goes beside it, not into the cache
            video.symlink_to(source)
            seconds = media.probe(video)[3]
            run = speak_memory(video, model, extra=("--dnsmos",))
            label = f"l2s speak, real video {item.name} ({seconds:.1f} s)"
            if run["error"]:
                rows.append((label, "failed", run["error"].splitlines()[-1][:200]))
                continue
            parts = logged_timings(run["log"])
            ovrl = re.search(r"DNSMOS OVRL ([\d.]+)", run["log"])
            work = sum(parts.values())
            rows.append(
                (
                    label,
                    f"RTF {work / seconds:.3f}",
                    f"{work:.2f} s = " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + " s; a fresh process "
                    f"{run['wall']:.2f} s (RTF {run['wall'] / seconds:.2f}), {run['peak'] / 2**20:.0f} MiB peak; "
                    f"DNSMOS OVRL {ovrl.group(1) if ovrl else '?'} ({which})",
                )
            )
    return rows


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


def main(args) -> None:
    import torch

    from l2s import config, parallel, paths

    if args.only == "real":  # with the repository's own trained model: no scratch corpus
        trained = paths.best_checkpoint(next(iter(config.load().models)))
        _print(real_rows(trained if trained.exists() else None))
        return
    old_root = os.environ.get("L2S_ROOT")
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="l2s-bench-") as tmp:
        # training as nodes needs validation clips: a corpus of 32 at least
        _root(Path(tmp), max(32 if args.only == "cluster" else 4, args.clips))
        threads = torch.get_num_threads()
        if args.only in ("all", "data"):
            parallel.single_thread()  # per-core figures
            rows += data_rows(max(4, args.clips))
            torch.set_num_threads(threads)
        elif not (Path(tmp) / "data" / "processed" / "en").exists():
            from l2s.corpus import build
            from l2s.data import preprocess

            build.run("en", config.load())
            if args.only in ("model", "shared", "cluster"):
                preprocess.run("en", config.load())
        if args.only in ("all", "model"):
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            rows.append(("fp32 convolution peak", f"{conv_peak(device):.0f} GFLOP/s", f"{threads} threads, {device}"))
            for preset, batch in (("demo", 8), ("paper", 4)):
                if preset not in args.presets:
                    continue
                for precision in ("fp32", "bf16"):
                    rows += model_rows(preset, batch, precision, with_vocoder=(preset, precision) == ("demo", "fp32"))
        if args.only in ("all", "vocoder"):
            rows += vocoder_rows()
        if args.only in ("all", "speak"):
            rows += speak_rows(tuple(args.presets))
        if args.only == "shared":  # a minute with a core kept busy: only when asked for
            rows += shared_rows()
        if args.only == "cluster":  # a dask cluster started and training as two nodes: only when asked for
            rows += cluster_rows() + shard_rows() + nodes_rows()
        if args.only == "memory":  # minutes per long video: only when asked for
            rows += memory_rows(tuple(args.seconds), tuple(args.sizes), args.presets[0])
    if old_root is None:
        os.environ.pop("L2S_ROOT", None)
    else:
        os.environ["L2S_ROOT"] = old_root
    _print(rows)


def _print(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"l2s bench ({os.cpu_count()} cores)")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>16}   {note}")
