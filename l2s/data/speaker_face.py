"""Which of several faces in a video is the speaker's (preprocess.faces).

Real footage often shows more than one face: a person behind the speaker, an interviewer,
a poster on the wall. A model trained on another person's lips learns nothing, so
preprocessing has to follow the face that speaks. Three rules, one setting:

* `reject`: list the video in rejects.csv (multiple_faces), as l2s did before it could
  choose: for a corpus that must hold one face per video and wants to know when one does not.
* `largest`: follow the largest face, as `l2s speak` does: in most footage the speaker is
  the one filmed closest.
* `speaking` (the default): follow the face whose lips move with the sound. Each face is
  tracked over the whole video, and its mouth opening is matched against the speech
  envelope the way l2s.data.sync estimates a clip's offset; the match's confidence (a
  correlation, -1..1) says how well that face's lips follow the speech. The best face is
  taken when it beats every other face by MARGIN; otherwise the estimate cannot tell the
  faces apart (a short video, a speaker seen from the side, several people talking) and the
  largest face is taken, as under `largest`, with the choice recorded as unsure.

A video with one face takes the same path under every rule, so a corpus of one face per
video (the embedded one) is processed exactly as before the setting existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from l2s.config import PreprocessConfig
from l2s.data import sync
from l2s.data.rejects import Reject

# How much higher the speaking face's sync confidence must be than every other face's. A
# face whose lips do not move with the sound still scores a few tenths: the confidence is
# the best of 2 * sync_max_offset + 1 lags, and over a few seconds the lip landmarks' own
# jitter (compression, the head's motion) correlates that well with the speech at one of
# them by chance. Measured: a
# still photo beside a corpus speaker 0.22 (the speaker 0.61), the person behind the speaker
# of obama_speech.mp4 0.25 over the whole video (the speaker 0.46) but 0.30 over its first
# 3 s (the speaker 0.39). Scores closer than this say nothing about which face speaks, and
# the largest face, in most footage the speaker, is the safer guess.
MARGIN = 0.1


@dataclass(frozen=True)
class FaceChoice:
    """The face a video's clips are cut from, and why that one."""

    face: int  # its index among the faces found, largest first (0: the largest)
    faces: int  # how many faces were found
    landmarks: np.ndarray = field(repr=False)  # [T, 468, 2] of the face taken, NaN where it was not found
    why: str = ""  # one line a person can read; empty for a single face


def choose(frames: np.ndarray, faces: list, audio: np.ndarray, cfg: PreprocessConfig, where: str) -> FaceChoice:
    """The face to cut clips from, of `faces` (facecrop.FaceBox, largest first, at least
    one) found in `frames` (at cfg.fps); `audio` is the video's track on the same timeline.
    Raises Reject (multiple_faces) for several faces under preprocess.faces `reject`."""
    from l2s.data import facecrop

    if not faces:
        raise ValueError("choose needs at least one face")
    n = len(faces)
    if n == 1:  # the path of a single-face video, unchanged: no follow box, one face meshed
        return FaceChoice(0, 1, facecrop.track_landmarks(frames))
    if cfg.faces == "reject":
        raise Reject(
            "multiple_faces",
            f"{where}: {n} faces in the frame; l2s needs one speaker per video (preprocess.faces=reject; "
            f"largest or speaking keep it)",
        )
    if cfg.faces == "largest":
        marks = facecrop.track_landmarks(frames, follow=faces[0], max_faces=n)
        return FaceChoice(0, n, marks, f"largest of {n} faces: {faces[0]}")
    if cfg.faces != "speaking":
        raise ValueError(f"preprocess.faces: {cfg.faces!r}; choose one of: reject, largest, speaking")

    # every frame the clips use: more frames than one clip window make a chance match rarer
    envelope = sync.speech_envelope(audio, cfg.mel.sample_rate, cfg.samples_per_frame)
    tracks, scores = [], []
    for box in faces:
        marks = facecrop.track_landmarks(frames, follow=box, max_faces=n)
        found = sync.estimate(
            sync.mouth_opening(marks), envelope, 0, len(frames), cfg.sync_max_offset, cfg.sync_tolerance
        )
        tracks.append(marks)
        scores.append(found.confidence)
    pick, why = pick_speaker(scores, [str(b) for b in faces])
    return FaceChoice(pick, n, tracks[pick], why)


def pick_speaker(scores: list[float], boxes: list[str]) -> tuple[int, str]:
    """Of faces largest first with these sync confidences (and boxes, as text), the index of
    the speaker's and why: the best-scoring face if it beats every other by MARGIN, else the
    largest (an unsure choice)."""
    order = np.argsort(scores, kind="stable")[::-1]
    best, runner_up = int(order[0]), int(order[1])
    if scores[best] - scores[runner_up] >= MARGIN:
        others = " and ".join(f"face {i}'s ({s:.2f})" for i, s in enumerate(scores) if i != best)
        return (
            best,
            f"speaking: its lips follow the speech (sync {scores[best]:.2f}) better than {others}; {boxes[best]}",
        )
    return 0, (
        f"speaking, unsure: no face's lips follow the speech clearly better ({scores[best]:.2f} against "
        f"{scores[runner_up]:.2f}): the largest, {boxes[0]}"
    )
