"""The restylers' pixel kernels in torch: on the device of the clip they are given, every frame at once.

A numpy clip is restyled on the CPU (shared memory in and out, no copy); a tensor clip stays where it
is, and nothing in these kernels reads a value back to the host (no ``.item()``, no ``float(t)``), so a
restyle on a GPU queues its kernels and returns. Per-style constants (kernels, lookup tables, style
spectra) are made once per device (:func:`on_device`), so a pair costs no host-to-device copy.

The arithmetic mirrors the numpy code it replaces, dtype for dtype (float32 pixels, float64 clip
statistics, float64 where numpy promoted to it); outputs agree to within one grey level on a few
pixels in ten thousand, where a float sum's order differs (tests/test_restylers_torch.py).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "restyles",
    "one_thread_on_cpu",
    "as_clip",
    "returned",
    "split",
    "compose",
    "standardise",
    "filter_frames",
    "smooth_log_amplitude",
    "median",
    "on_device",
    "style_kernel",
]

T = TypeVar("T")

#: BT.601 luma weights, as cv2.COLOR_RGB2GRAY (float32, as the numpy code held them).
_LUMA = tuple(float(v) for v in np.array([0.299, 0.587, 0.114], dtype=np.float32))


def as_clip(frames: Any) -> tuple[torch.Tensor, bool]:
    """A uint8 (T, H, W, 3) clip as a tensor, and whether it came as a numpy array.

    Raises:
        ValueError: the clip is not uint8 (T, H, W, 3).
    """
    if isinstance(frames, torch.Tensor):
        if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[-1] != 3:
            raise ValueError(f"restylers take uint8 (T, H, W, 3) clips, got {frames.dtype} {tuple(frames.shape)}")
        return frames, False
    arr = np.asarray(frames)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"restylers take uint8 (T, H, W, 3) clips, got {arr.dtype} {arr.shape}")
    if not (arr.flags.writeable and arr.flags.c_contiguous):
        arr = np.array(arr, order="C")  # torch warns on read-only arrays (decoders hand some out)
    return torch.from_numpy(arr), True


def returned(out: torch.Tensor, was_numpy: bool) -> Any:
    """``out`` as the caller gave its clip: a numpy array for a numpy clip, else the tensor."""
    return out.numpy() if was_numpy else out


@contextlib.contextmanager
def one_thread_on_cpu(device: torch.device) -> Iterator[None]:
    """Run the enclosed CPU kernels on one intra-op thread (nothing changes on another device).

    A clip's elementwise kernels gain little from a second OpenMP thread, and on cores already taken
    (the model's forwards, other processes) the OpenMP team's waiting costs far more: measured on 2
    busy cores, a ``natural_colour`` restyle of 8 x 112 x 149 took 600 ms on two threads, 14 ms on
    one (numpy: 25 ms). Setting the count costs under a microsecond.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def restyles(kernel: Callable[[Any, torch.Tensor, Any], torch.Tensor]) -> Callable[[Any, Any, Any], Any]:
    """Make ``kernel(self, clip_tensor, style) -> uint8 tensor`` a restyler's ``__call__``: the clip
    is checked and taken as a tensor (:func:`as_clip`), restyled where it is (on one thread on a CPU,
    :func:`one_thread_on_cpu`), and returned in the kind it came in (:func:`returned`)."""

    @functools.wraps(kernel)
    def call(self: Any, frames: Any, style: Any) -> Any:
        x, was_numpy = as_clip(frames)
        with one_thread_on_cpu(x.device):
            return returned(kernel(self, x, style), was_numpy)

    return call


def split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 RGB (T, H, W, 3) -> float32 luma Y in [0, 1], Cb, Cr (BT.601 scaling)."""
    f = x.float() / 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]
    return y, 0.564 * (b - y), 0.713 * (r - y)


def compose(luma: torch.Tensor, cb: torch.Tensor, cr: torch.Tensor) -> torch.Tensor:
    """(Y, Cb, Cr) -> uint8 RGB (T, H, W, 3), shrinking the chroma where it would leave [0, 1], so the
    output's luma (what optical flow is computed on) is exactly ``luma``."""
    d = (1.402 * cr, -0.344136 * cb - 0.714136 * cr, 1.772 * cb)
    up, down = 1.0 - luma, luma
    shrink = torch.ones((), dtype=luma.dtype, device=luma.device)
    for dk in d:
        # room before channel k leaves [0, 1]: up / d where d > 0, down / -d where d < 0, none at 0
        room = (torch.where(dk > 0, up, down) / dk.abs().clamp_min(1e-6)).masked_fill(dk == 0, float("inf"))
        shrink = torch.minimum(shrink, room)
    channels = [((luma + shrink * dk) * 255.0).round().clamp(0, 255) for dk in d]
    return torch.stack(channels, dim=-1).to(torch.uint8)


def mean_std(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 mean and (population) standard deviation of every element, as 0-dim tensors.

    float64: a float32 sum depends on the order of the frames, and a transform that changed with
    the frame order would not be the same transform for every frame.
    """
    a64 = a.double()
    return a64.mean(), a64.std(correction=0)


def standardise(a: torch.Tensor, floor: float) -> torch.Tensor:
    """``(a - mean) / (std + floor)`` over the whole clip, in ``a``'s precision, returned as float32."""
    mean, std = mean_std(a)
    return ((a - mean) / (std + floor)).float()


def _reflected(n: int, pad: int, device: torch.device, edge: bool) -> torch.Tensor:
    """Indices of ``pad`` samples either side of ``n`` mirrored as OpenCV's BORDER_REFLECT
    (``edge``: fedcba|abcdef) or BORDER_REFLECT_101 (gfedcb|abcdefg), for any ``n`` >= 1."""
    j = torch.arange(-pad, n + pad, device=device)
    if edge:
        m = j.remainder(2 * n)
        return torch.where(m < n, m, 2 * n - 1 - m)
    if n == 1:
        return torch.zeros_like(j)
    m = j.remainder(2 * n - 2)
    return torch.where(m < n, m, 2 * n - 2 - m)


def filter_frames(y: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Correlate every frame of (T, H, W) with a square float32 ``kernel`` (odd size), borders
    mirrored as OpenCV's ``filter2D(..., BORDER_REFLECT)``."""
    pad = kernel.shape[-1] // 2
    h, w = y.shape[-2:]
    rows, cols = _reflected(h, pad, y.device, True), _reflected(w, pad, y.device, True)
    padded = y[:, rows][:, :, cols].unsqueeze(1)
    return F.conv2d(padded, kernel.view(1, 1, *kernel.shape)).squeeze(1)


def smooth_log_amplitude(spec: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Smooth an rfft2 amplitude spectrum (H, W') in log space, centred along the full axis, with a
    separable Gaussian ``kernel`` (1-D float32) and OpenCV's default border (REFLECT_101)."""
    centred = torch.fft.fftshift(torch.log(spec + 1e-6), dim=0).float()
    pad = kernel.numel() // 2
    h, w = centred.shape
    padded = centred[_reflected(h, pad, centred.device, False)][:, _reflected(w, pad, centred.device, False)]
    x = F.conv2d(padded[None, None], kernel.view(1, 1, 1, -1))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))[0, 0]
    return torch.exp(torch.fft.ifftshift(x, dim=0))


def median(a: torch.Tensor) -> torch.Tensor:
    """numpy's median of every element (the mean of the two middle values for an even count)."""
    flat = a.flatten().sort().values
    n = flat.numel()
    return flat[n // 2] if n % 2 else (flat[n // 2 - 1] + flat[n // 2]) / 2


def on_device(owner: Any, key: Any, device: torch.device, make: Callable[[], T]) -> T:
    """``make()`` once per (``key``, ``device``) and kept on ``owner`` (a restyler): per-style
    constants are copied to a device once, not once per pair."""
    cache: dict[Any, Any] = owner.__dict__.setdefault("_device_constants", {})
    full = (key, str(device))
    if full not in cache:
        cache[full] = make()
    out: T = cache[full]
    return out


def style_kernel(owner: Any, style: int | str, device: torch.device) -> torch.Tensor:
    """``owner.kernel(style)`` (a numpy texture kernel) as float32 on ``device``, made once per
    (style, device) (:func:`on_device`)."""
    return on_device(
        owner, ("kernel", style), device, lambda: torch.from_numpy(owner.kernel(style).astype(np.float32)).to(device)
    )
