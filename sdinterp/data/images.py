"""Image files: reading one frame under the colour policy, and listing a frame folder in order.

Colour policy (``color=``): frames are RGB uint8. With ``"convert"`` (default) grayscale images are
replicated to three channels, RGBA/LA drop their alpha channel, palette images are expanded and
16-bit images are scaled to 8 bits; with ``"strict"`` any image that is not 8-bit RGB raises.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import numpy as np

from sdinterp.errors import VideoReadError

__all__ = ["IMAGE_EXTENSIONS", "ColorMode", "natural_key", "list_frames", "read_image", "not_an_image"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
ColorMode = Literal["convert", "strict"]


def natural_key(name: str) -> list[object]:
    """Sort key that orders ``frame2.jpg`` before ``frame10.jpg``.

    Examples::

        >>> sorted(["f10.png", "f2.png"], key=natural_key)
        ['f2.png', 'f10.png']
    """
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def list_frames(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files of a frame folder in natural order (hidden files ignored).

    Args:
        folder: a folder of jpg/png/bmp/webp frames.

    Returns:
        Paths sorted by :func:`natural_key` of their names.

    Examples::

        >>> [p.name for p in list_frames("bear")]          # doctest: +SKIP
        ['00000.jpg', '00001.jpg', ...]
    """
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def _to_rgb(arr: np.ndarray, mode: str, path: str | os.PathLike[str], color: ColorMode) -> np.ndarray:
    """Apply the colour policy of the module docstring to one decoded image."""
    is_rgb8 = arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[-1] == 3
    if is_rgb8:
        return arr
    if color == "strict":
        raise VideoReadError(path, f"image is {mode} ({arr.dtype}, shape {arr.shape}), not 8-bit RGB (color='strict')")
    if arr.dtype == np.uint16 or (arr.dtype.kind in "iu" and arr.size and arr.max() > 255):
        arr = (arr.astype(np.float64) / 257.0).round()  # 16-bit -> 8-bit, 65535 -> 255
    if arr.dtype.kind == "f" and arr.size and arr.max() <= 1.0:
        arr = arr * 255.0
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 2, 3, 4):
        raise VideoReadError(path, f"cannot convert image of shape {arr.shape} to RGB")
    if arr.shape[-1] in (1, 2):  # gray or gray + alpha
        arr = np.repeat(arr[..., :1], 3, axis=-1)
    return np.ascontiguousarray(arr[..., :3])


def read_image(path: str | os.PathLike[str], color: ColorMode = "convert") -> np.ndarray:
    """Read one image file as uint8 (H, W, 3) RGB under the module's colour policy.

    Args:
        path: an image file (jpg, png, ...).
        color: ``"convert"`` or ``"strict"`` (see the module docstring).

    Returns:
        uint8 (H, W, 3).

    Raises:
        VideoReadError: naming the file if it is missing, unreadable, truncated or (strict) not RGB.

    Examples::

        >>> img = read_image("frames/00001.jpg")        # doctest: +SKIP
    """
    from PIL import Image

    try:
        with Image.open(path) as src:
            src.load()  # decode now, so a truncated file fails here and names itself
            mode = src.mode
            if mode in ("P", "CMYK") and color == "strict":
                raise VideoReadError(path, f"image is a {mode} image, not 8-bit RGB (color='strict')")
            im: Image.Image = src
            if mode == "P":
                im = src.convert("RGBA" if "transparency" in src.info else "RGB")
            elif mode == "CMYK":
                im = src.convert("RGB")
            arr = np.asarray(im)
    except VideoReadError:
        raise
    except FileNotFoundError as exc:
        raise VideoReadError(path, "file not found") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise VideoReadError(path, f"cannot read image ({type(exc).__name__}: {exc})") from exc
    return _to_rgb(arr, mode, path, color)


#: Leading bytes of the video containers the readers take, and the extension that names each.
_CONTAINERS = ((4, b"ftyp", "an MP4/MOV", ".mp4"), (0, b"\x1a\x45\xdf\xa3", "a Matroska/WebM", ".mkv"))


def not_an_image(path: str | os.PathLike[str]) -> str | None:
    """What to say about an image-named file that holds a video instead, or ``None``.

    Examples::

        >>> not_an_image("clip.png")                   # doctest: +SKIP
        'holds an MP4/MOV video, not an image: rename it to .mp4 (a video file, not a frame)'
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return None
    found = [(what, ext) for at, magic, what, ext in _CONTAINERS if head[at : at + len(magic)] == magic]
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        found.append(("an AVI", ".avi"))
    if not found:
        return None
    what, ext = found[0]
    return f"holds {what} video, not an image: rename it to {ext} (a video file, not a frame)"
