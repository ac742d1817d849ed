"""Tests of the talking-face renderer, checked by an independent face detector (MediaPipe)."""

from __future__ import annotations

import mediapipe as mp
import numpy as np
import pytest

from l2s.config import MotionConfig
from l2s.corpus.motion import Track
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

    def track(seed):
        return Track.draw(12, 25.0, MotionConfig(blink_rate=2.0), np.random.default_rng(seed))

    a = face.render(shapes, track(7))
    assert np.array_equal(a, face.render(shapes, track(7)))
    assert np.array_equal(face.render(shapes), face.render(shapes))
    assert not np.array_equal(a, face.render(shapes, track(8)))
    # a still track is no track: the photo's pose and light
    assert np.array_equal(face.render(shapes, Track.still(12)), face.render(shapes))


@pytest.fixture(scope="module")
def refined():
    """Face mesh with refined eye landmarks: the plain mesh barely follows a closing lid."""
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as m:
        yield m


def pose(lm: np.ndarray) -> dict[str, float | np.ndarray]:
    """What face mesh's landmarks say about the head: roll (degrees), size (outer eye
    corners, px), centre (nose, eye corners, ears; px), and how far the nose sits from the
    middle of the ears, across (yaw, share of the face's width) and down (pitch, share of
    its height): the outline of a turning head stays, its nose moves most."""
    eyes = lm[263] - lm[33]
    ears_x = lm[[234, 454], 0]
    # roll: the mean direction of pairs mirrored across the face (eyes, cheeks, mouth), steadier than one pair
    pairs = lm[[263, 362, 454, 291, 356]] - lm[[33, 133, 234, 61, 127]]
    return {
        "roll": float(np.degrees(np.arctan2(*pairs.sum(0)[::-1]))),
        "size": float(np.linalg.norm(eyes)),
        "centre": lm[[1, 33, 263, 234, 454]].mean(0),
        "yaw": float((lm[1, 0] - ears_x.mean()) / abs(ears_x[1] - ears_x[0])),
        "pitch": float((lm[1, 1] - lm[[234, 454], 1].mean()) / (lm[152, 1] - lm[10, 1])),
    }


def eye_opening(lm: np.ndarray) -> float:
    """Lid gap over eye width, both eyes averaged."""
    right = np.linalg.norm(lm[159] - lm[145]) / np.linalg.norm(lm[133] - lm[33])
    left = np.linalg.norm(lm[386] - lm[374]) / np.linalg.norm(lm[263] - lm[362])
    return float(0.5 * (right + left))


def test_head_turns_by_the_configured_amounts(faces, mesh):
    """Over 6 s of the default motion, face mesh sees the head roll, turn and nod with the
    planned pose: roll to within a degree, yaw and pitch in step with the plan."""
    cfg = MotionConfig(blinks=False, lighting=False)
    n, step = 150, 5
    for look in list(faces)[:2]:  # one per photo
        face = faces[look]
        track = Track.draw(n, 25.0, cfg, np.random.default_rng(4))
        planned = track.pose[::step]
        assert np.ptp(planned, axis=0).min() >= 2.0  # the draw really moves every angle
        assert (np.abs(track.pose) <= (cfg.yaw, cfg.pitch, cfg.roll)).all()
        frames = face.render(np.zeros((n, 3), np.float32), track)[::step]
        seen = [pose(detect(mesh, f)[0]) for f in frames]
        # face mesh's roll of a photo is off by a degree or so and the same in every frame:
        # compare the changes
        roll = np.array([p["roll"] for p in seen])
        error = roll - planned[:, 2]
        assert np.abs(error - np.median(error)).max() <= 1.0, (look, roll, planned[:, 2])
        assert 0.7 < np.polyfit(planned[:, 2], roll, 1)[0] < 1.3
        for k, name in enumerate(("yaw", "pitch")):
            measured = np.array([p[name] for p in seen])
            assert np.corrcoef(measured, planned[:, k])[0, 1] > 0.75, (look, name, measured, planned[:, k])
        # positive yaw turns the nose to the image's right, positive pitch nods it down
        assert np.polyfit(planned[:, 0], [p["yaw"] for p in seen], 1)[0] > 0
        assert np.polyfit(planned[:, 1], [p["pitch"] for p in seen], 1)[0] > 0


def test_head_drifts_and_zooms_by_the_configured_amounts(faces, mesh):
    """Drift and zoom alone: face mesh finds the head where the plan puts it, to a pixel."""
    face = next(iter(faces.values()))
    track = Track.still(5)
    track.shift[:] = [(0, 0), (0.03, 0), (0, -0.03), (-0.02, 0.02), (0, 0)]
    track.zoom[:] = [0, 0, 0, 0.04, -0.04]
    frames = face.render(np.zeros((5, 3), np.float32), track)
    seen = [pose(detect(mesh, f)[0]) for f in frames]
    c = face._head_centre  # drift and zoom act about the head's centre
    for p, shift, zoom in zip(seen, track.shift, track.zoom):
        expected = c + (1 + zoom) * (seen[0]["centre"] - c) + shift * SIZE
        assert np.linalg.norm(p["centre"] - expected) <= 1.0, (shift, zoom, p["centre"], expected)
        assert abs(p["size"] / seen[0]["size"] - (1 + zoom)) <= 0.01, (zoom, p["size"] / seen[0]["size"])


def test_with_head_motion_off_the_head_holds_still(faces, mesh):
    face = next(iter(faces.values()))
    n, step = 100, 5
    track = Track.draw(n, 25.0, MotionConfig(head=False, blink_rate=1.0), np.random.default_rng(2))
    assert not track.pose.any() and not track.shift.any() and not track.zoom.any()
    assert track.blink.max() > 0.5 and np.ptp(track.gain) > 0  # the other parts still run
    frames = face.render(np.zeros((n, 3), np.float32), track)[::step]
    seen = [pose(detect(mesh, f)[0]) for f in frames]
    centres = np.array([p["centre"] for p in seen])
    assert np.linalg.norm(centres - centres.mean(0), axis=1).max() <= 0.5
    assert np.ptp([p["roll"] for p in seen]) <= 0.5


def test_blinks_close_the_eyes(faces, refined):
    """A blink's closure makes face mesh's lid gap shrink and open again."""
    closure = np.array([0.0, 0.5, 1.0, 0.5, 0.0])
    track = Track.still(len(closure))
    track.blink[:] = closure
    for look in list(faces)[:4]:  # both photos, as is and mirrored
        frames = faces[look].render(np.zeros((len(closure), 3), np.float32), track)
        gap = np.array([eye_opening(detect(refined, f)[0]) for f in frames])
        assert gap[2] < 0.7 * gap[0], (look, gap)  # shut
        assert gap[2] < gap[1] < gap[0] and gap[2] < gap[3] < gap[4], (look, gap)
        assert abs(gap[4] - gap[0]) < 0.02 * gap[0], (look, gap)  # open again, as before


def test_bad_shapes_rejected(faces):
    face = next(iter(faces.values()))
    with pytest.raises(ValueError, match="n, 3"):
        face.render(np.zeros((4, 2), np.float32))
    assert face.render(np.zeros((0, 3), np.float32)).shape == (0, SIZE, SIZE, 3)
