"""Several faces in a video (preprocess.faces): rejected, the largest followed, or the one
whose lips move with the sound, on a corpus video with a silent face beside the speaker
and on real footage with a person behind the speaker; faces.csv says which and why."""

from __future__ import annotations

import csv
import logging
import re

import cv2
import numpy as np
import pytest

from l2s.config import PreprocessConfig
from l2s.data import media, preprocess, real_footage, speaker_face
from l2s.data.rejects import Reject
from l2s.data.sources import RawItem
from tests.helpers import corpus_root, preprocess_folder, talking_video

log = logging.getLogger(__name__)

STILL_SIZE = 400  # px: the silent face's picture, its face box larger than the speaker's


def _scores(why: str) -> list[float]:
    """The sync confidences a choice's `why` names, in its order (a box's pixels are whole)."""
    return [float(s) for s in re.findall(r"-?\d\.\d\d", why)]


@pytest.fixture(scope="module")
def composite(tmp_path_factory, face_frame):
    """A corpus video (256 px, as tests/test_sync.py's corpus: the lip gap a face mesh can
    follow) and a copy on a wider canvas with a larger still face beside the speaker, whose
    lips never move: the original's path and the copy's."""
    root = corpus_root(
        tmp_path_factory.mktemp("corpus"),
        corpus={"speakers": 1, "utterances_per_speaker": 1, "image_size": 256},
        preprocessed=False,
    )
    (original,) = sorted((root / "data/raw/en").glob("s*/*.mp4"))
    video = media.read_video(original, sample_rate=16000)
    still = cv2.resize(face_frame, (STILL_SIZE, STILL_SIZE), interpolation=cv2.INTER_CUBIC)
    t, h, w = video.frames.shape[:3]
    canvas = np.zeros((t, max(h, STILL_SIZE), w + STILL_SIZE, 3), np.uint8)
    canvas[:, :h, :w] = video.frames
    canvas[:, :STILL_SIZE, w:] = still
    copy = original.with_name("with_a_silent_face.mp4")
    media.write_video(copy, canvas, video.fps, video.audio, 16000)
    return original, copy


def _clips(path, faces: str, **settings):
    return preprocess.process_video(RawItem("video", path, "spk"), PreprocessConfig(workers=1, faces=faces, **settings))


def test_a_silent_larger_face_beside_the_speaker(composite):
    original, copy = composite
    with pytest.raises(Reject) as info:
        _clips(copy, "reject")
    assert info.value.reason == "multiple_faces"
    assert "2 faces in the frame" in info.value.detail and "preprocess.faces=reject" in info.value.detail

    alone = _clips(original, "speaking")[0]  # a single face: no choice to make
    assert (alone.faces, alone.face, alone.face_choice) == (1, 0, "")

    largest = _clips(copy, "largest")[0]
    assert (largest.faces, largest.face) == (2, 0)  # the still face is the larger
    assert largest.face_choice.startswith("largest of 2 faces: ")

    speaking = _clips(copy, "speaking")[0]
    assert (speaking.faces, speaking.face) == (2, 1), speaking.face_choice
    assert speaking.face_choice.startswith("speaking: its lips follow the speech")
    speaker, silent = _scores(speaking.face_choice)
    assert speaker - silent >= speaker_face.MARGIN

    # the speaker's crops are the single-face video's, up to the re-encoding; the largest
    # face's are another face's mouth
    mine = np.abs(speaking.frames.astype(float) - alone.frames).mean()
    other = np.abs(largest.frames.astype(float) - alone.frames).mean()
    log.info("composite: %s; crops off the single face's by %.1f (largest %.1f)", speaking.face_choice, mine, other)
    assert mine < 4 and other > 4 * mine, (mine, other)


def test_the_speaker_of_real_footage_with_a_person_behind_him():
    try:
        path = real_footage.path("obama_speech")
    except FileNotFoundError as e:  # its message says to run make setup
        pytest.skip(str(e))
    with pytest.raises(Reject) as info:
        _clips(path, "reject")
    assert info.value.reason == "multiple_faces"

    # over the whole 8.7 s (every clip): the speaker's lips follow the speech, the other's not
    whole = _clips(path, "speaking", clip_policy="split")
    assert {(c.faces, c.face) for c in whole} == {(2, 0)}
    assert whole[0].face_choice.startswith("speaking: its lips") and "48x48 px" in whole[0].face_choice
    speaker, behind = _scores(whole[0].face_choice)
    log.info("obama_speech, whole video: the speaker %.2f, the person behind %.2f", speaker, behind)
    assert speaker - behind >= speaker_face.MARGIN
    assert abs(speaker - 0.46) < 0.05 and abs(behind - 0.25) < 0.05  # as measured (README)

    # over the first clip's 3 s alone the two measured 0.39 and 0.30, closer than the margin:
    # the largest, the speaker too, the choice marked unsure; sure or not, both scores named
    first = _clips(path, "speaking")[0]
    assert (first.faces, first.face) == (2, 0) and len(_scores(first.face_choice)) == 2, first.face_choice
    log.info("obama_speech, first clip: %s", first.face_choice)


@pytest.mark.parametrize(
    "scores, pick, start",
    [
        ([0.46, 0.25], 0, "speaking: its lips"),
        ([0.27, 0.60], 1, "speaking: its lips"),
        ([0.31, 0.28], 0, "speaking, unsure"),  # within the margin: the largest
        ([0.20, 0.28], 0, "speaking, unsure"),  # a smaller face a little better: still the largest
        ([0.10, 0.50, 0.45], 0, "speaking, unsure"),  # the best two too close
        ([0.10, 0.50, 0.30], 1, "speaking: its lips"),
    ],
)
def test_the_speaker_must_beat_every_other_face_by_the_margin(scores, pick, start):
    boxes = [f"box {i}" for i in range(len(scores))]
    index, why = speaker_face.pick_speaker(scores, boxes)
    assert index == pick and why.startswith(start) and why.endswith(boxes[pick]), why
    named = sorted(scores, reverse=True) if start.startswith("speaking:") else sorted(scores, reverse=True)[:2]
    assert sorted(_scores(why), reverse=True) == named, why


def test_faces_csv_lists_the_videos_with_several_faces(workdir, tmp_path, face_frame):
    raw = tmp_path / "raw"
    talking_video(raw / "spk/alone.mp4", face_frame)
    talking_video(raw / "spk/mirrored.mp4", np.concatenate([face_frame, face_frame[:, ::-1]], axis=1))
    metrics, _ = preprocess_folder(workdir, raw, faces="largest")
    assert metrics["clips"] == 2 and metrics["rejected"] == 0 and metrics["several_faces"] == 1

    out = workdir / "data/processed/xx"
    with open(out / "faces.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    row = rows[0]
    assert (row["utt_id"], row["path"], row["faces"], row["face"], row["policy"]) == (
        "spk/mirrored",
        "spk/mirrored.mp4",
        "2",
        "0",
        "largest",
    )
    assert row["why"].startswith("largest of 2 faces: ")
    with open(out / "clips.csv", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        clips = {r["utt_id"]: r for r in reader}
        columns = reader.fieldnames
    assert columns[columns.index("sync_shift") + 1 :] == ["faces", "face"]
    assert (clips["spk/alone"]["faces"], clips["spk/alone"]["face"]) == ("1", "0")
    assert (clips["spk/mirrored"]["faces"], clips["spk/mirrored"]["face"]) == ("2", "0")

    # none with several faces: the file is there, its header alone
    (raw / "spk/mirrored.mp4").unlink()
    metrics, _ = preprocess_folder(workdir, raw, faces="largest")
    assert metrics["several_faces"] == 0
    assert (out / "faces.csv").read_text(encoding="utf-8").splitlines() == ["utt_id,path,faces,face,policy,why"]
