"""l2s.data.facecrop: crop geometry on synthetic anchors, gap filling, smoothing, and a real face."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from l2s.config import CropConfig
from l2s.data.facecrop import (
    FaceTracker,
    affine,
    anchors,
    count_faces,
    crop,
    fill_gaps,
    similarity,
    smooth,
    template,
)

# The astronaut's pupils, read off the image by hand (x, y): image-left, image-right.
ASTRONAUT_EYES = np.array([[204.0, 102.0], [245.0, 104.0]])


def similarity_matrix(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array(
        [[scale * np.cos(a), -scale * np.sin(a), shift[0]], [scale * np.sin(a), scale * np.cos(a), shift[1]]]
    )


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def blob_centroid(img: np.ndarray, near: np.ndarray, radius: int = 7) -> np.ndarray:
    x0, y0 = np.round(near).astype(int) - radius
    win = img[y0 : y0 + 2 * radius + 1, x0 : x0 + 2 * radius + 1].astype(np.float64)
    yy, xx = np.mgrid[: win.shape[0], : win.shape[1]]
    return np.array([(xx * win).sum(), (yy * win).sum()]) / win.sum() + (x0, y0)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def tracker():
    with FaceTracker() as t:
        yield t


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("region", ["face", "mouth"])
def test_similarity_recovers_a_known_transform(region):
    dst = template(CropConfig(region=region))
    truth = similarity_matrix(17.0, 0.37, (-40.0, 12.5))  # frame -> crop
    inv = cv2.invertAffineTransform(truth)
    src = np.stack([apply(inv, dst), apply(inv, dst) + (100, -30)])  # a moving head
    m = similarity(src, dst)
    assert np.abs(m[0] - truth).max() < 1e-9
    for t in range(2):
        assert np.abs(apply(m[t], src[t]) - dst).max() < 1e-6


@pytest.mark.parametrize("scale, gray", [(0.9, True), (0.22, False)])  # direct warp; area pre-shrink
def test_crop_puts_the_anchors_on_the_template(scale, gray):
    spec = CropConfig(size=112, region="face", gray=gray)
    dst = template(spec)
    inv = cv2.invertAffineTransform(similarity_matrix(-12.0, scale, (5.0, -8.0)))
    src = apply(inv, dst) + (140, 90)
    h, w = 720, 960
    sigma = 2.0 / scale  # blobs 2 px wide in the crop
    yy, xx = np.mgrid[:h, :w]
    img = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in src)
    frame = np.repeat((255 * img).astype(np.uint8)[..., None], 3, axis=2)
    out = crop(frame[None], src[None], spec)
    assert out.shape == ((1, 112, 112) if gray else (1, 112, 112, 3))
    plane = out[0] if gray else out[0, ..., 0]
    for p in dst:
        assert np.abs(blob_centroid(plane, p) - p).max() < 0.1  # measured ~0.005; a half-pixel slip fails


def test_affine_alignment_undoes_the_foreshortening_of_a_turned_head():
    spec = CropConfig(size=88, region="mouth", align="affine")
    dst = template(spec)
    frontal = apply(cv2.invertAffineTransform(similarity_matrix(8.0, 0.5, (-30.0, -20.0))), dst)
    # the head turned away and nodding, as the image shows it: eyes closer together about
    # the face's centre line, the mouth closer to the eyes (a planar face, foreshortened)
    centre = frontal.mean(axis=0)
    turned = centre + (frontal - centre) * (0.8, 0.85)
    m = affine(turned[None], dst)[0]
    assert np.abs(apply(m, turned) - dst).max() < 1e-9  # three anchors: exact
    assert np.abs(apply(similarity(turned[None], dst)[0], turned) - dst).max() > 0.5  # a similarity cannot
    # the crop of the foreshortened frame is the frontal frame's crop
    h, w = 400, 500
    yy, xx = np.mgrid[:h, :w]
    texture = (127 + 60 * np.sin(xx / 7.0) * np.cos(yy / 11.0)).astype(np.uint8)
    squeeze = np.array([[0.8, 0, centre[0] * 0.2], [0, 0.85, centre[1] * 0.15]])  # frontal -> turned
    turned_frame = cv2.warpAffine(texture, squeeze, (w, h), flags=cv2.INTER_LINEAR)
    a = crop(texture[None], frontal[None], spec)[0].astype(float)
    b = crop(turned_frame[None], turned[None], spec)[0].astype(float)
    assert np.abs(a - b)[8:-8, 8:-8].mean() < 3.0  # measured 0.3
    similar = CropConfig(size=88, region="mouth", align="similarity")
    kept = crop(turned_frame[None], turned[None], similar)[0].astype(float)
    assert np.abs(a - kept)[8:-8, 8:-8].mean() > 3.0  # the similarity's crop: 6.5
    collinear = np.array([[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]])
    assert np.isnan(affine(collinear, dst)).all()
    with pytest.raises(ValueError, match="similarity or affine"):
        CropConfig(align="projective")


def test_template_is_in_pixels_and_mouth_is_tighter():
    face, mouth = template(CropConfig(size=112, region="face")), template(CropConfig(size=88, region="mouth"))
    assert face.shape == (3, 2) and np.all((face > 0) & (face < 112))
    assert face[0, 0] < face[1, 0] and face[2, 1] > face[0, 1]  # eyes left to right, mouth below
    assert np.allclose(mouth[2], [44, 44])  # mouth-centred

    def eye_dist(t, s):
        return (t[1, 0] - t[0, 0]) / s

    assert eye_dist(mouth, 88) > eye_dist(face, 112)  # zoomed in
    with pytest.raises(ValueError):
        CropConfig(region="lips")


def test_crop_refuses_missing_points():
    pts = np.tile(template(CropConfig()), (3, 1, 1))
    pts[1] = np.nan
    with pytest.raises(ValueError, match="fill_gaps"):
        crop(np.zeros((3, 64, 64, 3), np.uint8), pts, CropConfig())


# --------------------------------------------------------------------------- gaps, smoothing


def test_fill_gaps_interpolates_short_gaps_only():
    t = np.arange(12, dtype=np.float32)
    pts = np.stack([t, 2 * t], axis=1)[:, None, :].repeat(3, axis=1)  # [12, 3, 2] moving linearly
    holed = pts.copy()
    holed[[0, 4, 5, 7, 8, 9, 11]] = np.nan  # runs: 0-1 (edge), 4-5, 7-9 (too long), 11 (edge)
    holed[1, 1, 0] = np.nan  # one NaN value marks the whole frame missing
    filled, still = fill_gaps(holed, max_gap=2)
    assert still.tolist() == [t in (7, 8, 9) for t in range(12)]
    assert np.allclose(filled[4:6], pts[4:6])  # linear in, linear out
    assert np.allclose(filled[0:2], pts[2]) and np.allclose(filled[11], pts[10])  # nearest at the ends
    assert np.isnan(filled[7:10]).all()
    assert not np.isnan(holed[2]).any() and np.isnan(holed[4]).all()  # input untouched
    every, none_left = fill_gaps(holed, max_gap=len(holed))
    assert not none_left.any() and np.allclose(every[7:10], pts[7:10], atol=1e-5)


def test_fill_gaps_with_nothing_to_fill_from():
    filled, still = fill_gaps(np.full((4, 3, 2), np.nan, np.float32), max_gap=10)
    assert still.all() and np.isnan(filled).all()


def test_smooth_takes_out_jitter_and_keeps_steady_motion():
    rng = np.random.default_rng(0)
    t = np.arange(60, dtype=np.float64)
    line = np.stack([3 * t, -t], axis=1)[:, None, :].repeat(3, axis=1)
    jitter = rng.normal(0, 1.5, line.shape)
    out = smooth(line + jitter, 5)
    assert out.shape == line.shape
    assert np.allclose(smooth(line, 5)[2:-2], line[2:-2])  # no lag on a straight path
    assert np.std(out[2:-2] - line[2:-2]) < 0.6 * np.std(jitter)
    assert np.array_equal(smooth(line, 1), line)
    holed = line.copy()
    holed[10] = np.nan
    s = smooth(holed, 5)
    assert np.isnan(s[10]).all() and not np.isnan(s[[8, 9, 11, 12]]).any()
    assert np.allclose(s[9], line[7:12][[0, 1, 2, 4]].mean(axis=0))  # averages the valid frames only
    with pytest.raises(ValueError):
        smooth(line, 4)


# --------------------------------------------------------------------------- a real face


def test_count_faces(astronaut):
    assert count_faces(astronaut[None]) == 1
    assert count_faces(np.concatenate([astronaut, astronaut], axis=1)[None]) == 2
    assert count_faces(np.zeros((5, 240, 320, 3), np.uint8)) == 0


@pytest.mark.parametrize("angle", [0.0, 10.0])
def test_tracked_astronaut_eyes_land_on_the_template(astronaut, tracker, angle):
    rot = cv2.getRotationMatrix2D((256.0, 256.0), angle, 1.0)
    frame = cv2.warpAffine(astronaut, rot, (512, 512), borderMode=cv2.BORDER_REFLECT)
    frames = np.stack([frame] * 8)
    landmarks = tracker.track(frames)
    assert landmarks.shape == (8, 468, 2) and landmarks.dtype == np.float32
    assert not np.isnan(landmarks).any()
    points = smooth(anchors(landmarks), 3)
    spec = CropConfig(size=112, region="face", gray=True)
    crops = crop(frames, points, spec)
    assert crops.shape == (8, 112, 112) and crops.dtype == np.uint8
    m = similarity(points[:1], template(spec))[0]
    eyes_in_crop = apply(m, apply(rot, ASTRONAUT_EYES))
    assert np.abs(eyes_in_crop - template(spec)[:2]).max() < 4.0
    # dark pupils really are there: the eye rows are darker than the cheeks below them
    ey = int(round(template(spec)[0, 1]))
    assert crops[0, ey - 2 : ey + 3, 30:82].mean() < crops[0, ey + 18 : ey + 23, 30:82].mean()


def test_rotation_does_not_change_the_crop(astronaut, tracker):
    spec = CropConfig(size=96, region="mouth", gray=True)
    out = []
    for angle in (0.0, 10.0):
        rot = cv2.getRotationMatrix2D((256.0, 256.0), angle, 1.0)
        frames = np.stack([cv2.warpAffine(astronaut, rot, (512, 512))] * 4)
        out.append(crop(frames, anchors(tracker.track(frames)), spec).astype(int))
    assert np.abs(out[0] - out[1]).mean() < 8


def test_tracking_restarts_between_videos(astronaut, tracker):
    assert not np.isnan(tracker.track(astronaut[None].repeat(3, axis=0))).any()
    blank = tracker.track(np.zeros((3, 512, 512, 3), np.uint8))
    assert np.isnan(blank).all()  # no face carried over from the last video


def test_mediapipe_loads_only_the_face_solutions_yet_stays_whole():
    """facecrop loads face detection and face mesh without mediapipe's and its solutions'
    __init__ (every other solution, matplotlib, the tasks API); a later `import mediapipe`
    in the same process still gets the whole package."""
    script = """
import sys
from l2s.data import facecrop
solutions = facecrop._mediapipe()
print(sorted(m for m in ("matplotlib", "mediapipe.tasks", "mediapipe.python.solutions.hands") if m in sys.modules))
import mediapipe as mp
assert mp.solutions is solutions and mp.solutions.face_mesh is solutions.face_mesh
assert mp.__version__ and mp.Image and mp.tasks.vision.FaceLandmarker and mp.solutions.drawing_utils.draw_landmarks
with mp.solutions.hands.Hands(static_image_mode=True):
    pass
"""
    repo = Path(__file__).resolve().parents[1]  # `python -c` imports from its working directory first
    out = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "[]"
