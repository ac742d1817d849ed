"""Face and mouth crops that follow the head, from MediaPipe face landmarks.

Per frame, three anchors (both eye centres and the mouth centre) are mapped onto fixed
template positions by a similarity transform (rotation + uniform scale + shift), so a
head that turns in the image plane, nods closer or moves gives the same crop framing.
`crop.align: affine` maps them exactly instead (shear and a scale per axis as well): a
head turned away (yaw) brings its eyes closer together in the image, one nodding (pitch)
its mouth closer to its eyes, and the affine map stretches both back to the template, a
planar frontalisation of the face (the lips are nearly flat; the nose and the far cheek
are not, and stay as the camera saw them).
The pipeline is: `FaceTracker.track` -> `anchors` -> `fill_gaps` -> `smooth` -> `crop`;
`track_face` runs it up to the crop on frames in memory, as preprocessing does, and
`face_anchors` -> `settle` -> `crops` the same one frame at a time, as `l2s speak` does.

Nothing here starts threads of its own; OpenCV's thread pool is the caller's to size
(e.g. cv2.setNumThreads(1) in each worker process).
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType

import cv2
import numpy as np

from l2s.config import CropConfig, PreprocessConfig

log = logging.getLogger(__name__)

N_LANDMARKS = 468

# MediaPipe face mesh indices. Eye centres are the midpoints of the eye corners and the
# mouth centre the midpoint of the mouth corners: corners barely move when the eyes blink
# or the lips speak, so the crop follows the head, not the lips.
_EYE_IMAGE_LEFT = (33, 133)  # the subject's right eye: outer, inner corner
_EYE_IMAGE_RIGHT = (362, 263)  # the subject's left eye: inner, outer corner
_MOUTH_CORNERS = (61, 291)

# Template anchors as fractions of the crop size, (x, y) for image-left eye, image-right
# eye, mouth. In MediaPipe's canonical face model the mouth centre lies 1.1 inter-eye
# distances below the eyes; both templates keep that proportion.
#   face:  inter-eye 0.30 -> forehead to chin (2.8 inter-eye) spans 0.08..0.92 of the crop.
#   mouth: inter-eye 0.50, mouth at the centre -> nose tip to chin in view, eyes above it.
_TEMPLATES = {
    "face": ((0.35, 0.36), (0.65, 0.36), (0.50, 0.69)),
    "mouth": ((0.25, -0.05), (0.75, -0.05), (0.50, 0.50)),
}

# Downscaling by more than this per output pixel aliases under bilinear warping, so the
# region is first shrunk with area averaging (cheap: it touches only the crop's footprint).
_MAX_WARP_DOWNSCALE = 2.0


def _rgb(frame: np.ndarray) -> np.ndarray:
    """MediaPipe wants contiguous uint8 RGB."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(frame)


@contextlib.contextmanager
def quiet_native_stderr():
    """MediaPipe's C++ side writes the same few warnings to fd 2 every time it builds a
    graph (once per video with tracking reset): hide them there and only there."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _DeferredPackage(types.ModuleType):
    """A package whose __init__.py runs when a name it lacks is first looked up: until then
    its submodules import without it."""

    def __getattr__(self, name: str):
        init = self.__dict__.pop("_deferred_init", None)
        if init is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        exec(init.get_code(self.__name__), self.__dict__)
        return getattr(self, name)


def _defer(name: str, path: list[str] | None) -> types.ModuleType:
    spec = importlib.machinery.PathFinder.find_spec(name, path)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _DeferredPackage
    module._deferred_init = spec.loader
    sys.modules[name] = module
    return module


def _mediapipe() -> types.ModuleType:
    """mediapipe.python.solutions with its face_detection and face_mesh loaded.

    `import mediapipe` also loads every other solution, matplotlib (for the drawing
    utilities) and the tasks API: 0.26 s of a 1.6 s cold `l2s speak` on a 3 s clip. Here the
    two packages' __init__ files wait until something asks them for a name they lack, so
    a later `import mediapipe` anywhere in the process still finds the whole package."""
    if "mediapipe" not in sys.modules:
        _defer("mediapipe", None)
        import mediapipe.python

        mediapipe.python.solutions = _defer("mediapipe.python.solutions", mediapipe.python.__path__)
    # `import a.b` form: `from ... import` would ask the deferred package for the name first
    import mediapipe.python.solutions.face_detection
    import mediapipe.python.solutions.face_mesh

    return sys.modules["mediapipe.python.solutions"]


_detector = None


def _face_detector():
    """One full-range face detector per process, made on first use (loading costs ~50 ms)."""
    global _detector
    if _detector is None:
        with quiet_native_stderr():
            _detector = _mediapipe().face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
            _detector.process(np.zeros((64, 64, 3), np.uint8))  # its first frame warns too
    return _detector


@dataclass(frozen=True)
class FaceBox:
    """A detected face: its box in pixels (top-left corner and size) in frame `frame`."""

    x: float
    y: float
    width: float
    height: float
    frame: int = 0

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2

    def __str__(self) -> str:
        cx, cy = self.centre
        return f"{self.width:.0f}x{self.height:.0f} px at ({cx:.0f}, {cy:.0f})"


def sample_indices(n_frames: int, samples: int) -> np.ndarray:
    """`samples` evenly spaced frame indices of a video of n_frames (fewer if it is shorter)."""
    return np.unique(np.linspace(0, n_frames - 1, max(1, samples)).round().astype(int))


def find_faces(frames: np.ndarray, samples: int = 3) -> list[FaceBox]:
    """The faces MediaPipe's full-range detector finds in whichever of `samples` evenly
    spaced frames shows the most of them, largest first."""
    if len(frames) == 0:
        return []
    return detect_faces((int(i), frames[i]) for i in sample_indices(len(frames), samples))


def detect_faces(frames: Iterable[tuple[int, np.ndarray]]) -> list[FaceBox]:
    """Of (index, frame) pairs, the faces of the frame that shows the most (the first such),
    largest first: `find_faces` on frames a caller has picked itself."""
    detector = _face_detector()
    best: list[FaceBox] = []
    for i, frame in frames:
        h, w = frame.shape[:2]
        detections = detector.process(_rgb(frame)).detections or ()
        if len(detections) > len(best):
            boxes = [d.location_data.relative_bounding_box for d in detections]
            best = [FaceBox(b.xmin * w, b.ymin * h, b.width * w, b.height * h, int(i)) for b in boxes]
    return sorted(best, key=lambda b: b.width * b.height, reverse=True)


def count_faces(frames: np.ndarray, samples: int = 3) -> int:
    """Most faces MediaPipe's full-range detector finds in `samples` evenly spaced frames."""
    return len(find_faces(frames, samples))


def turn(frames: np.ndarray, degrees: int) -> np.ndarray:
    """Frames [T, H, W(, C)] turned `degrees` clockwise (a multiple of 90), contiguous."""
    if degrees % 90:
        raise ValueError(f"frames turn by quarter turns: 0, 90, 180 or 270 degrees, not {degrees}")
    if degrees % 360 == 0:
        return frames
    # np.rot90 turns counter-clockwise for positive k, from the first axis towards the second
    return np.ascontiguousarray(np.rot90(frames, k=-(degrees // 90), axes=(1, 2)))


def find_rotation(frames: np.ndarray, samples: int = 3) -> int | None:
    """The clockwise turn (90, 180 or 270 degrees) that shows the face in `frames` upright,
    or None when no turn shows a face: for a video with no face as it is, because it was
    stored sideways or upside down without rotation metadata.

    MediaPipe's detector finds faces from upright to a quarter turn clockwise, not beyond
    (measured on the astronaut photo: upright score 0.88, turned 90 degrees clockwise 0.79,
    180 and 270 nothing), so more than one turn may find the face: the upright one is the
    one it is surest of, over `samples` evenly spaced frames."""
    picks = np.unique(np.linspace(0, len(frames) - 1, max(1, samples)).round().astype(int))
    detector = _face_detector()
    best, best_score = None, 0.0
    for degrees in (90, 180, 270):
        turned = turn(frames[picks], degrees)
        scores = [max((d.score[0] for d in detector.process(_rgb(f)).detections or ()), default=0.0) for f in turned]
        if np.mean(scores) > best_score:
            best, best_score = degrees, float(np.mean(scores))
    return best


class FaceTracker:
    """MediaPipe face mesh in tracking mode; make one per worker process and reuse it.

    Tracking (static_image_mode=False) runs the face detector only when the track is lost,
    which is both faster and steadier than detecting in every frame. With `max_faces` > 1
    it meshes that many faces per frame, and `track(..., follow=box)` keeps to one of them.
    """

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5, max_faces: int = 1):
        with quiet_native_stderr():
            self._mesh = _mediapipe().face_mesh.FaceMesh(
                static_image_mode=False,
                max_num_faces=max_faces,
                refine_landmarks=False,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def track(self, frames: np.ndarray, follow: FaceBox | None = None) -> np.ndarray:
        """Pixel (x, y) of the 468 landmarks per frame, float32 [T, 468, 2]; NaN where no face.

        `follow`: of several faces, the one starting in this box; each frame takes the face
        nearest to where it was last, and none if every face is farther than the box is
        wide (the followed face is hidden: better no crop than another person's).
        Each call is one video: tracking restarts, so no face carries over from the last one.
        """
        out = np.full((len(frames), N_LANDMARKS, 2), np.nan, np.float32)
        for t, marks in enumerate(self.follow(frames, follow)):
            out[t] = marks
        log.debug("face mesh found no face in %d of %d frames", int(np.isnan(out[:, 0, 0]).sum()), len(frames))
        return out

    def follow(self, frames: Iterable[np.ndarray], follow: FaceBox | None = None) -> Iterator[np.ndarray]:
        """`track` one frame at a time: the [468, 2] landmarks of each frame as it comes (all
        NaN where no face), so a video of any length can be tracked without holding it."""
        if self._mesh is None:
            raise RuntimeError("FaceTracker is closed")
        where = np.array(follow.centre) if follow else None
        none = np.full((N_LANDMARKS, 2), np.nan, np.float32)
        for t, frame in enumerate(frames):
            if t == 0:  # a new graph: it warns while building and on its first frame
                with quiet_native_stderr():
                    self._mesh.reset()
                    result = self._mesh.process(_rgb(frame))
            else:
                result = self._mesh.process(_rgb(frame))
            if not result.multi_face_landmarks:
                yield none
                continue
            size = np.array([frame.shape[1], frame.shape[0]], np.float32)  # normalised -> pixels
            faces = [
                np.array([(p.x, p.y) for p in f.landmark[:N_LANDMARKS]], np.float32) * size
                for f in result.multi_face_landmarks
            ]
            if where is None:
                yield faces[0]
                continue
            distances = [np.hypot(*(f.mean(axis=0) - where)) for f in faces]
            nearest = int(np.argmin(distances))
            if distances[nearest] <= follow.width:
                where = faces[nearest].mean(axis=0)
                yield faces[nearest]
            else:
                yield none


def anchors(landmarks: np.ndarray) -> np.ndarray:
    """[T, 3, 2] (x, y): image-left eye centre, image-right eye centre, mouth centre."""
    lm = np.asarray(landmarks, np.float32)
    pairs = np.array([_EYE_IMAGE_LEFT, _EYE_IMAGE_RIGHT, _MOUTH_CORNERS])
    return lm[:, pairs].mean(axis=2)


def template(spec: CropConfig) -> np.ndarray:
    """[3, 2] pixel positions in the crop where `anchors` are placed."""
    return np.array(_TEMPLATES[spec.region], np.float64) * spec.size


def fill_gaps(points: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill runs of missing (NaN) frames no longer than `max_gap` frames.

    Interior runs are interpolated linearly in time, runs at either end copy the nearest
    valid frame. A frame is missing if any of its values is NaN. Returns the filled copy
    and a [T] mask of frames still missing (runs longer than `max_gap`, or all frames).
    """
    points = np.asarray(points)
    pts = np.array(points, np.float64 if points.dtype == np.float64 else np.float32)  # a copy
    n = len(pts)
    missing = np.isnan(pts.reshape(n, -1)).any(axis=1)
    valid = np.flatnonzero(~missing)
    if len(valid) == 0 or not missing.any():
        return pts, missing.copy()
    still = missing.copy()
    # Walk the runs of missing frames: starts where missing begins, ends where it stops.
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if stop - start > max_gap:
            continue
        if start == 0:
            pts[start:stop] = pts[stop]
        elif stop == n:
            pts[start:stop] = pts[start - 1]
        else:
            w = (np.arange(start, stop) - (start - 1)) / (stop - (start - 1))
            w = w.reshape(-1, *([1] * (pts.ndim - 1)))
            pts[start:stop] = (1 - w) * pts[start - 1] + w * pts[stop]
        still[start:stop] = False
    return pts, still


def smooth(points: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over `window` (odd) frames, to take the jitter out of crops.

    Near the ends and next to missing (NaN) frames the average runs over the valid frames
    inside the window; missing frames stay missing.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"smoothing window must be odd and positive, got {window}")
    pts = np.asarray(points)
    if window == 1 or len(pts) == 0:
        return pts.copy()
    flat = pts.reshape(len(pts), -1).astype(np.float64)
    ok = ~np.isnan(flat).any(axis=1)
    # Cumulative sums make every window sum O(1); missing frames add nothing and count 0.
    vals = np.where(ok[:, None], flat, 0.0)
    csum = np.concatenate([np.zeros((1, flat.shape[1])), np.cumsum(vals, axis=0)])
    ccnt = np.concatenate([[0], np.cumsum(ok)])
    half = window // 2
    idx = np.arange(len(pts))
    lo = np.maximum(idx - half, 0)
    hi = np.minimum(idx + half + 1, len(pts))
    out = (csum[hi] - csum[lo]) / np.maximum(ccnt[hi] - ccnt[lo], 1)[:, None]
    out[~ok] = np.nan
    return out.reshape(pts.shape).astype(pts.dtype if pts.dtype.kind == "f" else np.float64)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transforms taking src[t] onto dst: [T, 2, 3] affine matrices.

    src [T, K, 2], dst [K, 2]. Closed form (no RANSAC: three exact anchors, no outliers):
    with centred points, scale*cos and scale*sin are the dot and cross sums over |src|^2.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    s_mean = src.mean(axis=1, keepdims=True)
    d_mean = dst.mean(axis=0)
    s = src - s_mean
    d = dst - d_mean
    norm = (s**2).sum(axis=(1, 2))
    a = (s[..., 0] * d[:, 0] + s[..., 1] * d[:, 1]).sum(axis=1) / norm
    b = (s[..., 0] * d[:, 1] - s[..., 1] * d[:, 0]).sum(axis=1) / norm
    sx, sy = s_mean[:, 0, 0], s_mean[:, 0, 1]
    m = np.empty((len(src), 2, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = a, -b, d_mean[0] - (a * sx - b * sy)
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = b, a, d_mean[1] - (b * sx + a * sy)
    return m


def affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares affine transforms taking src[t] onto dst: [T, 2, 3] matrices (exact
    for three anchors). src [T, K, 2], dst [K, 2]; frames whose anchors are collinear get
    NaN (no affine map holds them)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    a = np.concatenate([src, np.ones((*src.shape[:2], 1))], axis=2)  # [T,K,3]: x, y, 1
    normal = a.transpose(0, 2, 1) @ a  # [T,3,3]
    singular = np.abs(np.linalg.det(normal)) < 1e-9 * np.abs(src).max(initial=1.0) ** 4
    normal[singular] = np.eye(3)
    m = np.linalg.solve(normal, a.transpose(0, 2, 1) @ dst).transpose(0, 2, 1)  # [T,2,3]
    m[singular] = np.nan
    return m


def _warp(frame: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """warpAffine to size x size; big downscales first shrink the footprint by area averaging."""
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    if scale * _MAX_WARP_DOWNSCALE < 1.0:
        # Footprint of the output square in the frame, padded for the bilinear taps.
        inv = cv2.invertAffineTransform(m)
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
        xy = corners @ inv.T
        h, w = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(xy.min(axis=0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(xy.max(axis=0)).astype(int) + 2, (w, h))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            nw, nh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
            small = cv2.resize(frame[y0:y1, x0:x1], (nw, nh), interpolation=cv2.INTER_AREA)
            fx, fy = nw / (x1 - x0), nh / (y1 - y0)
            # small pixel centre j sits at roi coordinate (j + 0.5) / f - 0.5
            to_frame = np.array([[1 / fx, 0, 0.5 / fx - 0.5 + x0], [0, 1 / fy, 0.5 / fy - 0.5 + y0], [0, 0, 1]])
            m = m @ to_frame
            frame = small
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def crop(frames: np.ndarray, points: np.ndarray, spec: CropConfig) -> np.ndarray:
    """Warp each frame so its anchors `points[t]` ([T, 3, 2]) land on `template(spec)`.

    Returns uint8 [T, S, S] if spec.gray else [T, S, S, 3]. Points must have no NaN (use
    `fill_gaps` and reject what it cannot fill).
    """
    if len(points) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(points)} point sets")
    channels = () if spec.gray else (3,)
    out = np.empty((len(frames), spec.size, spec.size, *channels), np.uint8)
    for t, patch in enumerate(crops(frames, points, spec)):
        out[t] = patch
    return out


def crops(frames: Iterable[np.ndarray], points: np.ndarray, spec: CropConfig) -> Iterator[np.ndarray]:
    """`crop` one frame at a time, as the frames come: frame t with `points[t]`."""
    points = np.asarray(points)
    bad = np.flatnonzero(np.isnan(points.reshape(len(points), -1)).any(axis=1))
    if len(bad):
        raise ValueError(f"anchor points missing in {len(bad)} frames (first: {bad[0]}); fill_gaps first")
    with np.errstate(divide="ignore", invalid="ignore"):
        mats = (affine if spec.align == "affine" else similarity)(points, template(spec))
    bad = np.flatnonzero(~np.isfinite(mats).all(axis=(1, 2)))
    if len(bad):
        raise ValueError(f"anchor points coincide in {len(bad)} frames (first: {bad[0]})")
    t = -1
    for t, frame in enumerate(frames):
        if t >= len(mats):
            raise ValueError(f"more frames than the {len(mats)} point sets")
        patch = _warp(frame, mats[t], spec.size)
        # Convert after warping: the crop is far smaller than the frame.
        if spec.gray and patch.ndim == 3:
            patch = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)
        elif not spec.gray and patch.ndim == 2:
            patch = cv2.cvtColor(patch, cv2.COLOR_GRAY2RGB)
        yield patch
    if t + 1 != len(mats):
        raise ValueError(f"{t + 1} frames but {len(mats)} point sets")


# --------------------------------------------------------------------------- a whole video

_trackers: dict[int, object] = {}  # face-mesh trackers by max faces, reused across videos in a process


def _tracker(max_faces: int) -> FaceTracker:
    if max_faces not in _trackers:
        _trackers[max_faces] = FaceTracker(max_faces=max_faces)  # lives as long as the process
    return _trackers[max_faces]


def track_landmarks(frames: np.ndarray, follow=None, max_faces: int = 1) -> np.ndarray:
    """Face-mesh landmarks [T, 468, 2] of the face in `frames`, NaN where it was not found.

    `follow`: a `FaceBox` choosing one of `max_faces` faces; None for the only one.
    The face is followed forwards and backwards from the frame its box was found in."""
    tracker = _tracker(max_faces)
    if follow is None:
        return tracker.track(frames)
    start = follow.frame
    before = tracker.track(frames[start::-1], follow)[::-1]
    return np.concatenate([before[:-1], tracker.track(frames[start:], follow)])


def anchor_track(marks: np.ndarray, cfg: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Crop anchors [T, 3, 2] from landmarks [T, 468, 2], gap-filled and smoothed, and the
    [T] mask of frames that had no face for longer than cfg.max_face_gap (their anchors are
    held from the nearest face, or NaN if no frame has one)."""
    return settle(anchors(marks), cfg)


def track_face(
    frames: np.ndarray, cfg: PreprocessConfig, follow=None, max_faces: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """`track_landmarks` then `anchor_track`: the crop anchors of the face in `frames`
    (already at cfg.fps) and the mask of frames without one. `l2s speak` tracks with
    `face_anchors` and `settle` instead, one frame at a time, to the same anchors."""
    return anchor_track(track_landmarks(frames, follow, max_faces), cfg)


def face_anchors(
    forward: Iterable[np.ndarray], follow=None, max_faces: int = 1, backward: Iterable[np.ndarray] | None = None
) -> np.ndarray:
    """Raw crop anchors [T, 3, 2] (NaN where no face) of frames seen one at a time: `forward`
    from the frame `follow` was found in (or the first) to the last, and with `follow`,
    `backward` from that same frame back to the first. Only the anchors are kept (24 bytes a
    frame), so this is what tracks a video too long to hold."""
    tracker = _tracker(max_faces)
    after = [anchors(m[None])[0] for m in tracker.follow(forward, follow)]
    if follow is None:
        return np.array(after, np.float32).reshape(-1, 3, 2)
    before = [anchors(m[None])[0] for m in tracker.follow(backward, follow)][::-1]
    return np.array(before[:-1] + after, np.float32).reshape(-1, 3, 2)


def settle(points: np.ndarray, cfg: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Raw anchors [T, 3, 2] -> the anchors to crop with and the mask of long gaps: short
    gaps interpolated, long ones bridged (the crop is held across them), then smoothed."""
    points, missing = fill_gaps(points, cfg.max_face_gap)
    if missing.any():  # a few long gaps: hold the crop across them
        points, _ = fill_gaps(points, len(points))
    return smooth(points, cfg.smooth_window), missing


def missing_ranges(missing: np.ndarray, fps: float) -> str:
    """The time ranges of the True runs of a per-frame mask, e.g. "1.20-2.40 s, 5.00-5.12 s"."""
    ranges, t = [], 0
    while t < len(missing):
        if missing[t]:
            e = t
            while e + 1 < len(missing) and missing[e + 1]:
                e += 1
            ranges.append(f"{t / fps:.2f}-{(e + 1) / fps:.2f} s")
            t = e + 1
        else:
            t += 1
    return ", ".join(ranges[:5]) + (" ..." if len(ranges) > 5 else "")
