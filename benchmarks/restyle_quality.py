"""Restyler quality: do restylers keep dynamics and remove statics? (issue 3, item 5)

For every registered restyler (and two controls) on real clips and on synthetic moving textures:

* **rel. EPE** (dynamics kept): DIS optical flow of the original vs the restyled clip, pooled over all
  pixels, frame pairs, styles and videos: ``sum |f_orig - f_restyled| / sum |f_orig|``.
* **SSIM** and **hist. dist.** (statics changed): mean per-frame SSIM of the grayscale frames, and
  the mean total-variation distance between 16-bin per-channel colour histograms (0 = same, 1 =
  disjoint), original vs restyled.
* **static corr.** (static information removed): per-video static descriptors, i.e. mean colour per
  channel (3), colour histogram (3 x 8 bins) and texture energy (mean absolute gradient per channel,
  3), computed for the same videos under two different styles; for every descriptor component, the
  absolute Pearson correlation across videos, averaged within each family and over the 6 style
  pairs of 4 styles. The summary is the mean of the three families.

A restyler is eligible as the default when rel. EPE <= 0.25 on the real clips and the real-clip static
correlation <= 0.5.

"Videos": the real clips (../shared/data/videos: vtest.avi, tree.avi, concert_176x144.mp4) are cut
into short segments and spatial crops (89 videos); synthetic videos are random textures moving over
random textured backgrounds (48 videos).

Usage::

    .venv/bin/python benchmarks/restyle_quality.py            # full table (about 10 minutes on 2 cores)
    .venv/bin/python benchmarks/restyle_quality.py --quick    # a quarter of the videos
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "data" / "videos"
STYLES = (1, 2, 3, 4)
N_PAIRS = 3  # consecutive flow pairs per video and style

Restyle = Callable[[np.ndarray, int], np.ndarray]


def real_videos(seg: int = 12, step: int = 2) -> list[tuple[str, np.ndarray]]:
    """Segments and crops of the real clips, as (name, uint8 (seg, H, W, 3))."""
    from sdinterp.data.video import open_video

    out = []
    src = open_video(VIDEOS / "vtest.avi")  # 768x576: 4 crops of 384x288 per segment
    for s in range(0, len(src) - seg * step, 60):
        fr = src.read(range(s, s + seg * step, step))
        for y, x in ((0, 0), (0, 384), (288, 0), (288, 384)):
            out.append((f"vtest@{s}+{y},{x}", fr[:, y : y + 288, x : x + 384]))
    src = open_video(VIDEOS / "concert_176x144.mp4")
    for s in range(0, len(src) - seg * step, 70):
        out.append((f"concert@{s}", src.read(range(s, s + seg * step, step))))
    src = open_video(VIDEOS / "tree.avi")  # 68 decodable frames at irregular times: no step
    for s in range(0, len(src) - seg, 14):
        fr = src.read(range(s, s + seg))
        for y, x in ((0, 0), (0, 160), (120, 0), (120, 160)):
            out.append((f"tree@{s}+{y},{x}", fr[:, y : y + 120, x : x + 160]))
    return out


def synthetic_videos(n: int = 48, t: int = 8, h: int = 96, w: int = 128) -> list[tuple[str, np.ndarray]]:
    """Random textured discs moving over a moving random texture (sub-pixel motion, 0.5-3 px/frame)."""
    import cv2

    from sdinterp.plugins.restylers import style_texture

    out = []
    for i in range(n):
        rng = np.random.default_rng([7, i])
        bg = style_texture(2 * h, 2 * w, rng).astype(np.float32)
        fg = style_texture(h, w, rng).astype(np.float32)
        vb, vf = rng.uniform(-1.5, 1.5, 2), rng.uniform(-3, 3, 2)
        r, cy, cx = rng.uniform(0.15, 0.3) * h, rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
        yy, xx = np.mgrid[0:h, 0:w]
        frames = []
        for k in range(t):
            m = np.float32([[1, 0, -w / 2 - k * vb[0]], [0, 1, -h / 2 - k * vb[1]]])
            frame = cv2.warpAffine(bg, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            mf = np.float32([[1, 0, -k * vf[0]], [0, 1, -k * vf[1]]])
            moved = cv2.warpAffine(fg, mf, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
            disc = ((yy - cy - k * vf[1]) ** 2 + (xx - cx - k * vf[0]) ** 2 < r * r)[..., None]
            frames.append(np.where(disc, moved, frame))
        out.append((f"synthetic{i}", np.clip(np.round(frames), 0, 255).astype(np.uint8)))
    return out


def descriptors(frames: np.ndarray) -> dict[str, np.ndarray]:
    x = frames.astype(np.float32) / 255.0
    hist = [np.histogram(x[..., c], bins=8, range=(0.0, 1.0))[0] / x[..., c].size for c in range(3)]
    grad = [np.abs(np.diff(x[..., c], axis=1)).mean() + np.abs(np.diff(x[..., c], axis=2)).mean() for c in range(3)]
    return {"mean colour": x.mean(axis=(0, 1, 2)), "histogram": np.concatenate(hist), "texture": np.array(grad)}


def abs_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over components of |Pearson r| across videos; a constant component counts as 0."""
    a, b = a - a.mean(0), b - b.mean(0)
    den = np.sqrt((a**2).sum(0) * (b**2).sum(0))
    r = np.where(den > 1e-12, (a * b).sum(0) / np.where(den > 1e-12, den, 1.0), 0.0)
    return float(np.abs(r).mean())


def ssim_gray(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    g1, g2 = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in (a, b))

    def blur(z):
        return cv2.GaussianBlur(z, (0, 0), 1.5)

    m1, m2 = blur(g1), blur(g2)
    v1, v2, c12 = blur(g1 * g1) - m1**2, blur(g2 * g2) - m2**2, blur(g1 * g2) - m1 * m2
    k1, k2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float((((2 * m1 * m2 + k1) * (2 * c12 + k2)) / ((m1**2 + m2**2 + k1) * (v1 + v2 + k2))).mean())


def hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    d = [
        np.abs(
            np.histogram(a[..., c], 16, (0, 256))[0] / a[..., c].size
            - np.histogram(b[..., c], 16, (0, 256))[0] / b[..., c].size
        ).sum()
        / 2
        for c in range(3)
    ]
    return float(np.mean(d))


def evaluate(restyle: Restyle, videos: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    from sdinterp.data.flow import compute_flow

    err = mag = 0.0
    ssim, hdist = [], []
    desc: dict[int, list[dict[str, np.ndarray]]] = {s: [] for s in STYLES}
    for _, frames in videos:
        f_orig = [compute_flow(frames[t], frames[t + 1]) for t in range(N_PAIRS)]
        for style in STYLES:
            out = restyle(frames, style)
            desc[style].append(descriptors(out))
            for t in range(N_PAIRS):
                f = compute_flow(out[t], out[t + 1])
                err += float(np.hypot(*(f - f_orig[t]).reshape(-1, 2).T).sum())
                mag += float(np.hypot(*f_orig[t].reshape(-1, 2).T).sum())
            ssim.append(np.mean([ssim_gray(frames[t], out[t]) for t in (0, len(frames) - 1)]))
            hdist.append(np.mean([hist_distance(frames[t], out[t]) for t in (0, len(frames) - 1)]))
    row = {"rel_epe": err / mag, "ssim": float(np.mean(ssim)), "hist_dist": float(np.mean(hdist))}
    pairs = [(a, b) for i, a in enumerate(STYLES) for b in STYLES[i + 1 :]]
    for family in ("mean colour", "histogram", "texture"):
        row[f"corr {family}"] = float(
            np.mean(
                [
                    abs_corr(np.stack([d[family] for d in desc[a]]), np.stack([d[family] for d in desc[b]]))
                    for a, b in pairs
                ]
            )
        )
    row["static_corr"] = float(np.mean([row[f"corr {f}"] for f in ("mean colour", "histogram", "texture")]))
    return row


def correlation_floor(videos: list[tuple[str, np.ndarray]]) -> float:
    """The static correlation of *unrelated* videos (each paired with another video): what the
    estimator gives with no shared information, given this many (clustered) videos."""
    desc = [descriptors(frames) for _, frames in videos]
    rng = np.random.default_rng(0)
    vals = []
    for _ in range(20):
        perm = rng.permutation(len(desc))
        while np.any(perm == np.arange(len(desc))):
            perm = rng.permutation(len(desc))
        vals.append(
            np.mean(
                [
                    abs_corr(np.stack([d[f] for d in desc]), np.stack([desc[i][f] for i in perm]))
                    for f in ("mean colour", "histogram", "texture")
                ]
            )
        )
    return float(np.mean(vals))


def candidates(names: Iterable[str] | None) -> dict[str, Restyle]:
    from sdinterp.plugin_manager import get_registry

    reg = get_registry()
    out: dict[str, Restyle] = {"(identity)": lambda f, s: f}

    def noise(frames: np.ndarray, style: int) -> np.ndarray:  # the flow estimator's noise floor
        rng = np.random.default_rng(style)
        return np.clip(frames + rng.normal(0, 2.0, frames.shape), 0, 255).astype(np.uint8)

    out["(gaussian noise, sigma 2)"] = noise
    names = list(names) if names else None
    for name in [n for n in names if n != "appearance_free"] if names else reg.names("restyler"):
        out[name] = reg.create("restyler", name)
    if names is None or "appearance_free" in names:
        # Not a restyler (its dots integrate the flow over time, so it does not commute with frame
        # order), but the dynamic-pair sampler's rendering: style k = dot seed k.
        from sdinterp.plugins.samplers.appearance_free import render_kinematogram

        out["appearance_free (sampler)"] = lambda f, s: render_kinematogram(f, dot_seed=s)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="every 4th video only")
    ap.add_argument(
        "--restylers",
        default=None,
        help="comma-separated registry names, or appearance_free for the dot sampler (default: all and it)",
    )
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from sdinterp.plugins.samplers import Restyle as RestyleSampler

    real, synth = real_videos(), synthetic_videos()
    if args.quick:
        real, synth = real[::4], synth[::4]
    print(f"{len(real)} real videos, {len(synth)} synthetic videos, styles {STYLES}", file=sys.stderr)
    rows = {}
    for name, fn in candidates(args.restylers.split(",") if args.restylers else None).items():
        t0 = time.time()
        rows[name] = {"real": evaluate(fn, real), "synthetic": evaluate(fn, synth)}
        print(f"  {name}: {time.time() - t0:.0f}s", file=sys.stderr)
    default = RestyleSampler().restyler.name
    print(
        f"\nstatic corr. of unrelated videos (estimator floor): real {correlation_floor(real):.2f}, synthetic "
        f"{correlation_floor(synth):.2f}"
    )
    print(
        "\n| restyler | real rel. EPE | real SSIM | real hist. dist. | real static corr. (colour / hist. / "
        "texture) | synth. rel. EPE | synth. static corr. | eligible as default |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        re, sy = r["real"], r["synthetic"]
        ok = re["rel_epe"] <= 0.25 and re["static_corr"] <= 0.5
        mark = "yes" if ok else "no"
        label = f"**{name}** (default)" if name == default else name
        fam = " / ".join(f"{re[f'corr {f}']:.2f}" for f in ("mean colour", "histogram", "texture"))
        print(
            f"| {label} | {re['rel_epe']:.3f} | {re['ssim']:.2f} | {re['hist_dist']:.2f} | "
            f"{re['static_corr']:.2f} ({fam}) | {sy['rel_epe']:.3f} | {sy['static_corr']:.2f} | "
            f"{mark if not name.startswith('(') else '-'} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
