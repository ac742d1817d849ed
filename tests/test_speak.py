"""`l2s speak`: windows and their cross-fade, the same crop as preprocessing, faces,
errors, batch mode, muxing, and the CLI. An untrained demo generator is enough: these
tests check the path a video takes, not what the model says."""

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from l2s import cli, config
from l2s.bench import untrained_checkpoint
from l2s.corpus import build
from l2s.data import preprocess
from l2s.data.media import read_video
from l2s.data.sources import list_items
from l2s.vcagan import speak as speaking
from l2s.vcagan.inference import CHECKPOINT_FORMAT, load_generator
from l2s.vcagan.speak import SpeakError, Synthesiser, blend, speak, windows
from tests.helpers import talking_video, write_params


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("n", [8, 75, 76, 130, 151, 500, 1999])
def test_windows_cover_the_video_and_overlap(n):
    spans = windows(n, 75, 15)
    assert spans[0][0] == 0 and spans[-1][1] == n
    assert len({e - s for s, e in spans}) == 1 and spans[0][1] <= 75  # one length: one batch
    for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
        assert s0 < s1 and e0 - s1 >= 15  # neighbours share at least the overlap
    # no more work than needed: fewer windows would overlap too little or be too long
    assert len(spans) == max(1, -(-(n - 15) // 60))
    assert windows(76, 75, 15) == [(0, 46), (30, 76)]


def test_blend_cross_fades_without_a_jump():
    n, ramp = 130, 60
    spans = [(0, 75), (55, 130)]
    levels = [-2.0, 3.0]
    pieces = [np.full((4, 300), v, np.float32) for v in levels]
    out = blend(pieces, spans, n, ramp)
    assert out.shape == (4, 4 * n)
    assert np.allclose(out[:, :200], -2.0) and np.allclose(out[:, -200:], 3.0)
    steps = np.abs(np.diff(out[0]))
    # the hand-over is spread over the fade: no step bigger than an even share of it
    assert steps.max() <= (levels[1] - levels[0]) / ramp * 1.05
    # pieces that agree come back unchanged
    same = [np.arange(300, dtype=np.float32)[None].repeat(2, 0) + 4 * s for s, _ in spans]
    assert np.allclose(blend(same, spans, n, ramp), np.arange(4 * n)[None])


# --------------------------------------------------------------------------- one root for the module


@pytest.fixture(scope="module")
def root(tmp_path_factory, face_frame):
    """A scratch repository with a tiny 30 fps synthetic corpus and an untrained demo model."""
    tmp = tmp_path_factory.mktemp("speak")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("L2S_ROOT", str(tmp))
        (tmp / "dvc.yaml").write_text("stages: {}\n")
        tiny = {"speakers": 1, "utterances_per_speaker": 2, "workers": 1, "fps30_fraction": 1.0}
        tiny |= {"short_fraction": 0.0, "long_fraction": 0.0, "image_size": 160, "languages": {"en": {}}}
        params = config.load(write_params(tmp, languages={"en": {"source": "synthetic"}}, corpus=tiny))
        build.run("en", params)
        untrained_checkpoint("demo", tmp / "models")
        yield tmp


@pytest.fixture
def synth(root, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(root))
    return Synthesiser(root / "models" / "demo.pt")


def test_speaks_a_30fps_corpus_video_cropped_exactly_as_preprocessing(root, synth, monkeypatch):
    params = config.load(root / "params.yaml")
    item = list_items(params.source("en"), root / "data" / "raw" / "en")[0]
    assert read_video(item.path).fps == 30.0
    speech = synth(item.path)
    seconds = read_video(item.path).video_seconds
    assert speech.sample_rate == 16000 and abs(speech.seconds - seconds) < 0.05
    assert np.isfinite(speech.wave).all() and 0.5 < np.abs(speech.wave).max() <= 0.9 + 1e-6
    assert speech.mel.shape == (80, 4 * len(speech.crops))
    assert len(speech.faces) == 1 and speech.no_face == ""
    assert set(speech.timings) == {"decode", "crop", "generate", "vocode"}
    clips = preprocess.process_video(item, params.preprocess)
    valid = clips[0].valid_frames
    # preprocessing tracks only the 3 s it keeps, so its smoothing window is cut short at
    # the clip's last frames; everywhere else the crops are the same to the bit
    inside = valid - params.preprocess.smooth_window // 2
    assert np.array_equal(clips[0].frames[:inside], speech.crops[:inside])
    again = synth(item.path)
    assert np.array_equal(again.wave, speech.wave)  # seeded: the same video gives the same speech


def test_a_long_video_goes_through_overlapping_windows(tmp_path, synth, face_frame):
    video = talking_video(tmp_path / "long.mp4", face_frame, seconds=20.0, audio=False)
    speech = synth(video)
    assert len(speech.crops) == 500 and abs(speech.seconds - 20.0) < 0.05
    assert len(windows(500, synth.window, synth.overlap)) == 4
    assert np.isfinite(speech.mel).all()


def test_largest_face_by_default_and_face_index(tmp_path, synth, face_frame):
    import cv2

    from l2s.corpus.talking_face import load_photo

    hopper = load_photo("grace_hopper")  # another person, smaller
    small = cv2.resize(hopper[40:440, 60:460], (128, 128), interpolation=cv2.INTER_AREA)
    canvas = np.full((192, 352, 3), 90, np.uint8)
    canvas[:, :192] = face_frame
    canvas[32:160, 208:336] = small
    video = talking_video(tmp_path / "two.mp4", canvas, seconds=1.2, audio=False)
    alone = canvas.copy()
    alone[:, :192] = 90  # the small face by itself, where it was
    video_alone = talking_video(tmp_path / "alone.mp4", alone, seconds=1.2, audio=False)

    first, second = synth(video), synth(video, face_index=1)
    assert len(first.faces) == 2 and first.faces[0].width > first.faces[1].width
    assert first.faces[0].centre[0] < 192 < first.faces[1].centre[0]
    by_itself = synth(video_alone).crops.astype(int)
    assert np.abs(second.crops.astype(int) - by_itself).mean() < 6  # the small face, followed
    assert np.abs(first.crops.astype(int) - by_itself).mean() > 15  # not the large one
    with pytest.raises(SpeakError, match=r"face index 2, but 2 face\(s\) found: #0: .*#1: "):
        synth(video, face_index=2)


def test_no_face_and_unreadable_files(tmp_path, synth, face_frame):
    blank = talking_video(tmp_path / "blank.mp4", np.full((96, 96, 3), 128, np.uint8), seconds=1.0, audio=False)
    with pytest.raises(SpeakError, match=r"no face found anywhere in 0\.00-1\.00 s"):
        synth(blank)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(SpeakError, match="junk.mp4 cannot be opened"):
        synth(junk)
    with pytest.raises(SpeakError, match="no such file"):
        synth(tmp_path / "missing.mp4")


def test_rotate_turns_a_video_stored_sideways(tmp_path, root, synth, face_frame):
    from l2s.data.facecrop import turn

    sideways = talking_video(tmp_path / "left.mp4", turn(face_frame[None], 270)[0], seconds=1.2, audio=False)
    with pytest.raises(SpeakError, match="left.mp4: no face found .*turned 90 degrees clockwise .*try --rotate 90"):
        synth(sideways)
    turned = Synthesiser(root / "models" / "demo.pt", rotate=90)(sideways)
    upright = synth(talking_video(tmp_path / "upright.mp4", face_frame, seconds=1.2, audio=False))
    assert np.abs(turned.crops.astype(int) - upright.crops).mean() < 4  # the upright face's crop


def _whole_video_at_once(synth: Synthesiser, video, face_index: int = 0):
    """What `l2s speak` did before it streamed: every frame held, the face tracked, smoothed
    and cropped over the whole array, the generator's windows blended in one piece and the
    vocoder run once over the whole spectrogram. Crops, ln-mel and waveform."""
    from l2s.data import facecrop
    from l2s.vcagan.inference import generate
    from l2s.vcagan.vocoder import to_waves

    cfg = synth.preprocess
    frames = read_video(video, audio=False, fps=cfg.fps).frames
    faces = facecrop.find_faces(frames, samples=int(np.clip(len(frames) / cfg.fps, 3, 12)))
    follow = faces[face_index] if len(faces) > 1 else None
    points, _ = facecrop.track_face(frames, cfg, follow=follow, max_faces=len(faces))
    crops = facecrop.crop(frames, points, cfg.crop)
    spans = windows(len(crops), synth.window, synth.overlap)
    torch.manual_seed(synth.seed)
    mels = []
    for i in range(0, len(spans), speaking.WINDOW_BATCH):
        batch = torch.from_numpy(np.stack([crops[s:e] for s, e in spans[i : i + speaking.WINDOW_BATCH]]))
        mels += list(generate(synth.gen, batch, language=synth.language, dtype=synth.dtype).mel.numpy())
    mel = blend(mels, spans, len(crops), synth.overlap * 4)
    vocode = dict(iterations=synth.iterations, seed=synth.seed, neural=synth.neural)
    return crops, mel, to_waves(torch.from_numpy(mel)[None], synth.mel_cfg, **vocode)[0]


def test_streaming_gives_what_the_whole_video_at_once_gives(root, tmp_path, face_frame, monkeypatch):
    """14 s: three generator windows in one batch, one vocoder chunk. Streamed through the
    two passes and written to a .wav as it comes, the speech is the same to the bit."""
    monkeypatch.setenv("L2S_ROOT", str(root))
    synth = Synthesiser(root / "models" / "demo.pt", griffin_lim_iters=4)
    video = talking_video(tmp_path / "v.mp4", face_frame, seconds=14.0, audio=False)
    crops, mel, wave = _whole_video_at_once(synth, video)
    speech = synth(video, output=tmp_path / "kept.wav")
    assert np.array_equal(speech.crops, crops) and np.array_equal(speech.mel, mel)
    assert len(windows(len(crops), synth.window, synth.overlap)) == 3
    assert np.array_equal(speech.wave, wave) and speech.samples == len(wave) == 14 * 16000
    speech.save(tmp_path / "saved.wav")
    assert _sha(tmp_path / "kept.wav") == _sha(tmp_path / "saved.wav")  # the file written while speaking
    lean = synth(video, output=tmp_path / "lean.wav", keep=False)
    assert _sha(tmp_path / "lean.wav") == _sha(tmp_path / "saved.wav")
    assert lean.wave.size == lean.mel.size == lean.crops.size == 0 and lean.seconds == pytest.approx(14.0)
    with pytest.raises(ValueError, match=r"not kept \(keep=False\); it was written to .*lean.wav"):
        lean.save(tmp_path / "x.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.wav", "lean.wav", "saved.wav", "v.mp4"]  # no spool left


def test_many_generator_batches_and_vocoder_chunks(root, tmp_path, face_frame, monkeypatch):
    """The same 20 s with one window per generator call and 3 s vocoder chunks: the
    spectrogram is still the whole one's to the bit, and a neural vocoder's waveform too up
    to float rounding (its chunks overlap by more than it can hear)."""
    from l2s.bench import untrained_vocoder

    monkeypatch.setenv("L2S_ROOT", str(root))
    synth = Synthesiser(root / "models" / "demo.pt", vocoder=str(untrained_vocoder("small", tmp_path)))
    video = talking_video(tmp_path / "v.mp4", face_frame, seconds=20.0, audio=False)
    crops, mel, wave = _whole_video_at_once(synth, video)
    monkeypatch.setattr(speaking, "WINDOW_BATCH", 1)
    monkeypatch.setattr(speaking, "VOCODER_SECONDS", 3.0)
    assert len(synth._wave_stream(500).spans) == 10
    speech = synth(video)
    assert np.array_equal(speech.crops, crops) and np.array_equal(speech.mel, mel)
    assert speech.wave.shape == wave.shape and np.abs(speech.wave - wave).max() < 1e-4


def test_memory_does_not_grow_with_the_video_length(root, tmp_path, face_frame):
    """Peak memory of a fresh process speaking 10 s and 60 s of 360x288 video into a file:
    holding the frames would cost 390 MB more for the longer one (1250 frames of 311 kB).
    The generator's batch and the vocoder's chunks are made small enough for the 10 s video
    to fill them (at their defaults that takes 22 s and 30 s), so what is left to differ is
    whatever grows with the length."""
    canvas = np.full((288, 360, 3), 100, np.uint8)
    canvas[48:240, 84:276] = face_frame
    base = talking_video(tmp_path / "base.mp4", canvas, seconds=2.0, audio=False)
    script = (
        "import resource, sys\n"
        "from l2s.vcagan import speak\n"
        "speak.WINDOW_BATCH, speak.VOCODER_SECONDS = 1, 4.0\n"
        "synth = speak.Synthesiser(sys.argv[1], griffin_lim_iters=2)\n"
        "speech = synth(sys.argv[2], output=sys.argv[3], keep=False)\n"
        "print(speech.seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    repo = Path(__file__).resolve().parents[1]
    peaks = {}
    for seconds in (10, 60):
        video = tmp_path / f"{seconds}.mp4"
        loop = ["ffmpeg", "-v", "error", "-stream_loop", "-1", "-i", base, "-c", "copy", "-t", str(seconds), video]
        subprocess.run(loop, check=True)
        argv = [str(root / "models" / "demo.pt"), str(video), str(tmp_path / f"{seconds}.wav")]
        done = subprocess.run([sys.executable, "-c", script, *argv], cwd=repo, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        spoken, peak_kib = done.stdout.split()
        assert float(spoken) == pytest.approx(seconds, abs=0.2)  # the loop is cut at a packet
        peaks[seconds] = int(peak_kib) / 1024
    assert peaks[60] - peaks[10] < 24, peaks  # MiB


def test_a_face_that_leaves_is_named_with_its_time_range(tmp_path, synth, face_frame, caplog):
    from l2s.data.media import write_video

    frames = np.stack([face_frame] * 75)
    frames[25:50] = 128  # one second without anybody
    video = tmp_path / "gap.mp4"
    write_video(video, frames, 25.0, None, 16000)
    with caplog.at_level(logging.WARNING):
        speech = synth(video)
    assert speech.no_face == "1.00-2.00 s"
    assert "no face in 1.00-2.00 s" in caplog.text


def test_checkpoints_of_another_version_are_refused_clearly(root, tmp_path):
    ck = torch.load(root / "models" / "demo.pt", weights_only=False)
    _, meta = load_generator(root / "models" / "demo.pt")
    assert isinstance(meta["preprocess"], config.PreprocessConfig)
    torch.save({**ck, "format": CHECKPOINT_FORMAT + 1}, tmp_path / "newer.pt")
    with pytest.raises(ValueError, match=r"another version of l2s \(checkpoint format 3.*update l2s"):
        load_generator(tmp_path / "newer.pt")
    renamed = {k.replace("frontend.", "front."): v for k, v in ck["generator"].items()}
    torch.save({**ck, "generator": renamed}, tmp_path / "renamed.pt")
    with pytest.raises(ValueError, match="another version of l2s: its generator does not fit"):
        load_generator(tmp_path / "renamed.pt")
    torch.save({**ck, "model_config": {**ck["model_config"], "new_knob": 1}}, tmp_path / "knob.pt")
    with pytest.raises(ValueError, match="another version of l2s"):
        load_generator(tmp_path / "knob.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        load_generator(tmp_path / "text.pt")


def test_folder_batch_mode_and_mux(root, tmp_path, face_frame, monkeypatch):
    monkeypatch.setenv("L2S_ROOT", str(root))
    raw = tmp_path / "videos"
    talking_video(raw / "a.mp4", face_frame, seconds=1.2)
    talking_video(raw / "sub" / "b.mp4", face_frame, seconds=1.6, fps=30.0)
    (raw / "sub" / "broken.mp4").write_bytes(b"\0" * 10)
    before = {p: _sha(p) for p in raw.rglob("*") if p.is_file()}
    out, muxed = tmp_path / "out", tmp_path / "muxed"
    code = cli.main(
        ["speak", str(raw), "--model", str(root / "models" / "demo.pt"), "-o", str(out), "--mux", str(muxed)]
    )
    assert code == 1  # one video could not be voiced; the others were
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav")) == ["a.wav", "sub/b.wav"]
    assert {p: _sha(p) for p in raw.rglob("*") if p.is_file()} == before  # the user's files untouched
    copy, original = read_video(muxed / "sub" / "b.mp4"), read_video(raw / "sub" / "b.mp4")
    assert copy.fps == original.fps == 30.0 and len(copy.frames) == len(original.frames)
    wave, sr = sf.read(out / "sub" / "b.wav")
    assert sr == 16000 and abs(len(wave) / sr - 1.6) < 0.05
    assert abs(copy.audio_seconds - 1.6) < 0.1 and np.abs(copy.audio).max() > 0.1  # the generated speech


def test_python_api_and_refusing_to_overwrite_the_input(root, tmp_path, face_frame, monkeypatch):
    import l2s

    monkeypatch.setenv("L2S_ROOT", str(root))
    monkeypatch.chdir(tmp_path)
    video = talking_video(tmp_path / "in" / "v.mp4", face_frame, seconds=1.2, audio=False)
    speech = l2s.speak(video, root / "models" / "demo.pt")
    assert speech.video == video and sorted(tmp_path.rglob("*.wav")) == []  # asked for nothing: wrote nothing
    assert not speech.naturalness  # scored only when asked for
    assert cli.main(["speak", str(video), "--model", str(root / "models" / "demo.pt"), "--dnsmos"]) == 0
    assert (tmp_path / "v.wav").exists()  # the command's default: ./<video>.wav
    kept = l2s.speak(video, root / "models" / "demo.pt", naturalness=True)
    written = l2s.speak(video, root / "models" / "demo.pt", tmp_path / "w.wav", keep=False, naturalness=True)
    assert set(kept.naturalness) == {"ovrl", "sig", "bak", "p808"}
    assert all(1.0 <= v <= 5.0 for v in kept.naturalness.values())
    assert written.naturalness == pytest.approx(kept.naturalness, abs=0.05)  # the .wav holds 16-bit samples
    with pytest.raises(SpeakError, match="would overwrite the input video"):
        speak(video, root / "models" / "demo.pt", output=tmp_path / "x.wav", mux=video)
    with pytest.raises(FileNotFoundError, match="no model at"):
        speak(video, tmp_path / "nowhere")


def test_a_cold_l2s_speak_loads_only_what_it_uses(root, tmp_path, face_frame):
    """A fresh `l2s speak` process pays for every module it imports, and its garbage
    collector for every object they make: the mel filters and the de-emphasis are numpy
    (no librosa, numba, scipy), MediaPipe loads only its face solutions (no matplotlib, no
    tasks API), and the imports are frozen out of the collector's passes."""
    video = talking_video(tmp_path / "v.mp4", face_frame, seconds=1.2, audio=False)
    unwanted = ("librosa", "numba", "scipy", "matplotlib", "mediapipe.tasks")
    script = f"""
import gc, sys
from l2s import cli
assert cli.main(sys.argv[1:]) == 0
print([m for m in {unwanted!r} if m in sys.modules], gc.get_freeze_count())
"""
    argv = ["speak", str(video), "--model", str(root / "models" / "demo.pt"), "-o", str(tmp_path / "v.wav")]
    repo = Path(__file__).resolve().parents[1]  # `python -c` imports from its working directory first
    done = subprocess.run([sys.executable, "-c", script, *argv], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded, frozen = done.stdout.split("] ")
    assert loaded == "[" and int(frozen) > 100_000
    assert (tmp_path / "v.wav").exists()


def test_a_neural_vocoder_voices_the_same_spectrogram(root, synth, tmp_path, monkeypatch):
    """--vocoder takes a vocoder's .pt, folder or models/vocoders/<name>: the generator's mel
    is the same, only the waveform is the vocoder's; an unknown one says what to pass."""
    from l2s.vocoder.model import Vocoder, vocoder_checkpoint
    from l2s.vocoder.presets import vocoder_config

    monkeypatch.setenv("L2S_ROOT", str(root))
    mel_cfg = config.load(root / "params.yaml").preprocess.mel
    folder = root / "models" / "vocoders" / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    vocoder = Vocoder(vocoder_config("small", {"dim": 16, "intermediate": 32, "blocks": 2}, mel_cfg))
    torch.save(vocoder_checkpoint(vocoder, mel_cfg), folder / "best.pt")
    video = list_items(config.load(root / "params.yaml").source("en"), root / "data" / "raw" / "en")[0].path
    griffin_lim = synth(video)
    neural = Synthesiser(root / "models" / "demo.pt", vocoder="tiny")(video)
    assert np.array_equal(neural.mel, griffin_lim.mel) and not np.array_equal(neural.wave, griffin_lim.wave)
    assert len(neural.wave) == len(griffin_lim.wave) and np.isfinite(neural.wave).all()
    with pytest.raises(FileNotFoundError, match="--vocoder takes mel, linear, or a neural vocoder"):
        Synthesiser(root / "models" / "demo.pt", vocoder="nosuch")
