"""Tests of the talking-face renderer, checked by an independent face detector (MediaPipe)."""

from __future__ import annotations

import mediapipe as mp
import numpy as np
import pytest

from l2s.corpus.talking_face import PHOTOS, Look, TalkingFace, load_photo, looks

SIZE = 256
REST = (0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def mesh():
    """A static-mode face mesh that may report two faces, so a duplicate would show."""
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=2) as m:
        yield m


@pytest.fixture(scope="module")
def faces() -> dict[Look, TalkingFace]:
    return {look: TalkingFace(look, SIZE) for look in looks(6, seed=0)}


def detect(mesh, frame: np.ndarray) -> list[np.ndarray]:
    """Landmarks [468, 2] in pixels of every face found."""
    result = mesh.process(frame)
    h, w = frame.shape[:2]
    return [np.array([(p.x * w, p.y * h) for p in f.landmark]) for f in result.multi_face_landmarks or []]


def mouth(mesh, frame: np.ndarray) -> tuple[float, float]:
    """(lip gap / mouth width, mouth width in px) as face mesh measures them."""
    (lm,) = detect(mesh, frame)
    width = float(np.linalg.norm(lm[291] - lm[61]))
    return float(np.linalg.norm(lm[13] - lm[14])) / width, width


def test_photos_load():
    for name in PHOTOS:
        img = load_photo(name)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    load_photo("astronaut")[:] = 0  # a copy: the cached photo must stay intact
    assert load_photo("astronaut").any()


def test_unknown_photo_is_a_clear_error():
    with pytest.raises(ValueError, match="astronaut.*grace_hopper"):
        load_photo("mona_lisa")
    with pytest.raises(ValueError, match="mona_lisa"):
        Look("mona_lisa")


def test_looks_deterministic_and_distinct():
    a, b = looks(6, seed=0), looks(6, seed=0)
    assert a == b
    assert len(set(a)) == 6
    assert {look.photo for look in a} == set(PHOTOS)
    assert {look.mirror for look in a} == {False, True}
    assert looks(6, seed=1) != a
    assert looks(3, seed=0) == a[:3]
    for look in a:  # recolouring stays natural
        assert abs(look.hue) <= 15 and 0.7 <= look.saturation <= 1.3 and 0.75 <= look.gamma <= 1.3


def test_every_look_renders_and_is_redetected(faces, mesh):
    shapes = np.array([REST, (1.0, 0.0, 0.0)], np.float32)
    for look, face in faces.items():
        frames = face.render(shapes)
        assert frames.shape == (2, SIZE, SIZE, 3) and frames.dtype == np.uint8
        for frame in frames:
            assert len(detect(mesh, frame)) == 1, look


def test_open_wide_round_move_the_measured_mouth(faces, mesh):
    shapes = np.array([REST, (0.5, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)], np.float32)
    for look in list(faces)[:2]:  # one per photo; the others differ only in colour and side
        rest, half, full, wide, rnd = (mouth(mesh, f) for f in faces[look].render(shapes))
        assert rest[0] < half[0] - 0.05 < full[0] - 0.1, (look, rest, half, full)
        assert full[0] > 0.25  # clearly open
        assert wide[1] > rest[1] * 1.05, (look, rest, wide)
        assert rnd[1] < rest[1] * 0.95, (look, rest, rnd)


def test_rest_mouth_is_closed(faces, mesh):
    # the astronaut smiles with her teeth showing; open = 0 must still read as closed
    for look in list(faces)[:2]:
        gap, _ = mouth(mesh, faces[look].render(np.array([REST], np.float32))[0])
        assert gap < 0.08, (look, gap)


def test_painted_interior_matches_the_lips(faces):
    face = next(iter(faces.values()))
    frame = face.render(np.array([(1, 0, 0)], np.float32))[0].astype(float)
    upper, lower = face.inner_lips(np.array([1.0, 0.0, 0.0]))
    centre = 0.5 * (upper[5] + lower[5])
    inside = frame[int(centre[1]) - 2 : int(centre[1]) + 3, int(centre[0]) - 2 : int(centre[0]) + 3].mean()
    skin = frame[int(lower[5, 1]) + 12, int(centre[0])].mean()
    assert inside < 0.5 * skin  # dark cavity between the lips


def test_render_is_deterministic(faces):
    face = next(iter(faces.values()))
    shapes = np.random.default_rng(3).random((12, 3)).astype(np.float32)
    a = face.render(shapes, np.random.default_rng(7))
    b = face.render(shapes, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert np.array_equal(face.render(shapes), face.render(shapes))
    assert not np.array_equal(a, face.render(shapes, np.random.default_rng(8)))


def test_head_motion_is_small_and_smooth(faces, mesh):
    face = next(iter(faces.values()))
    n, step = 80, 4
    still = face.render(np.zeros((1, 3), np.float32))[0]
    moving = face.render(np.zeros((n, 3), np.float32), np.random.default_rng(0))[::step]
    assert not np.array_equal(still, moving[0])

    def pose(frame: np.ndarray) -> tuple[np.ndarray, float]:
        (lm,) = detect(mesh, frame)
        eyes = lm[[33, 133]].mean(0), lm[[362, 263]].mean(0)
        d = eyes[1] - eyes[0]
        return np.concatenate([lm[[1]], eyes]).mean(0), float(np.degrees(np.arctan2(d[1], d[0])))

    (c0, a0), poses = pose(still), [pose(f) for f in moving]
    shift = np.array([c - c0 for c, _ in poses])
    angle = np.array([a - a0 for _, a in poses])
    assert np.linalg.norm(shift, axis=1).max() <= 6.0  # a few px at 256
    assert np.linalg.norm(shift, axis=1).max() >= 1.0  # but really there
    assert np.abs(angle).max() <= 3.0
    # slowly varying: at most ~0.5 px per frame plus the detector's jitter
    assert np.linalg.norm(np.diff(shift, axis=0), axis=1).max() <= 0.5 * step + 1.0


def test_bad_shapes_rejected(faces):
    face = next(iter(faces.values()))
    with pytest.raises(ValueError, match="n, 3"):
        face.render(np.zeros((4, 2), np.float32))
    assert face.render(np.zeros((0, 3), np.float32)).shape == (0, SIZE, SIZE, 3)
