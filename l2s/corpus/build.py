"""The embedded default corpus: GRID-like talking-face videos in any espeak-ng language.

Nothing is downloaded. Each speaker is an espeak-ng voice (variant, pitch, rate) and a
real face photo that ships with our dependencies (mirrored and recoloured for more
speakers); the lips move per video frame from espeak-ng's own phoneme timing. The
output is laid out like a real corpus, so preprocessing treats it exactly as it treats
a user's videos:

    data/raw/<lang>/manifest.csv                 utt_id, speaker, path, text, seconds, fps
    data/raw/<lang>/<speaker>/<utt>.mp4          H.264 + AAC
    data/raw/<lang>/<speaker>/<utt>.txt          the transcript
    data/raw/<lang>/<speaker>/<utt>.align.json   word and phoneme timings (seconds in the video)
    data/raw/<lang>/pronunciation.json           the voice, and what it read for each written word

Like real corpora, not every clip is 25 fps and 3 s: a share is at 30 fps, a share is
shorter than a clip and a share holds two sentences. Everything follows from the seed:
each utterance draws from its own random stream, and all speech of a language is
synthesised in one fresh process in a fixed order (espeak-ng carries pitch-flutter state
from one utterance to the next), so the result does not depend on how rendering is
spread over processes.
"""

from __future__ import annotations

import csv
import logging
import multiprocessing as mp
import shutil
import time
import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from l2s import parallel, paths
from l2s.config import ConfigError, CorpusConfig, MotionConfig, Params
from l2s.corpus.espeak import TimedSpeech, Voice, synthesize
from l2s.corpus.grammar import Grammar, Word, grammar_for
from l2s.corpus.motion import Track
from l2s.corpus.talking_face import Look, TalkingFace, looks
from l2s.corpus.visemes import mouth_track
from l2s.data import alignment
from l2s.data.alignment import Span
from l2s.data.phonemes import PRONUNCIATION
from l2s.data.sources import MANIFEST

log = logging.getLogger(__name__)

MARKER = ".l2s-synthetic"  # marks a raw folder as ours to regenerate; nothing else is ever deleted
VARIANTS = ("m1", "f1", "m2", "f2", "m3", "f3", "m4", "f4", "m5", "f5", "m6", "m7")
NORMAL_SECONDS = (3.0, 3.4)  # total length of an ordinary clip, like GRID's 3 s videos


@dataclass(frozen=True)
class Speaker:
    id: str
    look: Look
    voice: Voice


@dataclass(frozen=True)
class Utterance:
    lang: str
    speaker: Speaker
    utt_id: str
    index: int
    seed: int
    size: int
    fps: float
    kind: str  # "normal", "short" or "long"
    sentences: tuple[tuple[Word, ...], ...]
    joiner: str
    out_dir: str
    motion: MotionConfig

    @property
    def words(self) -> list[Word]:
        return [w for s in self.sentences for w in s]

    @property
    def text(self) -> str:
        sep = self.joiner or ""
        return (" " if sep else "").join(sep.join(w.text for w in s) for s in self.sentences)

    @property
    def spoken(self) -> str:
        return " ".join(w.say for w in self.words)


def _stream(*keys: object) -> np.random.Generator:
    """An independent random stream per (seed, language, speaker, utterance)."""
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


def make_speakers(lang: str, cfg: CorpusConfig, grammar: Grammar) -> list[Speaker]:
    rng = _stream(cfg.seed, lang, "speakers")
    faces = looks(cfg.speakers, seed=cfg.seed)
    variants = rng.permutation(VARIANTS)
    out = []
    for i in range(cfg.speakers):
        voice = Voice(
            name=grammar.voice,
            variant=str(variants[i % len(variants)]),
            pitch=int(rng.integers(30, 71)),
            rate=int(rng.integers(155, 186)),
            range=int(rng.integers(30, 71)),
        )
        out.append(Speaker(f"s{i + 1}", faces[i], voice))
    return out


def plan(lang: str, params: Params) -> list[Utterance]:
    """Every utterance of a language, decided up front from the seed."""
    cfg = params.corpus
    spec = params.corpus_language(lang)
    try:
        grammar = grammar_for(lang, asdict(spec))
    except ValueError as e:
        raise ConfigError(f"corpus.languages.{lang}: {e}") from e
    out_dir = str(paths.raw_dir(lang))
    utts = []
    for spk in make_speakers(lang, cfg, grammar):
        for j in range(cfg.utterances_per_speaker):
            rng = _stream(cfg.seed, lang, spk.id, j, "plan")
            u = rng.random()
            kind = (
                "short"
                if u < cfg.short_fraction
                else "long"
                if u < cfg.short_fraction + cfg.long_fraction
                else "normal"
            )
            fps = 30.0 if rng.random() < cfg.fps30_fraction else cfg.fps
            sentences = tuple(tuple(grammar.sample(rng)) for _ in range(2 if kind == "long" else 1))
            utt_id = f"{spk.id}/{spk.id}_{j + 1:04d}"
            utts.append(
                Utterance(
                    lang=lang,
                    speaker=spk,
                    utt_id=utt_id,
                    index=j,
                    seed=cfg.seed,
                    size=cfg.image_size,
                    fps=fps,
                    kind=kind,
                    sentences=sentences,
                    joiner=grammar.joiner,
                    out_dir=out_dir,
                    motion=cfg.motion,
                )
            )
    return utts


@lru_cache(maxsize=4)
def _face(look: Look, size: int) -> TalkingFace:
    # one face model per speaker and worker; building it runs face mesh once
    return TalkingFace(look, size=size)


def synthesize_all(utts: list[Utterance]) -> list[TimedSpeech]:
    """All speech of a language, in plan order (run in a fresh process: see module doc)."""
    return [
        synthesize(u.spoken, u.speaker.voice, seed=zlib.crc32(f"{u.seed} {u.lang} {u.utt_id}".encode())) for u in utts
    ]


def render(task: tuple[Utterance, TimedSpeech]) -> dict:
    """Animate and encode one utterance; returns its manifest row."""
    from l2s.data.media import write_video

    utt, speech = task
    rng = _stream(utt.seed, utt.lang, utt.speaker.id, utt.index, "render")
    text = utt.text
    spoken_words = utt.words
    sr = speech.sample_rate
    speech_s = len(speech.audio) / sr

    # place the speech inside the clip with silence around it, as in GRID recordings
    if utt.kind == "short":
        lead = rng.uniform(0.05, 0.15)
        total = lead + speech_s + rng.uniform(0.05, 0.15)
    else:
        target = rng.uniform(*NORMAL_SECONDS) if utt.kind == "normal" else speech_s + rng.uniform(0.6, 1.2)
        slack = max(target - speech_s - 0.1, 0.1)
        lead = rng.uniform(0.1 * slack, 0.6 * slack)
        total = max(target, lead + speech_s + 0.1)
    n_frames = int(round(total * utt.fps))
    total = n_frames / utt.fps
    audio = np.zeros(int(round(total * sr)), np.float32)
    start = int(round(lead * sr))
    audio[start : start + len(speech.audio)] = speech.audio[: len(audio) - start]

    phonemes = [p.shifted(lead) for p in speech.phonemes]
    # the transcript's words, with the timings of the spoken words they were read from
    words = [Span(w.text, t.start + lead, t.end + lead) for w, t in zip(spoken_words, speech.words)]
    shapes = mouth_track(phonemes, n_frames, utt.fps)
    # motion and encoder draw from streams of their own: changing the clip's timing
    # draws (or switching one part of the motion off) leaves the rest as it was
    track = Track.draw(n_frames, utt.fps, utt.motion, _stream(utt.seed, utt.lang, utt.speaker.id, utt.index, "motion"))
    frames = _face(utt.speaker.look, utt.size).render(shapes, track)
    crf_best, crf_worst = utt.motion.crf
    crf = crf_best
    if utt.motion.compression:
        crf = int(_stream(utt.seed, utt.lang, utt.speaker.id, utt.index, "encode").integers(crf_best, crf_worst + 1))

    video = Path(utt.out_dir) / f"{utt.utt_id}.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    write_video(video, frames, utt.fps, audio, sr, crf=crf)
    video.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
    alignment.write(
        video,
        words,
        phonemes,
        text=text,
        language=utt.lang,
        speaker=utt.speaker.id,
        voice=asdict(utt.speaker.voice),
        look=asdict(utt.speaker.look),
        fps=utt.fps,
        seconds=total,
        motion=track.peaks(),  # the largest head turn, drift, zoom and light change, and the blinks
        crf=crf,
    )
    return {
        "utt_id": utt.utt_id,
        "speaker": utt.speaker.id,
        "path": f"{utt.utt_id}.mp4",
        "text": text,
        "seconds": round(total, 3),
        "fps": utt.fps,
        "kind": utt.kind,
    }


def run(lang: str, params: Params) -> dict:
    """Generate data/raw/<lang> from scratch and write the stage record (counts, not DVC metrics); returns it."""
    utts = plan(lang, params)
    out = paths.raw_dir(lang)
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise FileExistsError(
                f"{out} holds files the corpus generator did not make; it will not overwrite them. "
                f"Move them, or use another language code for the synthetic corpus"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by l2s corpus; regenerated on every run\n")
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(1) as pool:
        speeches = pool.apply(synthesize_all, (utts,))
    rows = list(parallel.imap(render, zip(utts, speeches), params.corpus.workers, desc=f"corpus {lang}"))
    elapsed = time.perf_counter() - t0
    rows.sort(key=lambda r: r["utt_id"])
    # what a phonemizer needs to read the transcripts as the voices did (Mandarin characters
    # were spoken from their pinyin), in the format a user can give for their own corpus
    spoken = {w.text: w.say for u in utts for w in u.words}
    paths.write_json(out / PRONUNCIATION, {"voice": utts[0].speaker.voice.name, "words": dict(sorted(spoken.items()))})
    with open(out / MANIFEST, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    metrics = {
        "clips": len(rows),
        "speakers": len({r["speaker"] for r in rows}),
        "hours": round(sum(r["seconds"] for r in rows) / 3600, 4),
        "fps30": sum(r["fps"] == 30 for r in rows),
        "short": sum(r["kind"] == "short" for r in rows),
        "long": sum(r["kind"] == "long" for r in rows),
    }
    log.info(
        "corpus %s: %d clips in %.1f s (%.3f s per clip, workers=%d)",
        lang,
        len(rows),
        elapsed,
        elapsed / len(rows),
        params.corpus.workers,
    )
    paths.write_metrics("corpus", lang, metrics)
    return metrics
