"""The synthetic video generator: videos whose class is carried by a known factor (issue #13).

It is data, so it lives in the core (``sdinterp.data``): the ``synthetic`` plugin (the
``synthetic_restyle`` sampler and ``sdinterp synth``) and the tiny trained nets both build on it.

A video is one textured object on a textured background. Its *appearance* is the object's colour,
texture and shape (and the background's); its *motion* is the object's direction and speed. The
``kind`` says which one carries the class:

* ``appearance``: class c fixes the object's hue, texture and shape (jittered by ``difficulty``);
  the motion is random. One frame tells the class.
* ``motion``: class c fixes the direction of motion (angle 2πc/K, jittered by ``difficulty``); the
  appearance is random. The object moves on a torus (it wraps at the borders) from a uniform start,
  so every single frame has the same distribution whatever the class: only the frames' order and
  displacement tell it (the set of frames still shows the axis of motion, not its sign).
* ``both``: class c fixes both.
* ``camouflage``: class c fixes the direction; the object's texture *is* the background's (the
  patch under the object at frame 0, carried along), so frame 0 is the bare background and the
  object is visible only through its motion. The path stays inside the frame, so boxes are tight.
* ``shortcut``: class c fixes the direction (as ``motion``), and the object wears the appearance
  (hue, texture, shape) of a *cue class* that equals c for a share ``cue`` of each class's videos
  and is another class otherwise: a training split with ``cue=1`` (or 0.9) lets a net take the
  appearance shortcut, a validation split with ``cue=1/K`` (independent of the class) or ``cue=0``
  (reversed) punishes it (the synthetic analogue of SomethingElse's compositional split).
* ``joint``: class c = (appearance a = c // 2, direction c % 2 of two opposite ones): neither
  factor alone tells the class, so a net must read both (K even, at least 4).

``camera`` > 0 pans the background by that many pixels per frame in a random direction (a camera
motion: the background's flow is the pan, the object's its own velocity on screen).

Every random choice of video i comes from its own streams ``default_rng([seed, i, s])`` — one
stream each for appearance, motion, background and pixel noise — so what does not carry the class
is drawn identically whatever the class (``render_video(..., label=c)`` renders the counterfactual).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from sdinterp.interfaces import Sample

__all__ = [
    "SynthConfig",
    "SynthVideo",
    "render_video",
    "synthetic_samples",
    "cue_class",
    "META_KEY",
    "KINDS",
    "TEXTURES",
    "SHAPES",
]

Kind = Literal["appearance", "motion", "both", "camouflage", "shortcut", "joint"]
KINDS: tuple[str, ...] = ("appearance", "motion", "both", "camouflage", "shortcut", "joint")
TEXTURES: tuple[str, ...] = ("stripes", "checker", "dots", "noise")
SHAPES: tuple[str, ...] = ("disc", "square", "diamond", "cross")
# Stream ids; the cue and the camera get their own streams so the videos of the older kinds (and of
# camera = 0) are drawn exactly as before them.
_APPEARANCE, _MOTION, _BACKGROUND, _NOISE, _CUE, _CAMERA = 1, 2, 3, 4, 5, 6
#: Kinds whose class fixes the object's appearance / its motion.
_APPEARANCE_KINDS = ("appearance", "both", "shortcut", "joint")
_MOTION_KINDS = ("motion", "both", "camouflage", "shortcut", "joint")


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    """What a synthetic dataset is.

    Attributes:
        kind: which factor carries the class (see the module docstring).
        classes: K.
        videos: number of videos; video i has class ``i % K`` (balanced).
        frames: T, frames per video.
        size: frame height and width in pixels.
        seed: base seed.
        difficulty: 0 (class attributes exact, no pixel noise) to 1 (class attributes jittered by
            half their spacing, pixel noise of σ = 8/255; for camouflage also a slower, smaller object).
        cue: ``kind="shortcut"`` only: the share of each class's videos whose appearance is their
            own class's (exactly ``round(cue * n_c)`` of the n_c videos of class c); 1/K makes the
            appearance independent of the class, 0 never its own class.
        camera: pixels per frame the background pans (0: a fixed camera).
    """

    kind: Kind = "motion"
    classes: int = 4
    videos: int = 32
    frames: int = 16
    size: int = 64
    seed: int = 0
    difficulty: float = 0.0
    cue: float = 1.0
    camera: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "joint" and (not isinstance(self.classes, int) or self.classes < 4 or self.classes % 2):
            raise ValueError(
                f"kind 'joint' needs an even number of classes >= 4 (colour x direction), got {self.classes!r}"
            )
        if not 0.0 <= float(self.cue) <= 1.0:
            raise ValueError(f"cue must be between 0 and 1, got {self.cue!r}")
        if not 0.0 <= float(self.camera) <= 0.25 * self.size:
            raise ValueError(f"camera must be between 0 and size / 4 pixels per frame, got {self.camera!r}")
        for name, low in (("classes", 2), ("videos", 1), ("frames", 2), ("size", 16)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not 0.0 <= float(self.difficulty) <= 1.0:
            raise ValueError(f"difficulty must be between 0 and 1, got {self.difficulty!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")


@dataclasses.dataclass
class SynthVideo:
    """One rendered video.

    Attributes:
        frames: (T, H, W, 3) uint8 RGB.
        masks: (T, H, W) bool, the object's pixels in each frame (exactly the pixels drawn as object).
        boxes: (T, 4) int, ``[x0, y0, x1, y1]`` (x1, y1 exclusive) of each frame's mask.
        label: the class.
        params: the drawn attributes (hue, texture, shape, direction, speed, start...).
    """

    frames: np.ndarray
    masks: np.ndarray
    boxes: np.ndarray
    label: int
    params: dict[str, Any]


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """An RGB triple in [0, 1] from hue (turns), saturation and value."""
    k = (np.array([5.0, 3.0, 1.0]) + 6.0 * (h % 1.0)) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _texture(kind: str, rng: np.random.Generator, period: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A texture: a function from (fractional) offsets (dy, dx) to values in [0, 1], its parameters
    drawn from ``rng``; ``noise`` and ``dots`` are periodic with ``period`` so they tile the torus."""
    if kind == "stripes":
        theta, freq = rng.uniform(0, math.pi), rng.uniform(0.15, 0.3)
        return lambda dy, dx: 0.5 + 0.5 * np.sin(2 * math.pi * freq * (dx * math.cos(theta) + dy * math.sin(theta)))
    if kind == "checker":
        cell = int(rng.integers(3, 6))
        return lambda dy, dx: ((np.floor(dx / cell) + np.floor(dy / cell)) % 2).astype(np.float64)
    field = _periodic_noise(rng, period, smooth=2.0 if kind == "noise" else 1.0)
    if kind == "dots":
        field = (field > 0.6).astype(np.float64)
    return lambda dy, dx: field[np.round(dy).astype(int) % period, np.round(dx).astype(int) % period]


def _periodic_noise(rng: np.random.Generator, n: int, smooth: float) -> np.ndarray:
    """Band-limited noise on an n×n torus (Fourier filtering), scaled to [0, 1]."""
    white = rng.normal(size=(n, n))
    f = np.fft.fftfreq(n)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    field = np.real(np.fft.ifft2(np.fft.fft2(white) * np.exp(-((radius * n / (4.0 * smooth)) ** 2))))
    lo, hi = field.min(), field.max()
    return (field - lo) / (hi - lo) if hi > lo else np.zeros_like(field)


def _inside(shape: str, dy: np.ndarray, dx: np.ndarray, r: float) -> np.ndarray:
    if shape == "disc":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return (np.abs(dx) <= 0.8 * r) & (np.abs(dy) <= 0.8 * r)
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= 1.1 * r
    return ((np.abs(dx) <= 0.35 * r) & (np.abs(dy) <= r)) | ((np.abs(dy) <= 0.35 * r) & (np.abs(dx) <= r))


def _colourise(tex: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    return (0.35 + 0.65 * tex)[..., None] * rgb


def cue_class(config: SynthConfig, index: int, label: int | None = None) -> int:
    """The class whose appearance video ``index`` of a ``shortcut`` dataset wears.

    Within each class c (the videos ``i % K == c``) a seeded permutation ranks the videos; the first
    ``round(cue * n_c)`` wear their own class, the others the other classes in turn, so the split's
    cue/label table is exact (e.g. ``cue=1/K`` with n_c divisible by K: every cell equal).

    Args:
        config: a ``shortcut`` config.
        index: the video.
        label: the class rendered (a counterfactual keeps the video's agreement, not its cue).

    Returns:
        The cue class.
    """
    k = config.classes
    own = index % k
    label = own if label is None else int(label)
    n_c = len(range(own, config.videos, k))
    rank = int(np.random.default_rng([config.seed, _CUE, own]).permutation(max(n_c, 1))[min(index // k, n_c - 1)])
    agree = int(round(float(config.cue) * n_c))
    return label if rank < agree else (label + 1 + (rank - agree) % (k - 1)) % k


def _factor_labels(config: SynthConfig, index: int, label: int) -> tuple[int, int, int, int]:
    """(appearance class, appearance classes, motion class, motion classes) of a rendered class."""
    k = config.classes
    if config.kind == "joint":
        return label // 2, k // 2, label % 2, 2
    if config.kind == "shortcut":
        return cue_class(config, index, label), k, label, k
    return label, k, label, k


def _appearance(
    config: SynthConfig, label: int, rng: np.random.Generator, restyled: bool = False, k: int | None = None
) -> dict[str, Any]:
    k, d = k or config.classes, float(config.difficulty)
    if config.kind in _APPEARANCE_KINDS and not restyled:
        hue = (label + d * 0.5 * rng.uniform(-1, 1)) / k
        return {"hue": hue % 1.0, "texture": TEXTURES[label % len(TEXTURES)], "shape": SHAPES[label % len(SHAPES)]}
    return {
        "hue": float(rng.uniform()),
        "texture": TEXTURES[int(rng.integers(len(TEXTURES)))],
        "shape": SHAPES[int(rng.integers(len(SHAPES)))],
    }


def _motion(
    config: SynthConfig, label: int, rng: np.random.Generator, radius: float, k: int | None = None
) -> dict[str, Any]:
    k, d, n, t = k or config.classes, float(config.difficulty), config.size, config.frames
    carried = config.kind in _MOTION_KINDS
    jitter = rng.uniform(-1, 1)
    angle = 2 * math.pi * ((label + d * 0.5 * jitter) / k if carried else rng.uniform())
    top = 0.6 * (1.0 - 0.5 * d) if config.kind == "camouflage" else 1.0
    speed = float(rng.uniform(0.5, 1.0) * top * n / (2.0 * t))  # pixels per frame: half the frame or less per video
    if config.kind == "camouflage":  # the whole path inside the frame
        travel = speed * (t - 1)
        lo = radius + 1 + np.maximum(0.0, -travel * np.array([math.sin(angle), math.cos(angle)]))
        hi = n - radius - 2 - np.maximum(0.0, travel * np.array([math.sin(angle), math.cos(angle)]))
        start = rng.uniform(lo, np.maximum(lo, hi))
    else:
        start = rng.uniform(0, n, size=2)
    return {"direction": angle % (2 * math.pi), "speed": speed, "start": [float(start[0]), float(start[1])]}


def render_video(config: SynthConfig, index: int, label: int | None = None, style: int = 0) -> SynthVideo:
    """Render video ``index`` of a dataset (its class is ``index % K`` unless ``label`` is given).

    Args:
        config: the dataset.
        index: the video's index (its random streams are ``default_rng([seed, index, s])``).
        label: render this class instead (the counterfactual: everything the class does not carry
            is drawn exactly as for the video's own class).
        style: 0 renders the video itself; ``k >= 1`` renders its *k-th restyling*, what a perfect
            style transfer would make: the same trajectory (the motion stream is untouched) and the
            same object shape and size (so the masks and boxes are the video's own), with a new
            object hue and texture, a new background and new pixel noise, drawn uniformly from
            streams ``default_rng([seed, index, s, k])`` whatever the kind. Two styles of one video
            are the ground-truth dynamic pair (same motion, no shared colour or texture), which a
            weight-free restyler only approximates; for ``kind="appearance"`` a restyling keeps
            the class's shape but not its hue or texture.

    Returns:
        SynthVideo.

    Examples:
        >>> v = render_video(SynthConfig(kind="motion", frames=4, size=32), 0)
        >>> v.frames.shape, v.masks.shape, v.boxes.shape, v.label
        ((4, 32, 32, 3), (4, 32, 32), (4, 4), 0)
    """
    label = index % config.classes if label is None else int(label)
    if not 0 <= label < config.classes:
        raise ValueError(f"label must be in 0..{config.classes - 1}, got {label}")
    n, t, d = config.size, config.frames, float(config.difficulty)
    style = int(style)
    if style < 0:
        raise ValueError(f"style must be >= 0, got {style}")
    streams = {
        s: np.random.default_rng([config.seed, index, s] + ([style] if style and s != _MOTION else []))
        for s in (_APPEARANCE, _MOTION, _BACKGROUND, _NOISE)
    }
    radius = (
        n * (0.2 if config.kind == "camouflage" else 0.16) * (1.0 - (0.3 * d if config.kind == "camouflage" else 0.0))
    )
    app_label, app_k, move_label, move_k = _factor_labels(config, index, label)
    look = _appearance(config, app_label, streams[_APPEARANCE], restyled=style > 0, k=app_k)
    if style:  # the shape is the video's own: drawn from its unstyled stream, as for style 0
        unstyled = np.random.default_rng([config.seed, index, _APPEARANCE])
        look["shape"] = _appearance(config, app_label, unstyled, k=app_k)["shape"]
    move = _motion(config, move_label, streams[_MOTION], radius, k=move_k)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    bg_rng = streams[_BACKGROUND]
    bg_texture = TEXTURES[int(bg_rng.integers(len(TEXTURES)))]
    bg_fn = _texture(bg_texture, bg_rng, n)
    bg_tex = bg_fn(yy, xx)
    bg_rgb = _hsv_to_rgb(float(bg_rng.uniform()), 0.5, 0.9)
    background = _colourise(bg_tex, bg_rgb)
    pan = np.zeros(2)
    if config.camera > 0:  # the camera stream is never restyled: a restyling keeps every motion
        heading = float(np.random.default_rng([config.seed, index, _CAMERA]).uniform(0, 2 * math.pi))
        pan = float(config.camera) * np.array([math.sin(heading), math.cos(heading)])
    obj_rng = streams[_APPEARANCE]
    obj_rgb = _hsv_to_rgb(look["hue"], 0.9, 1.0)
    frames = np.empty((t, n, n, 3), np.float64)
    masks = np.zeros((t, n, n), bool)
    y0, x0 = move["start"]
    vy, vx = move["speed"] * math.sin(move["direction"]), move["speed"] * math.cos(move["direction"])
    wrap = config.kind != "camouflage"
    # The object's texture is fixed to the object and moves with it; a camouflaged object's is the
    # background's own texture function, sampled where the object stood at frame 0.
    obj_fn = bg_fn if config.kind == "camouflage" else _texture(look["texture"], obj_rng, n)
    for f in range(t):
        if config.camera > 0:  # the background's content moves with the pan
            background = _colourise(bg_fn(yy - pan[0] * f, xx - pan[1] * f), bg_rgb)
        cy, cx = y0 + vy * f, x0 + vx * f
        dy, dx = yy - cy, xx - cx
        if wrap:  # offsets on the torus: the object re-enters at the opposite border
            dy, dx = (dy + n / 2) % n - n / 2, (dx + n / 2) % n - n / 2
        inside = _inside(look["shape"], dy, dx, radius)
        if config.kind == "camouflage":
            obj = _colourise(obj_fn(dy + y0, dx + x0), bg_rgb)
        else:
            obj = _colourise(obj_fn(dy, dx), obj_rgb)
        frames[f] = np.where(inside[..., None], obj, background)
        masks[f] = inside
    if d > 0:
        frames += streams[_NOISE].normal(scale=d * 8.0 / 255.0, size=frames.shape)
    out = np.clip(np.round(frames * 255.0), 0, 255).astype(np.uint8)
    params = {
        **look,
        **move,
        "radius": radius,
        "background_texture": bg_texture,
        "label": label,
        "kind": config.kind,
        "style": style,
    }
    if config.kind == "shortcut":
        params["cue_class"] = app_label
    if config.camera > 0:
        params["camera"] = [float(pan[0]), float(pan[1])]  # (vy, vx) pixels per frame
    if config.kind == "camouflage":
        params.update(texture=bg_texture, hue=None)
    return SynthVideo(frames=out, masks=masks, boxes=_boxes(masks), label=label, params=params)


def _boxes(masks: np.ndarray) -> np.ndarray:
    out = np.zeros((masks.shape[0], 4), np.int64)
    for f, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        if ys.size:
            out[f] = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    return out


#: ``Sample.meta`` key under which a synthetic clip carries ``{"config": {...}, "index": i}``.
META_KEY = "synthetic"


def synthetic_samples(config: SynthConfig, id_prefix: str = "") -> list[Sample]:
    """Every video of ``config`` as a :class:`~sdinterp.interfaces.Sample`, labelled in
    ``meta["label"]`` and carrying what :class:`SyntheticRestyle` needs to re-render it.

    Examples:
        >>> s = synthetic_samples(SynthConfig(videos=2, frames=4, size=16))[1]
        >>> s.video_id, s.meta["label"], s.meta["synthetic"]["index"]
        ('v00001', 1, 1)
    """
    fields = dict(vars(config))
    out = []
    for i in range(config.videos):
        video = render_video(config, i)
        out.append(
            Sample(
                frames=video.frames,
                video_id=f"{id_prefix}v{i:05d}",
                style=0,
                frame_indices=np.arange(config.frames, dtype=np.int64),
                meta={"label": video.label, META_KEY: {"config": fields, "index": i}},
            )
        )
    return out
