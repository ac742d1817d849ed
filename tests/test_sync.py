"""Lips against speech: each clip's audio-visual offset, recovered on corpus videos whose
audio is shifted by known amounts, and what preprocess.sync_policy does with it."""

import csv
import json

import numpy as np
import pytest

from l2s import config
from l2s.config import ConfigError, PreprocessConfig
from l2s.data import media, sync
from l2s.data.rejects import Reject
from tests.helpers import corpus_root, preprocess_folder, write_params

CFG = PreprocessConfig()
SPF = CFG.samples_per_frame
SHIFTS = [s for s in range(-10, 11) if abs(s) >= 2]  # frames; positive: audio late


def mouth(opening: np.ndarray) -> np.ndarray:
    """Face-mesh landmarks [T, 468, 2] of a mouth opening `opening` per frame (lips 0.1 thick
    each, the eyes above), everything else at 0."""
    marks = np.zeros((len(opening), 468, 2))
    marks[:, list(sync._INNER_UPPER), 0] = marks[:, list(sync._INNER_LOWER), 0] = np.arange(-2, 3)
    marks[:, list(sync._INNER_LOWER), 1] = np.asarray(opening)[:, None]
    marks[:, sync._UPPER_LIP[0], 1] = -0.1
    marks[:, sync._LOWER_LIP[1], 1] = np.asarray(opening) + 0.1
    marks[:, 33], marks[:, 263] = (-3, -3), (3, -3)
    return marks


def late(audio: np.ndarray, frames: int) -> np.ndarray:
    """The same track `frames` video frames later (earlier if negative), its length kept."""
    return sync.audio_window(audio, -frames * SPF, len(audio) - frames * SPF)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six English corpus videos (two at 30 fps), built in a throwaway root: their paths.
    At the corpus's own size (256 px) and with its head motion, blinks, light and
    compression: at 160 px a compressed lip gap is a few pixels and one of these six
    videos measured 3 frames off even unshifted."""
    root = corpus_root(
        tmp_path_factory.mktemp("corpus"),
        corpus={"utterances_per_speaker": 3, "image_size": 256, "fps30_fraction": 0.3},
        preprocessed=False,
    )
    return sorted((root / "data/raw/en").glob("s*/*.mp4"))


@pytest.fixture(scope="module")
def tracked(corpus):
    """Per corpus video: its landmarks at 25 fps (as preprocessing tracks them) and audio."""
    from l2s.data import facecrop

    out = []
    for path in corpus:
        video = media.read_video(path, sample_rate=16000)
        frames = video.frames
        if abs(video.fps - CFG.fps) > 0.01:
            frames = frames[media.resample_indices(len(frames), video.fps, CFG.fps)]
        out.append((path.name, facecrop.track_landmarks(frames[: CFG.clip_frames]), video.audio))
    return out


def test_known_shifts_of_corpus_videos_are_recovered_within_a_frame(tracked):
    assert len(tracked) == 6
    for name, marks, audio in tracked:
        window = [(0, len(marks))]
        unshifted = sync.estimate_clips(marks, audio, window, CFG)[0]
        assert abs(unshifted.offset) <= 1, (name, unshifted)
        for frames in SHIFTS:
            found = sync.estimate_clips(marks, late(audio, frames), window, CFG)[0]
            assert abs(found.offset - frames) <= 1, (name, frames, found)
            assert found.confidence >= CFG.sync_min_confidence, (name, frames, found)


def test_unrelated_audio_gets_a_lower_confidence_than_its_own(tracked):
    own = [sync.estimate_clips(m, a, [(0, len(m))], CFG)[0].confidence for _, m, a in tracked]
    noise = np.random.default_rng(0).standard_normal(3 * 16000).astype(np.float32) * 0.1
    other = [sync.estimate_clips(m, noise, [(0, len(m))], CFG)[0].confidence for _, m, _ in tracked]
    assert min(own) > max(other)


def test_sign_convention_on_made_up_signals():
    """Mouth opening o(t); speech in the 700-4000 Hz band whose loudness follows o(t - k):
    the audio is k frames late, and the estimate says +k."""
    rng = np.random.default_rng(1)
    n = 120
    opening = np.convolve(rng.random(n + 40), np.ones(5) / 5, mode="same")[20:-20]
    for k in (-7, -3, 0, 4, 9):
        loud = np.repeat(np.roll(opening, k), SPF)  # frame t carries o(t - k)
        t = np.arange(n * SPF) / 16000
        audio = loud * np.sin(2 * np.pi * 1500 * t) + 1e-3 * rng.standard_normal(n * SPF)
        found = sync.estimate_clips(mouth(opening), audio, [(20, 100)], CFG)[0]
        assert found.offset == k and found.confidence > 0.9, (k, found)


def test_mouth_opening_ignores_face_size_and_marks_missing_faces():
    rng = np.random.default_rng(2)
    marks = rng.random((4, 468, 2)) * 100
    marks[2] = np.nan
    small, big = sync.mouth_opening(marks), sync.mouth_opening(marks * 3 + 50)
    assert np.isnan(small[2]) and np.isnan(big[2])
    np.testing.assert_allclose(small[[0, 1, 3]], big[[0, 1, 3]])


def test_mouth_opening_ignores_a_nod_that_the_eye_distance_does_not():
    """Nodding foreshortens the face vertically: the lip gap and the lips' thickness shrink
    together, the eye distance (horizontal) does not."""
    opening = np.linspace(0.0, 0.3, 6)
    marks = mouth(opening)
    nodded = marks * [1.0, np.cos(np.radians(20))]
    np.testing.assert_allclose(sync.mouth_opening(nodded), sync.mouth_opening(marks))
    np.testing.assert_allclose(sync.mouth_opening(marks), opening / 0.2)


def test_margin_over_the_lags_within_the_tolerance():
    """An offset beyond the tolerance carries how far its score beats every lag within it
    (what shift and reject require); an offset within the tolerance has none."""
    rng = np.random.default_rng(4)
    n = 100
    opening = np.convolve(rng.random(n + 40), np.ones(5) / 5, mode="same")[20:-20]
    t = np.arange(n * SPF) / 16000
    for k in (0, -4):
        loud = np.repeat(np.roll(opening, k), SPF)
        audio = loud * np.sin(2 * np.pi * 1500 * t)
        found = sync.estimate_clips(mouth(opening), audio, [(20, 80)], CFG)[0]
        assert found.offset == k
        assert (found.margin > 0.3) if k else found.margin == 0.0


def test_nothing_to_measure_gives_zero_confidence():
    marks = mouth(np.full(75, 0.05))  # a face whose mouth never moves
    found = sync.estimate_clips(marks, np.random.default_rng(3).standard_normal(48000), [(0, 75)], CFG)[0]
    assert found == sync.Sync(0, 0.0)
    nan = np.full((75, 468, 2), np.nan)  # no face at all
    assert sync.estimate_clips(nan, np.ones(48000), [(0, 75)], CFG)[0] == sync.Sync(0, 0.0)


def test_audio_window_pads_both_ends():
    a = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(sync.audio_window(a, -2, 3), [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(sync.audio_window(a, 8, 12), [9, 10, 0, 0])
    np.testing.assert_array_equal(sync.audio_window(a, 12, 14), [0, 0])


def test_each_policy_on_offsets():
    syncs = [
        sync.Sync(0, 0.8),
        sync.Sync(5, 0.8, margin=0.2),
        sync.Sync(-6, 0.3, margin=0.2),  # unsure
        sync.Sync(-2, 0.9),  # within the tolerance
        sync.Sync(4, 0.8, margin=0.01),  # hardly better than no offset at all
    ]
    starts = [0.0, 3.0, 6.0, 9.0, 12.0]

    def cfg(**kw):
        return PreprocessConfig(sync_tolerance=2, sync_min_confidence=0.55, **kw)

    assert sync.audio_shifts(syncs, cfg(sync_policy="report"), "v.mp4", starts) == [0] * 5
    # only the clip beyond the tolerance with a sure estimate moves
    assert sync.audio_shifts(syncs, cfg(sync_policy="shift"), "v.mp4", starts) == [0, 5, 0, 0, 0]
    with pytest.raises(Reject) as e:
        sync.audio_shifts(syncs, cfg(sync_policy="reject"), "v.mp4", starts)
    assert e.value.reason == "out_of_sync"
    assert "v.mp4: clip at 3.00 s: audio 5 frames (200 ms) late" in e.value.detail
    assert "confidence 0.80" in e.value.detail and "6.00 s" not in e.value.detail and "12.00 s" not in e.value.detail
    assert sync.audio_shifts(syncs[:1] + syncs[2:], cfg(sync_policy="reject"), "v.mp4", starts) == [0] * 4


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("sync_policy", "fix", "preprocess.sync_policy: 'fix' is not allowed"),
        ("sync_tolerance", -1, "preprocess.sync_tolerance"),
        ("sync_tolerance", 15, "preprocess.sync_tolerance"),
        ("sync_tolerance", 1.5, "preprocess.sync_tolerance: expected an integer"),
        ("sync_min_confidence", 1.5, "preprocess.sync_min_confidence"),
        ("sync_max_offset", 0, "preprocess.sync_max_offset"),
    ],
)
def test_bad_sync_settings_fail_on_load(workdir, key, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        config.load(write_params(workdir, preprocess={key: value}))


# --------------------------------------------------------------------------- the stage


@pytest.fixture(scope="module")
def shifted_folder(corpus, tmp_path_factory):
    """Three corpus videos as a user's folder: one in sync, one with its audio 6 frames
    late, one 5 frames early (re-muxed, so the shift goes through the encoder)."""
    root = tmp_path_factory.mktemp("shifted") / "xx"
    originals = {}
    for name, path, frames in (("in_sync", corpus[0], 0), ("late", corpus[1], 6), ("early", corpus[2], -5)):
        video = media.read_video(path, sample_rate=16000)
        out = root / "spk" / f"{name}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
        media.write_video(out, video.frames, video.fps, late(video.audio, frames), 16000)
        out.with_suffix(".txt").write_text(path.with_suffix(".txt").read_text(encoding="utf-8"), encoding="utf-8")
        originals[name] = (video.audio, frames)
    return root, originals


def _run(workdir, raw, **pre):
    metrics, _ = preprocess_folder(workdir, raw, **pre)
    out = workdir / "data/processed/xx"
    with open(out / "clips.csv", encoding="utf-8") as f:
        clips = {r["utt_id"]: r for r in csv.DictReader(f)}
    with open(out / "rejects.csv", encoding="utf-8") as f:
        rejects = {r["utt_id"]: r for r in csv.DictReader(f)}
    return metrics, clips, rejects


def test_report_writes_offsets_and_metrics(workdir, shifted_folder):
    raw, _ = shifted_folder
    metrics, clips, rejects = _run(workdir, raw)
    assert not rejects
    for name, frames in (("in_sync", 0), ("late", 6), ("early", -5)):
        row = clips[f"spk/{name}"]
        assert abs(int(row["sync_offset"]) - frames) <= 1, row
        assert float(row["sync_confidence"]) >= 0.55 and row["sync_shift"] == "0"
        assert row["sync_out"] == ("1" if frames else "0")
    s = metrics["sync"]
    offsets = [int(r["sync_offset"]) for r in clips.values()]
    assert s["offset_median"] == np.median(offsets) and abs(s["offset_median"]) <= 1
    assert s["offset_q05"] == pytest.approx(np.quantile(offsets, 0.05)) and s["offset_q05"] < -3
    assert s["shifted"] == 0 and s["confident"] == 1.0
    assert s["beyond_tolerance"] == s["out_of_sync"] == pytest.approx(2 / 3, abs=1e-3)
    stored = json.loads((workdir / "reports/records/preprocess/xx.json").read_text())
    assert stored["sync"] == s


def test_shift_puts_the_audio_back_on_the_lips(workdir, shifted_folder):
    raw, originals = shifted_folder
    metrics, clips, _ = _run(workdir, raw, sync_policy="shift")
    from l2s.data.dataset import ProcessedLanguage

    data = ProcessedLanguage("xx")
    assert metrics["sync"]["shifted"] == 2
    for name, (original, frames) in originals.items():
        row = clips[f"spk/{name}"]
        assert int(row["sync_shift"]) == (int(row["sync_offset"]) if frames else 0)
        # where the processed clip's sound sits in the original, in-sync track: at 0, up to
        # the estimate's error of a frame
        clip = data.audio[int(row["index"])].astype(np.float64)[: 60 * SPF]
        ref = np.concatenate([np.zeros(2 * SPF), original[: 62 * SPF]]).astype(np.float64)
        corr = np.correlate(ref, clip, mode="valid")  # lag j: clip matches ref[j:] (2 frames lead-in)
        lag = (int(np.argmax(np.abs(corr))) - 2 * SPF) / SPF
        assert abs(lag) <= 1, (name, row, lag)


def test_reject_lists_the_shifted_videos(workdir, shifted_folder):
    raw, _ = shifted_folder
    metrics, clips, rejects = _run(workdir, raw, sync_policy="reject")
    assert set(clips) == {"spk/in_sync"} and set(rejects) == {"spk/late", "spk/early"}
    assert metrics["rejected_by_reason"]["out_of_sync"] == 2
    late_row = rejects["spk/late"]
    assert late_row["reason"] == "out_of_sync" and "late.mp4" in late_row["detail"]
    assert "frames" in late_row["detail"] and " late against the lips" in late_row["detail"]
    assert "confidence" in late_row["detail"] and "early against the lips" in rejects["spk/early"]["detail"]
