"""Raw videos of one language -> training-ready arrays (stage preprocess@<lang>).

What the seed project did by hand, as one reproducible step: extract 16 kHz mono audio;
crop the face with MediaPipe face mesh, aligned on eyes and mouth; bring every video to
25 fps; cut fixed-length clips; write split lists. Unlike the seed's scripts it never
deletes or edits a raw file: a video it cannot use is listed in rejects.csv with the
reason, and the run goes on.

Output, data/processed/<lang>/ (memory-mappable, so training never decodes video):

    frames.npy   uint8   [clips, T, S, S] (or [..., 3] in colour), T = clip_seconds * fps
    audio.npy    int16   [clips, T * sample_rate / fps]
    mel.npy      float16 [clips, n_mels, 4 T]  ln(max(mel, 1e-5)), 4 mel frames per video frame
                 (with preprocess.shard_clips: N, these three in shards of N clips,
                 frames/00000.npy ..., listed in shards.json: l2s.data.shards)
    clips.csv    index, clip_id, utt_id, speaker, text, start, valid_frames, source, stream_offset,
                 sync_offset, sync_confidence, sync_out, sync_shift (l2s.data.sync),
                 faces, face (faces found, and the index of the one taken, 0 = the largest)
    splits/{train,val,test}.txt   clip ids
    rejects.csv  utt_id, path, reason, detail
    faces.csv    utt_id, path, faces, face, policy, why: each kept video with several faces,
                 which one its clips show and why (l2s.data.speaker_face; header only if none)
    info.json    the parameters and counts

clips.csv's source and the paths of rejects.csv and faces.csv are relative to the
language's raw folder (a manifest's own folder: `Params.raw_folder`), so that two clones
of the repository make byte-identical processed data and DVC sees nothing downstream change.

Each video's result is cached in data/interim/<lang>/ under a key of its bytes and the
parameters, so a re-run only processes what changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l2s import paths
from l2s.config import Params, PreprocessConfig, fingerprint
from l2s.data import cluster, phonemes, shards, speaker_face, sync
from l2s.data.features import PCM_SCALE, log_mel, peak_dbfs
from l2s.data.rejects import REASONS, Reject
from l2s.data.sources import RawItem, list_items
from l2s.data.splits import SPLITS, make_splits

log = logging.getLogger(__name__)

# bump when the processing code changes what it writes, to invalidate old caches
# 2: audio placed on the video's timeline by the streams' start times; 3: the lips' offset;
# 4: several faces kept (preprocess.faces), which one recorded
CACHE_VERSION = 4


@dataclass(frozen=True)
class Task:
    item: RawItem
    cfg: PreprocessConfig
    cache: Path  # the .npz this video's clips go to (a .reject.json beside it on failure)


@dataclass
class CutClip:
    clip_id: str
    start: float  # seconds into the source video
    valid_frames: int  # frames before padding
    text: str
    sync_offset: int  # estimated audio-visual offset, frames (positive: audio late)
    sync_confidence: float
    sync_out: int  # 1: beyond the tolerance and sure of it (what shift / reject act on)
    sync_shift: int  # frames the audio was moved earlier by (preprocess.sync_policy shift)
    frames: np.ndarray
    audio: np.ndarray
    mel: np.ndarray
    # the source's audio stream start minus its video stream start, in seconds (the audio
    # here is already placed on the video's timeline: a record of what the file had)
    stream_offset: float = 0.0
    faces: int = 1  # faces found in the video
    face: int = 0  # the one the crops show, by size (0: the largest)
    face_choice: str = ""  # why that one (l2s.data.speaker_face); empty for a single face


# the lips' offset against the speech, per clip (l2s.data.sync)
SYNC_COLUMNS = ("sync_offset", "sync_confidence", "sync_out", "sync_shift")
# which face the clip shows (l2s.data.speaker_face)
FACE_COLUMNS = ("faces", "face")
# what a cache entry keeps of each CutClip beside its arrays
CLIP_META = ("clip_id", "start", "valid_frames", "text", "stream_offset", *SYNC_COLUMNS, *FACE_COLUMNS, "face_choice")


# --------------------------------------------------------------------------- pure steps


def clip_windows(n_frames: int, cfg: PreprocessConfig) -> list[tuple[int, int]]:
    """[start, end) frame windows of the clips cut from a video of n_frames (at cfg.fps).

    `first`: the first clip only (the seed's rule); `split`: consecutive clips. A window
    shorter than a clip is kept (to be padded) only with short_policy 'pad' and at least
    min_seconds long.
    """
    length = cfg.clip_frames
    min_frames = round(cfg.min_seconds * cfg.fps)
    starts = [0] if cfg.clip_policy == "first" else list(range(0, n_frames, length))
    windows = []
    for s in starts:
        e = min(s + length, n_frames)
        if e - s == length or (cfg.short_policy == "pad" and e - s >= min_frames):
            windows.append((s, e))
    return windows


def pad_to(x: np.ndarray, n: int, edge: bool) -> np.ndarray:
    """Cut or pad axis 0 to n: repeat the last frame (video) or zeros (audio)."""
    if len(x) >= n:
        return x[:n]
    mode = "edge" if edge else "constant"
    return np.pad(x, [(0, n - len(x))] + [(0, 0)] * (x.ndim - 1), mode=mode)


def clip_text(item: RawItem, start: float, end: float, video_seconds: float) -> str:
    """The words spoken inside [start, end): exact with word timings, else the whole
    transcript when the clip holds the whole video, else unknown ("")."""
    if item.words:
        inside = [w.label for w in item.words if start <= (w.start + w.end) / 2 < end]
        if len(inside) == len(item.words) and item.text:
            return item.text
        joiner = "" if item.text and " " not in item.text.strip() else " "
        return joiner.join(inside)
    if item.text and start <= 0.5 and video_seconds <= end + 0.5:
        return item.text
    return ""


# --------------------------------------------------------------------------- one video


def process_video(item: RawItem, cfg: PreprocessConfig) -> list[CutClip]:
    """All clips of one raw video, or Reject with the reason.

    The checks run in the order a person would name the problem: can the file be read,
    does it hold the streams needed, is it long enough and do its streams cover the same
    time, and only then what it shows and sounds like (silence, faces). A 0.3 s clip is
    too short, whatever its 0.3 s sound like."""
    from l2s.data import facecrop, media

    where = str(item.path)
    if item.problem:  # a transcript that could not be read: this video only
        raise Reject("bad_transcript", item.problem)
    video = media.read_video(item.path, sample_rate=cfg.mel.sample_rate)

    frames = video.frames
    if abs(video.fps - cfg.fps) > 0.01:
        if cfg.fps_policy == "drop":
            raise Reject("fps", f"{where}: {video.fps:g} fps, not {cfg.fps:g} (preprocess.fps_policy=drop)")
        frames = frames[media.resample_indices(len(frames), video.fps, cfg.fps)]
    seconds = len(frames) / cfg.fps
    if seconds < cfg.min_seconds:
        raise Reject("too_short", f"{where}: {seconds:.2f} s is shorter than preprocess.min_seconds={cfg.min_seconds}")
    windows = clip_windows(len(frames), cfg)
    if not windows:
        raise Reject(
            "too_short",
            f"{where}: {seconds:.2f} s is shorter than a {cfg.clip_seconds} s clip (preprocess.short_policy=reject)",
        )
    # On the common timeline the streams should end together; a stream shifted by its start
    # time (a cut, an edit list) may instead keep the picture's length and overrun its end,
    # which the clips then leave out: either way the speech that plays with the lips is there.
    ends_apart = abs(video.video_seconds - video.audio_seconds)
    lengths_apart = abs(video.video_seconds - (video.audio_seconds - video.audio_offset))
    if min(ends_apart, lengths_apart) > cfg.av_tolerance:
        starts = f"; the audio stream starts {media.describe_offset(video.audio_offset)}" if video.audio_offset else ""
        raise Reject(
            "length_mismatch",
            f"{where}: counted from the first frame, the video ends at {video.video_seconds:.2f} s but the audio at "
            f"{video.audio_seconds:.2f} s{starts} (tolerance preprocess.av_tolerance={cfg.av_tolerance} s)",
        )
    level = peak_dbfs(video.audio)
    if level < cfg.silence_dbfs:
        raise Reject(
            "silent", f"{where}: audio peak {level:.1f} dBFS is below preprocess.silence_dbfs={cfg.silence_dbfs}"
        )
    frames = facecrop.turn(frames[: windows[-1][1]], cfg.rotate)  # only what the clips use goes through face mesh

    faces = facecrop.find_faces(frames)
    if not faces:
        raise Reject("no_face", f"{where}: no face found in sampled frames{_rotation_hint(frames, cfg.rotate)}")
    chosen = speaker_face.choose(frames, faces, video.audio, cfg, where)  # Reject under preprocess.faces reject
    marks = chosen.landmarks
    points, missing = facecrop.anchor_track(marks, cfg)
    if missing.mean() > cfg.max_missing_face:
        raise Reject(
            "no_face",
            f"{where}: no face in {missing.mean():.0%} of frames ({facecrop.missing_ranges(missing, cfg.fps)}); "
            f"limit preprocess.max_missing_face={cfg.max_missing_face}",
        )
    syncs = sync.estimate_clips(marks, video.audio, windows, cfg)
    shifts = sync.audio_shifts(syncs, cfg, where, [s / cfg.fps for s, _ in windows])
    crops = facecrop.crop(frames, points, cfg.crop)

    spf = cfg.samples_per_frame
    clips = []
    for k, (s, e) in enumerate(windows):
        audio = sync.audio_window(video.audio, (s + shifts[k]) * spf, (e + shifts[k]) * spf)
        audio = pad_to(audio, cfg.clip_frames * spf, edge=False)
        clip_id = item.utt_id if cfg.clip_policy == "first" else f"{item.utt_id}#{k}"
        clips.append(
            CutClip(
                clip_id=clip_id,
                start=s / cfg.fps,
                valid_frames=e - s,
                text=clip_text(item, s / cfg.fps, e / cfg.fps, video.video_seconds),
                stream_offset=round(video.audio_offset, 4) + 0.0,  # + 0.0: no "-0.0" in the CSV
                sync_offset=syncs[k].offset,
                sync_confidence=syncs[k].confidence,
                sync_out=int(sync.is_out(syncs[k], cfg)),
                sync_shift=shifts[k],
                faces=chosen.faces,
                face=chosen.face,
                face_choice=chosen.why,
                frames=pad_to(crops[s:e], cfg.clip_frames, edge=True),
                audio=np.round(np.clip(audio, -1, 1) * PCM_SCALE).astype(np.int16),
                mel=log_mel(audio, cfg.mel).astype(np.float16),
            )
        )
    return clips


def _rotation_hint(frames, rotate: int) -> str:
    """What to tell a user whose video shows no face: turned by a quarter or half turn the
    frames may well show one (a phone video stored sideways without rotation metadata)."""
    from l2s.data import facecrop

    turn = facecrop.find_rotation(frames)
    if turn is None:
        tried = "" if rotate == 0 else f" with preprocess.rotate={rotate}"
        return f"{tried}, nor in them turned by 90, 180 or 270 degrees"
    setting = (rotate + turn) % 360
    return (
        f"; turned {turn} degrees clockwise they show one: the video is probably stored rotated (without "
        f"rotation metadata); set preprocess.rotate: {setting}"
    )


def cache_key(item: RawItem, cfg: PreprocessConfig) -> str:
    h = hashlib.sha1()
    with open(item.path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    meta = [
        CACHE_VERSION,
        fingerprint(cfg.shaping()),
        item.utt_id,
        item.speaker,
        item.text,
        item.problem,
        [dataclasses.astuple(w) for w in item.words],
    ]
    h.update(json.dumps(meta, ensure_ascii=False).encode())
    return h.hexdigest()[:20]


def run_task(task: Task) -> dict:
    """Worker: process one video into its cache file; returns a small summary.

    A Reject is cached like a result (the same file gives the same verdict). Any other
    exception is reported for this run only, so that the rest of the language still
    gets processed and the video is tried again next time.
    """
    try:
        clips = process_video(task.item, task.cfg)
    except Reject as r:
        paths.write_json(task.cache.with_suffix(".reject.json"), {"reason": r.reason, "detail": r.detail}, indent=None)
        return {"utt_id": task.item.utt_id, "status": "rejected"}
    except Exception as e:  # noqa: BLE001 - one bad video must not stop a whole corpus
        log.exception("unexpected error on %s", task.item.path)
        return {"utt_id": task.item.utt_id, "status": "error", "detail": f"{task.item.path}: {type(e).__name__}: {e}"}
    with paths.atomic(task.cache) as tmp, open(tmp, "wb") as f:  # a killed run leaves no half-written entry
        np.savez(
            f,
            frames=np.stack([c.frames for c in clips]),
            audio=np.stack([c.audio for c in clips]),
            mel=np.stack([c.mel for c in clips]),
            meta=np.array(json.dumps([{k: getattr(c, k) for k in CLIP_META} for c in clips])),
        )
    return {"utt_id": task.item.utt_id, "status": "done", "frames": sum(c.valid_frames for c in clips)}


# --------------------------------------------------------------------------- one language


def run(lang: str, params: Params) -> dict:
    """Preprocess one language; writes data/processed/<lang>/ and the stage record and metrics."""
    cfg = params.preprocess_for(lang)
    src = params.source(lang)
    items = list_items(src, params.raw_dir(lang))
    cache_dir = paths.interim_dir(lang)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tasks = [Task(item, cfg, cache_dir / f"{cache_key(item, cfg)}.npz") for item in items]
    todo = [t for t in tasks if not (t.cache.exists() or t.cache.with_suffix(".reject.json").exists())]
    log.info("preprocess %s: %d videos, %d cached, %d to process", lang, len(tasks), len(tasks) - len(todo), len(todo))

    t0 = time.perf_counter()
    markers = [t.cache.with_suffix(cluster.MARKER) for t in todo]
    done = [
        result | {"utt_id": task.item.utt_id}
        for task, result in cluster.map_tasks(run_task, todo, markers, cfg.workers, cfg.cluster, f"preprocess {lang}")
    ]
    elapsed = time.perf_counter() - t0
    retried = {d["utt_id"]: d["retried_after"] for d in done if "retried_after" in d}
    for utt_id, worker in retried.items():
        log.warning("preprocess %s: %s was tried again after its worker (%s) died", lang, utt_id, worker)
    frames = sum(d.get("frames", 0) for d in done)
    if done:
        log.info(
            "preprocess %s: %d frames in %.1f s = %.1f frames/s (%.1f per worker)",
            lang,
            frames,
            elapsed,
            frames / elapsed,
            frames / elapsed / max(1, min(cfg.workers, len(done))),
        )

    errors = {d["utt_id"]: d["detail"] for d in done if d["status"] == "error"}
    metrics = pack(lang, tasks, params, errors) | {"retried": len(retried)}
    _prune(cache_dir, {t.cache.name for t in tasks})
    paths.write_metrics("preprocess", lang, metrics)
    return metrics


def pack(lang: str, tasks: list[Task], params: Params, errors: dict[str, str]) -> dict:
    """Gather the cached per-video results into the processed arrays, rejects and splits.

    `errors`: utt_id -> message of the videos that failed unexpectedly in this run."""
    cfg = params.preprocess_for(lang)
    out = paths.processed_dir(lang)
    (out / "splits").mkdir(parents=True, exist_ok=True)

    folder = params.raw_folder(lang)

    def relative(video: Path) -> str:  # a video outside the folder gets ../ steps
        return Path(os.path.relpath(video, folder)).as_posix()

    rejects, kept = [], []
    for t in tasks:
        rej = t.cache.with_suffix(".reject.json")
        if t.item.utt_id in errors:
            rejects.append(
                {
                    "utt_id": t.item.utt_id,
                    "path": relative(t.item.path),
                    "reason": "error",
                    "detail": errors[t.item.utt_id],
                }
            )
        elif rej.exists():
            r = json.loads(rej.read_text(encoding="utf-8"))
            rejects.append({"utt_id": t.item.utt_id, "path": relative(t.item.path), **r})
        else:
            kept.append(t)
    for r in rejects:
        log.warning("rejected %s: %s", r["utt_id"], r["detail"])

    # two passes: count, then fill memory-mapped arrays, so a large corpus never has to fit in memory
    metas = []
    for t in kept:
        with np.load(t.cache) as z:
            metas.append(json.loads(str(z["meta"])))
    n = sum(len(m) for m in metas)
    if n == 0:
        raise RuntimeError(f"preprocess {lang}: every video was rejected; see {out / 'rejects.csv'}")
    with np.load(kept[0].cache) as z:
        shapes = {k: z[k].shape[1:] for k in shards.SHARDED}
        dtypes = {k: z[k].dtype for k in shards.SHARDED}
    arrays = shards.create(out, dtypes, shapes, n, cfg.shard_clips)
    rows, several, i = [], [], 0
    for t, meta in zip(kept, metas):
        if meta[0]["faces"] > 1:  # every clip of a video shows the same face
            several.append(
                {
                    "utt_id": t.item.utt_id,
                    "path": relative(t.item.path),
                    "faces": meta[0]["faces"],
                    "face": meta[0]["face"],
                    "policy": cfg.faces,
                    "why": meta[0]["face_choice"],
                }
            )
        with np.load(t.cache) as z:
            for k in arrays:
                arrays[k][i : i + len(meta)] = z[k]
        for m in meta:
            rows.append(
                {
                    "index": i,
                    "clip_id": m["clip_id"],
                    "utt_id": t.item.utt_id,
                    "speaker": t.item.speaker,
                    "text": m["text"],
                    "start": m["start"],
                    "valid_frames": m["valid_frames"],
                    "source": relative(t.item.path),
                    "stream_offset": m["stream_offset"],
                    **{k: m[k] for k in SYNC_COLUMNS},
                    **{k: m[k] for k in FACE_COLUMNS},
                }
            )
            i += 1
    for a in arrays.values():
        a.flush()
    del arrays
    phoneme_info = add_phonemes(lang, rows, params, out, {t.item.utt_id: t.item for t in kept})

    clip_columns = ["index", "clip_id", "utt_id", "speaker", "text", "phonemes", "start", "valid_frames", "source"]
    clip_columns += ["stream_offset", *SYNC_COLUMNS]  # the file's stream offset; the lips' offset
    clip_columns += FACE_COLUMNS  # of several faces, which one
    paths.write_csv(out / "clips.csv", rows, clip_columns)
    paths.write_csv(out / "rejects.csv", rejects, ["utt_id", "path", "reason", "detail"])
    # written even when empty: a user looking for which face was taken finds the file, and no row
    paths.write_csv(out / "faces.csv", several, ["utt_id", "path", "faces", "face", "policy", "why"])
    for f in several:
        log.info("%s: %d faces, face %d taken: %s", f["utt_id"], f["faces"], f["face"], f["why"])
    # a corpus's own split (LRS test/, GRID unseen) holds for every clip cut from the video
    fixed = {m["clip_id"]: t.item.split for t, meta in zip(kept, metas) for m in meta if t.item.split}
    splits = make_splits({r["clip_id"]: r["speaker"] for r in rows}, cfg.split, params.source(lang).speakers, fixed)
    for s in SPLITS:
        (out / "splits" / f"{s}.txt").write_text("".join(f"{c}\n" for c in splits[s]), encoding="utf-8")

    by_reason = Counter(r["reason"] for r in rejects)
    metrics = {
        "videos": len(tasks),
        "clips": n,
        "speakers": len({r["speaker"] for r in rows}),
        "hours": round(sum(r["valid_frames"] for r in rows) / cfg.fps / 3600, 4),
        "rejected": len(rejects),
        "rejected_by_reason": {reason: by_reason.get(reason, 0) for reason in REASONS},
        "several_faces": len(several),  # videos kept with more than one face (faces.csv)
        "clips_without_text": sum(not r["text"] for r in rows),
        "clips_without_phonemes": sum(not r["phonemes"] for r in rows),
        "sync": sync.summary(rows, cfg),
        **{s: len(splits[s]) for s in SPLITS},
    }
    info = {
        "language": lang,
        "preprocess": cfg.shaping(),
        "shapes": {k: list(v) for k, v in shapes.items()},
        "counts": metrics,
        "phonemes": phoneme_info,
    }
    paths.write_json(out / "info.json", info)
    log.info(
        "preprocess %s: %d clips from %d videos, %d rejected %s", lang, n, len(tasks), len(rejects), dict(by_reason)
    )
    return metrics


def add_phonemes(lang: str, rows: list[dict], params: Params, out: Path, items: dict[str, RawItem]) -> dict:
    """Each clip's transcript as inventory symbols (column `phonemes`, WORD between words;
    empty when it has none), the lexicon of its words (lexicon.csv: word, symbols) and the
    phoneme summary of info.json. Reads the pronunciation table of the raw folder, if any.

    Where the corpus gives timings (`items`: utt_id -> its RawItem), also
    frame_phonemes.npy [clips, frames]: the inventory id spoken at each video frame, -1 in
    pauses and where nothing is known. Phoneme timings (the embedded corpus) give it
    directly; word timings alone (GRID, LRS) spread each word's phonemes evenly over its
    span. An option for training (train.frame_ce_weight), not the default: most real
    corpora have transcripts without timings."""
    corpus_voice, spoken = phonemes.read_pronunciation(params.raw_dir(lang))
    voice = params.phoneme_voice(lang, corpus_voice)
    if voice is None:
        for r in rows:
            r["phonemes"] = ""
        return {"voice": None}
    reader = phonemes.Phonemizer(voice, phonemes.spaced(lang), spoken)
    counts: Counter = Counter()
    cfg = params.preprocess_for(lang)
    frames = np.full((len(rows), cfg.clip_frames), -1, np.int16)
    for i, r in enumerate(rows):
        symbols = reader(r["text"]) or []
        counts.update(symbols)
        r["phonemes"] = " ".join(symbols)
        item, start = items[r["utt_id"]], float(r["start"])
        if item.phones:  # espeak-ng's phoneme labels are IPA: the inventory splits them like the text's
            spans = [(phonemes.ids(phonemes.split_ipa(p.label)), p) for p in item.phones]
        else:
            spans = [(phonemes.ids(reader.word(phonemes.normal(w.label).strip())), w) for w in item.words]
        for ids, span in spans:
            _spread(frames[i], ids, span.start - start, span.end - start, cfg.fps)
    if (frames >= 0).any():
        np.save(out / "frame_phonemes.npy", frames)
    else:
        (out / "frame_phonemes.npy").unlink(missing_ok=True)
    lexicon = reader.lexicon(r["text"] for r in rows)
    # the columns named: a language of clips without text has an empty lexicon, not an error
    lexicon_rows = [{"word": w, "phonemes": p} for w, p in sorted(lexicon.items())]
    paths.write_csv(out / "lexicon.csv", lexicon_rows, ["word", "phonemes"])
    if reader.unknown:
        log.warning("phonemes %s: letters outside the inventory were left out: %s", lang, dict(reader.unknown))
    return {
        "voice": voice,
        "inventory": len(phonemes.INVENTORY),
        "symbols": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
        "outside_inventory": dict(reader.unknown),
        "words": len(lexicon),
    }


def _spread(track: np.ndarray, ids: list[int], start: float, end: float, fps: float) -> None:
    """Write the phoneme ids of a span (a word, or one phoneme) evenly over the frames whose
    centres fall in [start, end)."""
    if not ids or end <= start:
        return
    for f in range(max(0, int(start * fps)), min(len(track), int(np.ceil(end * fps)) + 1)):
        t = (f + 0.5) / fps
        if start <= t < end:
            track[f] = ids[min(len(ids) - 1, int((t - start) / (end - start) * len(ids)))]


def _prune(cache_dir: Path, keep: set[str]) -> None:
    """Drop cache entries of videos no longer in the raw data (our own files only)."""
    for f in cache_dir.iterdir():
        base = f.name.replace(".reject.json", ".npz")
        if base not in keep:
            f.unlink()
