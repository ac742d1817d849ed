"""Talking-face renderer: a real face photo whose mouth moves frame by frame.

The synthetic corpus needs video of a face whose lips follow the phoneme timing of
the synthetic speech. Nothing can be downloaded, so the faces are the two real
photos that ship with the dependencies (scikit-image's astronaut, matplotlib's Grace
Hopper), varied into several "speakers" by mirroring and mild recolouring (`Look`).

Mouth model
-----------
A frame's mouth is three numbers in [0, 1]: ``(open, wide, round)``. Each one moves a
set of face-mesh landmarks, in a frame attached to the mouth (``u`` along the line
from corner 61 to corner 291, ``v`` perpendicular, towards the chin; lengths in units
of the mouth width ``W``):

* ``open`` drops the jaw: the mouth corners go down 0.07 W and in 0.03 W, the lower
  lip down by up to 0.40 W in the middle and the upper lip up by up to 0.04 W, both
  with a (1 - u^2)^1.5 profile so the opening is a lens pointed at the corners; the
  chin goes down 0.46 W and the jaw line by less the nearer it is to the hinge (taken
  at eye level).
* ``wide`` moves every lip point outward along ``u`` in proportion to its ``u``
  (corners 0.13 W each) and lifts the corners a little, as in a spread /i/.
* ``round`` pulls the lips in along ``u`` (corners 0.14 W each, a pucker) and makes
  them slightly fuller vertically, as in /u/.

Nose, cheekbones, eyes and the border of the mouth region are anchored (no motion).
A thin-plate spline through these control displacements gives a smooth dense field
D. Because D is linear in the three coordinates, one dense basis field per
coordinate is computed once (``F_k = -D_k``: the map is backward, each output pixel
y samples the photo at y - D(y)), and a frame is ``map = grid + open*F_open +
wide*F_wide + round*F_round`` followed by one ``cv2.remap`` of the mouth region.

Lips that part cannot come from a continuous warp (it would fold), so D_open is
smooth + a tear: a term ``+-amp(u)/2`` (decaying away from the seam) that jumps
across the seam between the closed inner lips and vanishes at the inner corners.
Above the seam the output samples the upper lip moved up, below it the lower lip
moved down, each exactly linear in ``open``; the tear itself lies inside the gap.
The gap is then painted: the polygon of the rendered inner lips (a fixed-point
inversion of the map at 22 points, corner-cut to look smooth) is filled,
anti-aliased, with a dark mouth interior, a band of upper teeth and a red tongue, so
a face detector sees an open mouth.

A photo whose mouth is open at rest (the astronaut smiles with her teeth showing) is
closed once in ``__init__`` by the same machinery, so ``open=0`` means closed lips
for every speaker (bilabials must look closed).

Motion
------
Real footage never holds still, so ``render`` takes a `Track` (l2s.corpus.motion) of
per-frame head pose, blinks and light. The head turns in 3-D on face mesh's own depth
(yaw, pitch, roll about a pivot level with the ears; the background stays), then drifts
and zooms in the frame; an eye blinks by sliding its upper lid down over it; the light
changes in gain, gamma and a gradient across the frame. A mouth cropper downstream must
therefore really track the face, as it must in a user's videos.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import cv2
import numpy as np

from l2s.corpus.motion import Track

log = logging.getLogger(__name__)

PHOTOS = ("astronaut", "grace_hopper")

# Face-mesh landmark indices (468-point topology).
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
CORNERS = (61, 291, 78, 308)
CHIN = 152
EYES = (33, 133, 362, 263)
# Eyelid margins corner to corner (upper, lower), the subject's right eye and left eye.
EYE_RIGHT = ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133))
EYE_LEFT = ((263, 466, 388, 387, 386, 385, 384, 398, 362), (263, 249, 390, 373, 374, 380, 381, 382, 362))
# Face-outline points level with the ears: the head turns about an axis at their depth.
EARS = (234, 454)
# Lower face contour, ear to ear through the chin: it follows the jaw when it opens.
JAW = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361)
# Points that do not move with the mouth: nose, cheekbones, eyes, temples.
ANCHORS = (1, 2, 4, 5, 6, 98, 327, 50, 280, 234, 454, 93, 323, 33, 133, 362, 263)

LIPS = tuple(dict.fromkeys(LIPS_OUTER_UPPER + LIPS_OUTER_LOWER + LIPS_INNER_UPPER + LIPS_INNER_LOWER))
_UPPER = set(LIPS_OUTER_UPPER + LIPS_INNER_UPPER) - set(CORNERS)
_LOWER = set(LIPS_OUTER_LOWER + LIPS_INNER_LOWER) - set(CORNERS)
_OUTER = set(LIPS_OUTER_UPPER + LIPS_OUTER_LOWER)

# Mouth interior colours (RGB): shadowed teeth, the dark cavity, the tongue.
_TEETH = (222, 212, 196)
_CAVITY = (46, 16, 18)
_TONGUE = (150, 62, 66)

# Photo crop: square side as a multiple of the face-mesh extent, centre pushed down a
# little (fraction of the extent) so the chin and some neck stay in the frame.
_CROP_SCALE = 1.8
_CROP_DOWN = 0.06


def load_photo(name: str) -> np.ndarray:
    """Return the named photo as RGB uint8 (a fresh copy)."""
    return _load_photo_cached(name).copy()


@functools.lru_cache(maxsize=None)
def _load_photo_cached(name: str) -> np.ndarray:
    if name == "astronaut":
        import skimage.data

        img = skimage.data.astronaut()
    elif name == "grace_hopper":
        import matplotlib.cbook
        import matplotlib.image

        img = matplotlib.image.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg"))
    else:
        raise ValueError(f"unknown photo {name!r}; known photos: {', '.join(PHOTOS)}")
    img = np.ascontiguousarray(img[..., :3])
    if img.dtype != np.uint8:  # matplotlib gives floats for some formats
        img = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    img.setflags(write=False)
    return img


@functools.lru_cache(maxsize=None)
def _photo_landmarks(name: str) -> np.ndarray:
    """Face-mesh landmarks [468, 3] of a photo in pixels, computed once per photo.

    x, y in the photo; z is face mesh's depth on the scale of x (smaller: nearer the
    camera), which gives the head its shape when it turns.
    """
    import mediapipe as mp

    from l2s.data.facecrop import quiet_native_stderr

    img = _load_photo_cached(name)
    with quiet_native_stderr(), mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        result = mesh.process(img)
    if not result.multi_face_landmarks:
        raise RuntimeError(f"face mesh found no face in photo {name!r}")
    h, w = img.shape[:2]
    pts = np.array([(p.x * w, p.y * h, p.z * w) for p in result.multi_face_landmarks[0].landmark], np.float64)
    pts.setflags(write=False)
    return pts


@dataclass(frozen=True)
class Look:
    """One synthetic speaker's appearance: a photo, optionally mirrored and recoloured."""

    photo: str
    mirror: bool = False
    hue: float = 0.0  # degrees of hue rotation
    saturation: float = 1.0
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if self.photo not in PHOTOS:
            raise ValueError(f"unknown photo {self.photo!r}; known photos: {', '.join(PHOTOS)}")
        if self.saturation < 0 or self.gamma <= 0:
            raise ValueError(f"saturation must be >= 0 and gamma > 0, got {self.saturation}, {self.gamma}")


def looks(n: int, seed: int) -> list[Look]:
    """`n` distinct looks, deterministic in `seed`, cycling over photos and mirroring.

    The recolouring stays in a natural range (hue within +-10 degrees, saturation and
    gamma within about +-20 %) so the faces still look like skin under some light.
    Look i does not depend on n, so looks(3, s) == looks(6, s)[:3].
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    out: list[Look] = []
    while len(out) < n:
        i = len(out)
        look = Look(
            photo=PHOTOS[i % len(PHOTOS)],
            mirror=bool((i // len(PHOTOS)) % 2),
            hue=round(float(rng.uniform(-10.0, 10.0)), 2),
            saturation=round(float(rng.uniform(0.8, 1.25)), 3),
            gamma=round(float(rng.uniform(0.82, 1.22)), 3),
        )
        if look not in out:  # rounding could in principle collide
            out.append(look)
    return out


def _recolour(rgb: np.ndarray, look: Look) -> np.ndarray:
    """Apply the look's hue rotation, saturation and gamma to uint8 RGB pixels."""
    if look.hue == 0.0 and look.saturation == 1.0 and look.gamma == 1.0:
        return rgb.copy()
    x = rgb.astype(np.float32) / 255.0
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)  # float input: H in [0, 360), S, V in [0, 1]
    hsv[..., 0] = np.mod(hsv[..., 0] + look.hue, 360.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * look.saturation, 0.0, 1.0)
    x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    x = np.clip(x, 0.0, 1.0) ** look.gamma
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _crop(img: np.ndarray, pts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Square crop around the face, resized to `size`; landmarks [n, 2 or 3] mapped along
    (a depth column is scaled like x).

    Returned landmarks use the pixel-centre convention of OpenCV (pixel i at i).
    """
    lo, hi = pts[:, :2].min(0), pts[:, :2].max(0)
    extent = float((hi - lo).max())
    side = int(round(_CROP_SCALE * extent))
    cx = 0.5 * (lo[0] + hi[0])
    cy = 0.5 * (lo[1] + hi[1]) + _CROP_DOWN * extent
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    h, w = img.shape[:2]
    # Reflect-pad when the square leaves the photo rather than shifting the face.
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    sub = img[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    out = cv2.resize(sub, (size, size), interpolation=interp)
    scale = size / side
    mapped = pts * scale
    # mediapipe's x*w puts pixel i's centre at i + 0.5; shift to OpenCV's convention
    mapped[:, :2] -= np.array([x0, y0]) * scale + 0.5
    return out, mapped


# --- thin-plate spline -------------------------------------------------------------


def _tps_kernel(r2: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r, written on r^2 (0 at r = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 0.5 * r2 * np.log(r2)
    k[r2 == 0] = 0.0
    return k


def _tps_field(ctrl: np.ndarray, values: np.ndarray, pts: np.ndarray, scale: float) -> np.ndarray:
    """Thin-plate spline through `values` [n, 2] at `ctrl` [n, 2], evaluated at `pts`.

    Coordinates are divided by `scale` so the system is well conditioned; a tiny
    ridge keeps it solvable if two controls coincide.
    """
    c = ctrl / scale
    p = pts / scale
    n = len(c)
    k = _tps_kernel(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)) + 1e-8 * np.eye(n)
    poly = np.hstack([np.ones((n, 1)), c])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, poly, poly.T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = values
    coef = np.linalg.solve(a, rhs)
    out = np.empty((len(p), 2))
    for s in range(0, len(p), 8192):  # chunks bound the [m, n] kernel's memory
        q = p[s : s + 8192]
        kq = _tps_kernel(((q[:, None, :] - c[None, :, :]) ** 2).sum(-1))
        out[s : s + 8192] = kq @ coef[:n] + coef[n] + q @ coef[n + 1 :]
    return out


def _sample(field: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of `field` [h, w, 2] at `pts` [m, 2] (x, y), clamped inside."""
    h, w = field.shape[:2]
    x = np.clip(pts[:, 0], 0.0, w - 1.001)
    y = np.clip(pts[:, 1], 0.0, h - 1.001)
    x0, y0 = x.astype(np.intp), y.astype(np.intp)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = field[y0, x0] * (1 - fx) + field[y0, x0 + 1] * fx
    bot = field[y0 + 1, x0] * (1 - fx) + field[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def _chaikin(poly: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Corner-cutting smoothing of a closed polygon, so 20 landmarks draw a smooth opening."""
    for _ in range(rounds):
        nxt = np.roll(poly, -1, axis=0)
        poly = np.stack([0.75 * poly + 0.25 * nxt, 0.25 * poly + 0.75 * nxt], 1).reshape(-1, 2)
    return poly


def _interp_chain(chain: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y of a lip chain [k, 2] at abscissae x (chain sorted by x first)."""
    order = np.argsort(chain[:, 0])
    return np.interp(x, chain[order, 0], chain[order, 1])


# --- the renderer ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class _MouthFrame:
    """Mouth-attached axes: centre, unit vector to one corner (u), unit vector to the chin (v)."""

    centre: np.ndarray
    eu: np.ndarray
    ev: np.ndarray
    width: float

    @classmethod
    def of(cls, pts: np.ndarray) -> _MouthFrame:
        return cls.between(pts, 61, 291)

    @classmethod
    def between(cls, pts: np.ndarray, left: int, right: int) -> _MouthFrame:
        """Axes from landmark `left` to `right` (mouth or eye corners), v towards the chin."""
        a, b = pts[left], pts[right]
        width = float(np.linalg.norm(b - a))
        eu = (b - a) / width
        ev = np.array([-eu[1], eu[0]])
        if np.dot(pts[CHIN] - (a + b) / 2, ev) < 0:  # a mirrored face flips the handedness
            ev = -ev
        return cls((a + b) / 2, eu, ev, width)

    def uv(self, p: np.ndarray) -> np.ndarray:
        """(u, v) of points [m, 2], in units of the mouth width."""
        d = (p - self.centre) / self.width
        return np.stack([d @ self.eu, d @ self.ev], -1)

    def vec(self, du: np.ndarray, dv: np.ndarray) -> np.ndarray:
        """Image-space displacements [m, 2] from (u, v) components in mouth widths."""
        return (np.outer(du, self.eu) + np.outer(dv, self.ev)) * self.width

    def span(self, pts: np.ndarray, ids: tuple[int, ...], left: int, right: int) -> np.ndarray:
        """Position of points along the mouth, -1 at corner `left` to +1 at `right`."""
        u = self.uv(pts[list(ids)])[:, 0]
        ul, ur = self.uv(pts[[left, right]])[:, 0]
        return np.clip((u - 0.5 * (ul + ur)) / (0.5 * (ur - ul)), -1.0, 1.0)


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class _Jump:
    """The part of a displacement field that tears along the lip seam.

    A mouth opens by separating the lips, which no continuous warp can do without
    folding. The displacement is therefore written as smooth + jump, where the jump
    is ``amp(u) * (+-1/2) * exp(-(t / decay)^2)``: +1/2 below the seam, -1/2 above,
    ``t`` the distance to the seam. ``amp`` is the lower-lip minus the upper-lip
    displacement and vanishes at the inner corners, so the field is continuous
    everywhere except on the seam between them, and the tear lies inside the gap that
    the painted mouth interior covers.
    """

    frame: _MouthFrame
    seam_u: np.ndarray  # ascending, mouth widths
    seam_v: np.ndarray  # mouth widths
    amp: np.ndarray  # [k, 2] image pixels
    decay: float = 0.35  # mouth widths

    @classmethod
    def between_lips(cls, pts: np.ndarray, disp: dict[int, np.ndarray], seam_px: float) -> _Jump:
        """Seam at most `seam_px` under the inner upper lip (halfway at most)."""
        frame = _MouthFrame.of(pts)
        up = frame.uv(pts[list(LIPS_INNER_UPPER)])
        lo = frame.uv(pts[list(LIPS_INNER_LOWER)])
        ug = np.linspace(up[0, 0], up[-1, 0], 41)
        if ug[0] > ug[-1]:
            ug = ug[::-1]

        def along(uv: np.ndarray, values: np.ndarray) -> np.ndarray:
            order = np.argsort(uv[:, 0])
            return np.interp(ug, uv[order, 0], values[order])

        v_up, v_lo = along(up, up[:, 1]), along(lo, lo[:, 1])
        seam_v = v_up + np.minimum(0.5 * np.maximum(v_lo - v_up, 0.0), seam_px / frame.width)
        d_up = np.array([disp.get(i, np.zeros(2)) for i in LIPS_INNER_UPPER])
        d_lo = np.array([disp.get(i, np.zeros(2)) for i in LIPS_INNER_LOWER])
        amp = np.stack([along(lo, d_lo[:, k]) - along(up, d_up[:, k]) for k in range(2)], -1)
        amp[[0, -1]] = 0.0  # the corners belong to both lips
        return cls(frame, ug, seam_v, amp)

    def at(self, pts: np.ndarray, below: np.ndarray | None = None) -> np.ndarray:
        """Jump displacement [m, 2] at points; `below` forces the side of the seam."""
        uv = self.frame.uv(pts)
        t = uv[:, 1] - np.interp(uv[:, 0], self.seam_u, self.seam_v)
        side = (t > 0) if below is None else below
        a = np.stack([np.interp(uv[:, 0], self.seam_u, self.amp[:, k], left=0.0, right=0.0) for k in range(2)], -1)
        return a * ((side - 0.5) * np.exp(-((t / self.decay) ** 2)))[:, None]


def _separate_lips(pts: np.ndarray, margin_px: float = 0.3) -> np.ndarray:
    """Nudge inner-lip landmarks so the upper chain lies above the lower one.

    Face mesh may cross the inner lips of a closed mouth by a fraction of a pixel;
    the tear of `_Jump` needs every upper point above the seam and every lower one
    below it.
    """
    frame = _MouthFrame.of(pts)
    up = frame.uv(pts[list(LIPS_INNER_UPPER[1:-1])])
    lo = frame.uv(pts[list(LIPS_INNER_LOWER[1:-1])])
    ou, ol = np.argsort(up[:, 0]), np.argsort(lo[:, 0])
    mid_up = 0.5 * (up[:, 1] + np.interp(up[:, 0], lo[ol, 0], lo[ol, 1]))
    mid_lo = 0.5 * (lo[:, 1] + np.interp(lo[:, 0], up[ou, 0], up[ou, 1]))
    m = margin_px / frame.width
    out = pts.copy()
    dv_up = np.minimum(up[:, 1], mid_up - m) - up[:, 1]
    dv_lo = np.maximum(lo[:, 1], mid_lo + m) - lo[:, 1]
    out[list(LIPS_INNER_UPPER[1:-1])] += frame.vec(np.zeros(len(up)), dv_up)
    out[list(LIPS_INNER_LOWER[1:-1])] += frame.vec(np.zeros(len(lo)), dv_lo)
    return out


# Lid skin that stretches over a closing eye: from this far above the lid margin (eye
# widths; below the eyebrow) down to the margin.
_LID_SKIN = 0.45


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class _Eyelid:
    """One eye's upper lid, which slides down over the eye to blink.

    In eye coordinates (u along the eye, corners at -1/2 and +1/2; v towards the chin; in
    eye widths), closing by b in [0, 1] moves the lid margin from v_up(u) to
    m = v_up + b (v_low - v_up). The backward map stretches the lid skin between the brow
    line v_brow = v_up - _LID_SKIN and the margin over [v_brow, m): output v there samples
    v_brow + (v - v_brow) (v_up - v_brow) / (m - v_brow), so the lashes ride down with the
    margin; below m the eye shows as it was, covered from the top as a real lid covers the
    iris. The lids meet at the corners, so the map is the identity beyond them, above the
    brow line and below the lower lid: the box needs no blending at its border.
    """

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the pixels that may change
    frame: _MouthFrame
    v: np.ndarray  # [h, w] v of the box's pixels
    u: np.ndarray  # [h, w] u of the box's pixels
    v_up: np.ndarray  # [h, w] the upper lid margin at each pixel's u
    v_low: np.ndarray  # [h, w] the lower lid margin at each pixel's u

    @classmethod
    def of(cls, pts: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...], size: int) -> _Eyelid:
        frame = _MouthFrame.between(pts, upper[0], upper[-1])
        up, lo = frame.uv(pts[list(upper)]), frame.uv(pts[list(lower)])
        top = up[:, 1].min() - _LID_SKIN - 0.05
        bottom = max(lo[:, 1].max(), up[:, 1].max()) + 0.05
        # a little past the corners, so the box edge is where the map is the identity
        reach = np.array([(-0.6, top), (0.6, top), (-0.6, bottom), (0.6, bottom)])
        outline = frame.centre + frame.vec(reach[:, 0], reach[:, 1])
        x0, y0 = (int(np.clip(np.floor(v), 0, size)) for v in outline.min(0))
        x1, y1 = (int(np.clip(np.ceil(v) + 1, 0, size)) for v in outline.max(0))
        gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        uv = frame.uv(np.stack([gx.ravel(), gy.ravel()], -1))
        u, v = uv[:, 0].reshape(gx.shape), uv[:, 1].reshape(gx.shape)
        v_up = _interp_chain(up, u.ravel()).reshape(u.shape)
        v_low = _interp_chain(lo, u.ravel()).reshape(u.shape)
        v_low = np.maximum(v_low, v_up)  # a lid that face mesh crossed is a shut eye
        return cls((x0, y0, x1, y1), frame, v, u, v_up, v_low)

    def close(self, img: np.ndarray, closure: float) -> None:
        """Close the eye in `img` (in place) by `closure` (0 open .. 1 shut)."""
        b = float(np.clip(closure, 0.0, 1.0))
        if b <= 0.0:
            return
        v, v_up = self.v, self.v_up
        brow = v_up - _LID_SKIN
        margin = v_up + b * (self.v_low - v_up)
        lid = (v >= brow) & (v < margin)
        source = np.where(lid, brow + (v - brow) * (v_up - brow) / (margin - brow), v)
        pts = self.frame.centre + self.frame.vec(self.u.ravel(), source.ravel())
        x0, y0, x1, y1 = self.box
        mapping = pts.reshape(*v.shape, 2).astype(np.float32)
        img[y0:y1, x0:x1] = cv2.remap(img, mapping, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


class TalkingFace:
    """One speaker's face; `render` turns per-frame mouth shapes into video frames."""

    def __init__(self, look: Look, size: int = 256):
        if size < 64:
            raise ValueError(f"size must be >= 64, got {size}")
        self.look = look
        self.size = size
        photo = _load_photo_cached(look.photo)  # ValueError names PHOTOS
        img, pts = _crop(photo, _photo_landmarks(look.photo), size)
        pts, depth = pts[:, :2], pts[:, 2]
        if look.mirror:
            img = np.ascontiguousarray(img[:, ::-1])
            pts = pts.copy()
            pts[:, 0] = (size - 1) - pts[:, 0]
        img = _recolour(img, look)
        palette = np.array([[_TEETH, _CAVITY, _TONGUE]], np.uint8)
        self._colours = _recolour(palette, look)[0].astype(np.float32)

        pts = _separate_lips(pts)
        self._roi = self._mouth_roi(pts)
        x0, y0, x1, y1 = self._roi
        gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self._grid = np.dstack([gx, gy])  # absolute frame coordinates of the ROI pixels
        self._taper = self._border_taper(y1 - y0, x1 - x0)

        img, pts = self._close_mouth(img, pts)
        pts = _separate_lips(pts)
        self.base = img
        self.base.setflags(write=False)
        self.landmarks = pts  # rest landmarks in frame pixels, mouth closed
        self.landmarks.setflags(write=False)

        frame = _MouthFrame.of(pts)
        self._mouth_width = frame.width
        disps = self._basis_displacements(pts, frame)
        jumps = [_Jump.between_lips(pts, disps[0], seam_px=np.inf), None, None]
        smooth, dense = zip(*(self._field(pts, d, j) for d, j in zip(disps, jumps)))
        # F_k = -D_k: the backward map samples the base where the content came from
        self._fields = -np.stack(dense).astype(np.float32)  # [3, h, w, 2]: open, wide, round
        self._smooth = np.stack(smooth).astype(np.float32)  # smooth parts, to locate the lips
        self._jumps = jumps
        inner = LIPS_INNER_UPPER + LIPS_INNER_LOWER
        self._inner_rest = pts[list(inner)]
        self._inner_disp = np.array([[d[i] for i in inner] for d in disps])  # [3, 22, 2]
        self._inner_below = np.array([False] * len(LIPS_INNER_UPPER) + [True] * len(LIPS_INNER_LOWER))
        self._head_centre = pts[[1, CHIN]].mean(0)
        gy, gx = np.mgrid[0:size, 0:size].astype(np.float32)
        self._full = np.dstack([gx, gy])  # every pixel's own coordinates
        # the head's turn is computed on a quarter-resolution grid (see pose_map), placed
        # where cv2.resize samples it: coarse j sits at full-resolution (j + 1/2) size/m - 1/2
        m = -(-size // 4)
        coarse = ((np.arange(m) + 0.5) * size / m - 0.5).astype(np.float32)
        self._coarse = np.dstack(np.meshgrid(coarse, coarse))
        self._head = self._head_fields(pts, depth)
        # the light's ramps across the frame, -1 at one edge to +1 at the other, per channel
        self._ramp_x = np.repeat((2 * gx / (size - 1) - 1)[..., None], 3, axis=2)
        self._ramp_y = np.repeat((2 * gy / (size - 1) - 1)[..., None], 3, axis=2)
        self._eyes = [_Eyelid.of(pts, upper, lower, size) for upper, lower in (EYE_RIGHT, EYE_LEFT)]
        log.debug("TalkingFace %s: roi %s, mouth width %.1f px", look, self._roi, frame.width)

    # -- set-up ------------------------------------------------------------------

    def _mouth_roi(self, pts: np.ndarray) -> tuple[int, int, int, int]:
        """Region the warp may touch: the lower face from the nose base to below the chin."""
        w = np.linalg.norm(pts[291] - pts[61])
        jaw = pts[list(JAW)]
        box = (
            jaw[:, 0].min() - 0.3 * w,
            pts[[2, 98, 327], 1].min() - 0.1 * w,
            jaw[:, 0].max() + 0.3 * w,
            pts[CHIN, 1] + 0.8 * w,  # room below the chin for the dropping jaw
        )
        x0, y0, x1, y1 = (int(np.clip(round(v), 0, self.size)) for v in box)
        return x0, y0, x1, y1

    @staticmethod
    def _border_taper(h: int, w: int, ramp: int = 4) -> np.ndarray:
        """1 inside, falling to 0 on the ROI border, so the warp leaves no seam there."""
        ry = np.minimum(np.arange(h), np.arange(h)[::-1]) / ramp
        rx = np.minimum(np.arange(w), np.arange(w)[::-1]) / ramp
        return np.clip(np.minimum.outer(ry, rx), 0.0, 1.0)[..., None]

    def _head_fields(self, pts: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """w * (X, Y, Z) per pixel, float32 [size, size, 3], for turning the head.

        (X, Y, Z) is a pixel's place relative to the pivot: Z is face mesh's depth, made
        dense by a thin-plate spline through every 4th landmark and a ring around the face
        at the pivot's depth; the pivot is level with the ears in depth (so the face's
        outline, like a turning sphere's, hardly moves while the nose moves most) and a
        little below them (a nod turns about the top of the neck). w is 1 on the head and
        falls smoothly to 0 around it, so the background and shoulders stay where they
        are. A pose's forward displacement is then (R - I)[:2] @ (w X, w Y, w Z).
        """
        size = self.size
        lo, hi = pts.min(0), pts.max(0)
        centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        pivot = (centre[0], pts[list(EARS), 1].mean() + 0.15 * (hi[1] - lo[1]))
        pivot_z = float(depth[list(EARS)].mean())
        ring_angle = np.linspace(0.0, 2 * np.pi, 32, endpoint=False)
        ring = centre + 1.25 * half * np.stack([np.cos(ring_angle), np.sin(ring_angle)], -1)
        ctrl = np.concatenate([pts[::4], ring])
        values = np.zeros((len(ctrl), 2))
        values[: len(pts[::4]), 0] = depth[::4] - pivot_z
        # the depth is smooth: the spline on the quarter-resolution grid, resized, is enough
        m = len(self._coarse)
        z = _tps_field(ctrl, values, self._coarse.reshape(-1, 2).astype(np.float64), float(half.max()))[:, 0]
        z = cv2.resize(z.reshape(m, m).astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        gx, gy = self._full[..., 0], self._full[..., 1]
        rho = np.hypot((gx - centre[0]) / half[0], (gy - centre[1]) / half[1])
        s = np.clip((1.8 - rho) / (1.8 - 1.2), 0.0, 1.0)
        w = s * s * (3 - 2 * s)  # smoothstep: 1 inside 1.2 half-extents, 0 beyond 1.8
        return np.dstack([w * (gx - pivot[0]), w * (gy - pivot[1]), w * z]).astype(np.float32)

    def _field(self, pts: np.ndarray, disp: dict[int, np.ndarray], jump: _Jump | None) -> tuple[np.ndarray, np.ndarray]:
        """Dense forward displacement on the ROI for landmark displacements `disp`.

        Lips and jaw carry `disp` (missing ids: 0); nose, cheekbones, eyes and the ROI
        border are held still. Returns (smooth part, smooth + jump), both [h, w, 2].
        """
        x0, y0, x1, y1 = self._roi
        w = np.linalg.norm(pts[291] - pts[61])
        step = max(4.0, 0.2 * w)
        xs = np.linspace(x0, x1 - 1, max(2, int((x1 - x0) / step)))
        ys = np.linspace(y0, y1 - 1, max(2, int((y1 - y0) / step)))
        border = np.concatenate(
            [
                np.stack([xs, np.full_like(xs, y0)], -1),
                np.stack([xs, np.full_like(xs, y1 - 1)], -1),
                np.stack([np.full_like(ys, x0), ys], -1)[1:-1],
                np.stack([np.full_like(ys, x1 - 1), ys], -1)[1:-1],
            ]
        )
        moving = list(LIPS) + [j for j in JAW if j not in LIPS]
        ctrl = np.concatenate([pts[moving], pts[list(ANCHORS)], border])
        values = np.zeros_like(ctrl)
        values[: len(moving)] = [disp.get(i, np.zeros(2)) for i in moving]
        grid = self._grid.reshape(-1, 2).astype(np.float64)
        if jump is None:
            smooth = _tps_field(ctrl, values, grid, w)
            dense = smooth
        else:
            # lips are on a known side of the seam; everything else by geometry
            below = np.array([i in _LOWER for i in moving] + [None] * (len(ctrl) - len(moving)))
            geometric = np.array([b is None for b in below])
            side = np.where(geometric, jump.frame.uv(ctrl)[:, 1] > 0, below).astype(bool)
            values -= jump.at(ctrl, side)
            smooth = _tps_field(ctrl, values, grid, w)
            dense = smooth + jump.at(grid)
        shape = (y1 - y0, x1 - x0, 2)
        return smooth.reshape(shape), dense.reshape(shape) * self._taper

    @staticmethod
    def _jaw_weight(pts: np.ndarray, frame: _MouthFrame, ids: list[int]) -> np.ndarray:
        """How far each point follows the jaw: 0 at the hinge (eye level), 1 at the chin."""
        v = frame.uv(pts[ids])[:, 1]
        hinge = frame.uv(pts[list(EYES)])[:, 1].mean()
        chin = frame.uv(pts[[CHIN]])[0, 1]
        return np.clip((v - hinge) / (chin - hinge), 0.0, 1.0)

    def _basis_displacements(self, pts: np.ndarray, frame: _MouthFrame) -> list[dict[int, np.ndarray]]:
        """Landmark displacements (pixels) at open = 1, wide = 1 and round = 1."""
        outer = tuple(dict.fromkeys(LIPS_OUTER_UPPER + LIPS_OUTER_LOWER))
        inner = tuple(dict.fromkeys(LIPS_INNER_UPPER + LIPS_INNER_LOWER))
        ids = outer + inner
        # -1 .. 1 from corner to corner, inner lips measured between the inner corners
        u = np.concatenate([frame.span(pts, outer, 61, 291), frame.span(pts, inner, 78, 308)])
        lens = (1.0 - u**2) ** 1.5  # the opening is lens-shaped, pointed at the corners
        upper = np.array([i in _UPPER for i in ids])
        lower = np.array([i in _LOWER for i in ids])
        is_outer = np.array([i in _OUTER for i in ids])
        jaw = [j for j in JAW if j not in LIPS]
        jaw_down = frame.vec(np.zeros(len(jaw)), 0.46 * self._jaw_weight(pts, frame, jaw))

        # open: corners down 0.07 W and in 0.03 W, lower lip down to 0.40 W, upper lip up 0.04 W
        dv = 0.07 + np.where(lower, 0.33 * lens, 0.0) - np.where(upper, 0.11 * lens, 0.0)
        open_d = dict(zip(ids, frame.vec(-0.03 * u, dv)))
        open_d.update(zip(jaw, jaw_down))
        # wide: lips stretched along the mouth, corners a little up (spread lips)
        wide_d = dict(zip(ids, frame.vec(0.13 * u, -0.03 * u**2)))
        # round: pucker, lips pulled in and fuller (outer contour away from the seam)
        full = 0.035 * lens * is_outer
        round_d = dict(zip(ids, frame.vec(-0.14 * u, np.where(lower, full, 0.0) - np.where(upper, full, 0.0))))
        return [open_d, wide_d, round_d]

    def _close_mouth(self, img: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Close a mouth that is open at rest: lower lip and jaw up to meet the upper lip."""
        frame = _MouthFrame.of(pts)
        up = frame.uv(pts[list(LIPS_INNER_UPPER)])
        lo = frame.uv(pts[list(LIPS_INNER_LOWER)])
        gap_mid = lo[5, 1] - up[5, 1]
        if gap_mid < 0.04:
            return img, pts
        ou = np.argsort(up[:, 0])
        # keep a 1 px gap: the painted inner-lip polygon turns it into the dark lip line
        seam = 1.0 / frame.width
        gaps = np.maximum(0.0, lo[:, 1] - np.interp(lo[:, 0], up[ou, 0], up[ou, 1]) - seam)
        ol = np.argsort(lo[:, 0])
        uv_out = frame.uv(pts[list(LIPS_OUTER_LOWER)])
        gaps_out = np.interp(uv_out[:, 0], lo[ol, 0], gaps[ol])  # outer lip follows the inner one
        jaw = [j for j in JAW if j not in LIPS]
        disp: dict[int, np.ndarray] = {}
        disp.update(zip(LIPS_INNER_LOWER, frame.vec(np.zeros(len(lo)), -gaps)))
        disp.update(zip(LIPS_OUTER_LOWER, frame.vec(np.zeros(len(uv_out)), -gaps_out)))
        for c in CORNERS:
            disp.pop(c, None)
        disp.update(zip(jaw, frame.vec(np.zeros(len(jaw)), -gaps.max() * self._jaw_weight(pts, frame, jaw))))
        _, dense = self._field(pts, disp, _Jump.between_lips(pts, disp, seam_px=0.5))
        x0, y0, x1, y1 = self._roi
        mapping = (self._grid - dense).astype(np.float32)
        out = img.copy()
        out[y0:y1, x0:x1] = cv2.remap(img, mapping, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        pts = pts.copy()
        for i, d in disp.items():
            pts[i] += d
        log.debug("closed a rest mouth gap of %.2f mouth widths", gap_mid)
        return out, pts

    # -- rendering ---------------------------------------------------------------

    def render(self, shapes: np.ndarray, track: Track | None = None) -> np.ndarray:
        """Frames [n, size, size, 3] uint8 RGB for mouth shapes [n, 3] = (open, wide, round).

        Shapes are clipped to [0, 1]. `track` (l2s.corpus.motion) moves the head, blinks
        and relights each frame; without one the head holds still in the photo's light.
        """
        shapes = np.asarray(shapes, np.float32)
        if shapes.ndim != 2 or shapes.shape[1] != 3:
            raise ValueError(f"shapes must be [n, 3] (open, wide, round), got {shapes.shape}")
        shapes = np.clip(shapes, 0.0, 1.0)
        n = len(shapes)
        if track is not None and len(track) != n:
            raise ValueError(f"the motion track has {len(track)} frames for {n} mouth shapes")
        out = np.empty((n, self.size, self.size, 3), np.uint8)
        x0, y0, x1, y1 = self._roi
        f_open, f_wide, f_round = self._fields
        for t in range(n):
            o, w, r = (float(v) for v in shapes[t])
            frame = out[t]
            frame[:] = self.base
            mapping = self._grid + o * f_open + w * f_wide + r * f_round
            frame[y0:y1, x0:x1] = cv2.remap(
                self.base, mapping, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
            )
            self._paint_mouth(frame, shapes[t])
            if track is None:
                continue
            for eye in self._eyes:
                eye.close(frame, track.blink[t])
            if track.pose[t].any() or track.shift[t].any() or track.zoom[t]:
                mapping = self.pose_map(track.pose[t], track.shift[t], float(track.zoom[t]))
                frame[:] = cv2.remap(frame, mapping, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            self._light(frame, float(track.gain[t]), float(track.gamma[t]), track.gradient[t])
        return out

    def pose_map(self, pose: np.ndarray, shift: np.ndarray, zoom: float) -> np.ndarray:
        """Backward map [size, size, 2] float32 of a head pose and its place in the frame.

        `pose`: yaw, pitch, roll in degrees (positive: nose to the right, nose down,
        clockwise); `shift`: x, y as a share of the frame; `zoom`: relative size. A pixel
        x goes to y = A(x + D(x)), D the head's turn (see `_head_fields`) and A the drift
        and zoom about the head's centre. The inverse is x = q - D(x) with q = A^-1(y),
        solved by fixed-point steps on a quarter-resolution grid (D is smooth and small)
        and resized: the map itself is computed for 1/16 of the pixels.
        """
        yaw, pitch, roll = np.radians(np.asarray(pose, np.float64))
        cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
        r_yaw = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
        r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
        turn = ((r_roll @ r_pitch @ r_yaw) - np.eye(3))[:2].T.astype(np.float32)  # [3, 2]
        centre = self._head_centre.astype(np.float32)
        q = centre + (self._coarse - centre - np.asarray(shift, np.float32) * self.size) / np.float32(1.0 + zoom)
        x = q
        for _ in range(3):
            x = q - cv2.remap(self._head, x, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) @ turn
        disp = cv2.resize(x - self._coarse, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        return self._full + disp

    def _light(self, frame: np.ndarray, gain: float, gamma: float, gradient: np.ndarray) -> None:
        """Relight `frame` in place: value^gamma, times gain, times a linear ramp across the
        frame whose ends differ by `gradient` (x, y) of the brightness."""
        gx, gy = (float(g) for g in gradient)
        if gain == 1.0 and gamma == 1.0 and gx == 0.0 and gy == 0.0:
            return
        lut = (255.0 * gain * (np.arange(256) / 255.0) ** gamma).astype(np.float32)
        ramp = cv2.addWeighted(self._ramp_x, 0.5 * gx, self._ramp_y, 0.5 * gy, 1.0)
        # OpenCV's LUT and saturating multiply: a third faster than numpy's indexing here
        frame[:] = cv2.multiply(cv2.LUT(frame, lut), ramp, dtype=cv2.CV_8U)

    def inner_lips(self, shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the inner upper and lower lips [11, 2] are drawn for one (open, wide, round).

        The warp is a backward map, so a landmark p shows at the y with
        y - D(y) = p; a few fixed-point steps y <- p + D(y) find it (D is nearly
        constant around each lip).
        """
        s = np.clip(np.asarray(shape, np.float64), 0.0, 1.0)
        x0, y0 = self._roi[:2]
        rest = self._inner_rest
        y = rest + np.tensordot(s, self._inner_disp, axes=1)
        for _ in range(3):
            d = np.zeros_like(y)
            for k in np.flatnonzero(s):
                d += s[k] * _sample(self._smooth[k], y - (x0, y0))
                if self._jumps[k] is not None:
                    d += s[k] * self._jumps[k].at(y, self._inner_below)
            y = rest + d
        k = len(LIPS_INNER_UPPER)
        return y[:k], y[k:]

    def _paint_mouth(self, frame: np.ndarray, s: np.ndarray) -> None:
        """Fill the gap between the inner lips with a dark interior, teeth and tongue."""
        upper, lower = self.inner_lips(s)
        poly = _chaikin(np.concatenate([upper, lower[-2:0:-1]]))
        bx0 = max(int(np.floor(poly[:, 0].min())) - 1, 0)
        by0 = max(int(np.floor(poly[:, 1].min())) - 1, 0)
        bx1 = min(int(np.ceil(poly[:, 0].max())) + 2, self.size)
        by1 = min(int(np.ceil(poly[:, 1].max())) + 2, self.size)
        if bx1 <= bx0 or by1 <= by0:
            return
        mask = np.zeros((by1 - by0, bx1 - bx0), np.uint8)
        fixed = np.rint((poly - (bx0, by0)) * 16).astype(np.int32)  # 4 fractional bits
        cv2.fillPoly(mask, [fixed], 255, cv2.LINE_AA, shift=4)
        alpha = mask.astype(np.float32)[..., None] * (1.0 / 255.0)

        xs = np.arange(bx0, bx1, dtype=np.float32)
        ys = np.arange(by0, by1, dtype=np.float32)[:, None]
        yu = _interp_chain(upper, xs)[None, :]
        yl = _interp_chain(lower, xs)[None, :]
        gap = np.maximum(yl - yu, 1e-3)
        w = self._mouth_width
        # upper teeth: a band under the upper lip, ~0.08 W once the mouth is open enough
        teeth_h = np.minimum(0.08 * w, 0.35 * gap)
        teeth = np.clip((yu + teeth_h - ys) / 1.2 + 0.5, 0.0, 1.0)
        # tongue: the lower third of a wide-enough gap
        tongue = np.clip((ys - (yl - 0.35 * gap)) / (0.15 * gap + 1.0), 0.0, 1.0) * np.clip(gap / (0.15 * w), 0, 1)
        # the cheeks shade the sides of the cavity
        xc = 0.5 * (upper[0, 0] + upper[-1, 0])
        shade = 1.0 - 0.45 * np.clip(np.abs(xs - xc) / (0.5 * w), 0.0, 1.0)[None, :] ** 2
        teeth_c, cavity_c, tongue_c = self._colours
        colour = cavity_c + (tongue * 0.7)[..., None] * (tongue_c - cavity_c)
        colour = colour + teeth[..., None] * (teeth_c - colour)
        colour *= shade[..., None]
        region = frame[by0:by1, bx0:bx1]
        region[:] = np.rint(region * (1.0 - alpha) + colour * alpha).astype(np.uint8)
