"""Work-arounds for five known packaging gaps of the video-model stack (``docs/install.md``).

The adapters call these functions *before* importing torchvision, pytorchvideo, mmaction or
mmsegmentation. Each fix first checks whether the real thing works and does nothing if it does (a
CUDA torch with loadable torchvision ops, a full mmcv with compiled ops, a fixed mmaction2 wheel), so
on a healthy install this module changes nothing. Every function is idempotent.

The five gaps:

1. torchvision 0.28.0 on a CPU torch 2.13.0: ``torchvision/_C.so`` links ``libtorch_cuda.so`` and does
   not load, yet ``torchvision/_meta_registrations.py`` registers fake kernels for
   ``torchvision::nms``/``qnms`` unconditionally, so ``import torchvision`` raises
   ``operator torchvision::nms does not exist``. Fix: declare those two operator schemas (no kernel)
   before the import. ``torchvision.ops.nms`` then raises torchvision's own "Couldn't load custom C++
   ops" error; everything the adapters use works.
2. pytorchvideo 0.1.5 imports ``torchvision.transforms.functional_tensor``, which newer torchvision
   renamed to ``_functional_tensor``. Fix: alias the module in ``sys.modules``.
3. The mmaction2 1.2.0 wheel lacks ``mmaction/models/localizers/drn`` (open-mmlab/mmaction2#2714), so
   ``import mmaction.models`` fails. Fix: register stub modules whose ``DRN`` raises if built.
4. mmcv-lite has no compiled ``mmcv._ext``, so ``import mmcv.ops`` fails, and mmsegmentation imports
   ``mmcv.ops.point_sample`` at import time. Fix: register an ``mmcv.ops`` package object whose
   ``__init__`` is not run, exposing the pure-PyTorch ``point_sample``/``bilinear_grid_sample`` and
   stubs that raise a clear ``NotImplementedError`` for every compiled op.
5. mmaction2 1.2.0 imports its VindLU multimodal models whenever ``transformers`` is installed
   (``mmaction.utils.dependency.WITH_MULTIMODAL``), and they import ``timm``, which it does not
   declare: with ``transformers`` (our Hugging Face adapter) and without ``timm``,
   ``import mmaction.models`` fails. Fix: without ``timm``, turn that flag off first, so mmaction
   registers its own placeholders for the three VindLU models instead.

Examples::

    >>> from sdinterp.adapters._compat import ensure_video_stack
    >>> ensure_video_stack()            # safe to call any number of times
    >>> import torchvision, pytorchvideo.models.hub, mmaction.models
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "MissingDependencyError",
    "applied_fixes",
    "ensure_mmaction",
    "ensure_mmcv_ops",
    "ensure_pytorchvideo",
    "ensure_torchvision",
    "ensure_video_stack",
    "import_optional",
]

#: Which fixes this process applied (True) or found unnecessary (False); absent = not checked yet.
_applied: dict[str, bool] = {}
# The torch.library fragment must stay referenced: a collected Library object deregisters its ops.
_torchvision_fragment: Any = None


class MissingDependencyError(ImportError):
    """An optional model family cannot be imported; the message says what to install."""


def applied_fixes() -> dict[str, bool]:
    """Which compatibility fixes were applied in this process.

    Returns:
        ``{fix name: applied}`` for every fix checked so far; ``False`` means the real package worked
        and the fix was a no-op. Names: ``torchvision_ops``, ``functional_tensor``, ``mmaction_drn``,
        ``mmaction_multimodal``, ``mmcv_ops``.
    """
    return dict(_applied)


def _find_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _package_dir(name: str) -> Path | None:
    """The folder of a top-level package, located without importing it."""
    spec = _find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


# --------------------------------------------------------------------------------------------------
# 1. torchvision operator schemas
# --------------------------------------------------------------------------------------------------
def _torchvision_ops_loadable(pkg: Path) -> bool:
    """True if torchvision's compiled ``_C`` extension is (or can be) loaded into torch."""
    try:
        torch.ops.torchvision.nms  # noqa: B018 - already registered (ops loaded, or fix applied)
        return True
    except (AttributeError, RuntimeError):
        pass
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        lib = pkg / f"_C{suffix}"
        if lib.exists():
            try:
                # The same call torchvision.extension makes; loading twice is harmless (dlopen).
                torch.ops.load_library(str(lib))
                return True
            except (OSError, RuntimeError):
                return False
    return False


def ensure_torchvision() -> None:
    """Make ``import torchvision`` work on a CPU torch whose torchvision wheel has CUDA-only ops.

    A no-op if torchvision is already imported, is not installed, or its compiled ops load.
    """
    global _torchvision_fragment
    if "torchvision_ops" in _applied or "torchvision" in sys.modules:
        _applied.setdefault("torchvision_ops", False)
        return
    pkg = _package_dir("torchvision")
    if pkg is None or _torchvision_ops_loadable(pkg):
        _applied["torchvision_ops"] = False
        return
    # FRAGMENT (not DEF): it never clashes with another registration of the namespace.
    lib = torch.library.Library("torchvision", "FRAGMENT")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _torchvision_fragment = lib
    _applied["torchvision_ops"] = True


# --------------------------------------------------------------------------------------------------
# 2. torchvision.transforms.functional_tensor alias for pytorchvideo
# --------------------------------------------------------------------------------------------------
def ensure_pytorchvideo() -> None:
    """Make ``import pytorchvideo`` (0.1.5) work with a torchvision that renamed ``functional_tensor``.

    Also applies :func:`ensure_torchvision`, which pytorchvideo needs.
    """
    ensure_torchvision()
    if "functional_tensor" in _applied:
        return
    name = "torchvision.transforms.functional_tensor"
    if name in sys.modules or _find_spec("torchvision") is None:
        _applied["functional_tensor"] = False
        return
    import torchvision.transforms  # noqa: F401 - imports the parent so the submodule can be found

    if _find_spec(name) is not None:
        _applied["functional_tensor"] = False
        return
    new = importlib.import_module("torchvision.transforms._functional_tensor")
    sys.modules[name] = new
    _applied["functional_tensor"] = True


# --------------------------------------------------------------------------------------------------
# 3. mmaction2's missing DRN localizer
# --------------------------------------------------------------------------------------------------
class _MissingDRN:
    """Stand-in for mmaction2's DRN localizer, absent from the 1.2.0 wheel."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "mmaction2's DRN localizer is missing from the mmaction2 1.2.0 wheel "
            "(open-mmlab/mmaction2#2714); install mmaction2 from source to use it"
        )


def ensure_mmaction() -> None:
    """Make ``import mmaction.models`` work with the 1.2.0 wheel that lacks ``localizers/drn``.

    A no-op if mmaction is not installed or the folder exists. Also applies :func:`ensure_torchvision`
    (mmaction imports torchvision).
    """
    ensure_torchvision()
    _mmaction_drn()
    _mmaction_multimodal_without_timm()


def _mmaction_drn() -> None:
    if "mmaction_drn" in _applied:
        return
    pkg = _package_dir("mmaction")
    base = "mmaction.models.localizers.drn"
    if pkg is None or (pkg / "models" / "localizers" / "drn").is_dir() or base in sys.modules:
        _applied["mmaction_drn"] = False
        return
    drn_pkg = types.ModuleType(base, "Stub: the mmaction2 1.2.0 wheel lacks this package.")
    drn_pkg.__path__ = []  # a package, so `from .drn.drn import DRN` resolves
    drn_mod = types.ModuleType(f"{base}.drn", "Stub DRN that raises NotImplementedError if built.")
    drn_mod.DRN = _MissingDRN  # type: ignore[attr-defined]
    drn_pkg.drn = drn_mod  # type: ignore[attr-defined]
    sys.modules[base] = drn_pkg
    sys.modules[f"{base}.drn"] = drn_mod
    _applied["mmaction_drn"] = True


def _mmaction_multimodal_without_timm() -> None:
    if "mmaction_multimodal" in _applied:
        return
    needed = (
        _package_dir("mmaction") is not None
        and _find_spec("transformers") is not None
        and _find_spec("timm") is None
        and "mmaction.models" not in sys.modules
    )
    if needed:
        import mmaction.utils.dependency as dependency

        dependency.WITH_MULTIMODAL = False
    _applied["mmaction_multimodal"] = needed


# --------------------------------------------------------------------------------------------------
# 4. mmcv.ops without compiled extensions
# --------------------------------------------------------------------------------------------------
_PURE_OPS = ("point_sample", "bilinear_grid_sample", "rel_roi_point_to_rel_img_point")


def _compiled_op_stub(name: str) -> Any:
    message = (
        f"mmcv.ops.{name} needs mmcv's compiled extensions, which mmcv-lite lacks; install the full "
        f"mmcv (e.g. MMCV_WITH_OPS=1 pip install mmcv --no-build-isolation) to use it"
    )
    if name[:1].isupper():

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            raise NotImplementedError(message)

        return type(name, (), {"__init__": __init__, "__doc__": message})

    def stub(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(message)

    stub.__name__ = name
    stub.__doc__ = message
    return stub


def _mmcv_ops_names(ops_dir: Path) -> list[str]:
    """The names the real ``mmcv/ops/__init__.py`` exports (read with ast, never executed)."""
    try:
        tree = ast.parse((ops_dir / "__init__.py").read_text())
    except (OSError, SyntaxError):
        return []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            try:
                return [str(n) for n in ast.literal_eval(node.value)]
            except ValueError:
                return []
    return []


def ensure_mmcv_ops() -> None:
    """Provide ``mmcv.ops`` on mmcv-lite (no ``mmcv._ext``): pure-PyTorch ops plus clear stubs.

    A no-op if mmcv is not installed, ``mmcv.ops`` is already imported, or ``mmcv._ext`` exists.
    """
    if "mmcv_ops" in _applied:
        return
    pkg = _package_dir("mmcv")
    if pkg is None or "mmcv.ops" in sys.modules or not (pkg / "ops").is_dir() or _find_spec("mmcv._ext") is not None:
        _applied["mmcv_ops"] = False
        return
    import mmcv

    ops_dir = pkg / "ops"
    spec = importlib.machinery.ModuleSpec("mmcv.ops", None, is_package=True)
    spec.submodule_search_locations = [str(ops_dir)]
    ops = types.ModuleType("mmcv.ops", "mmcv.ops without compiled extensions (sdinterp.adapters._compat).")
    ops.__spec__ = spec
    ops.__path__ = [str(ops_dir)]  # submodules such as mmcv.ops.point_sample import normally
    ops.__package__ = "mmcv.ops"
    sys.modules["mmcv.ops"] = ops
    mmcv.ops = ops
    try:
        point_sample = importlib.import_module("mmcv.ops.point_sample")
    except Exception:  # noqa: BLE001 - whatever the optional module raises, mmcv-lite just lacks it
        point_sample = None
    for name in _mmcv_ops_names(ops_dir):
        setattr(ops, name, _compiled_op_stub(name))
    for name in _PURE_OPS:
        if point_sample is not None and hasattr(point_sample, name):
            setattr(ops, name, getattr(point_sample, name))
    _applied["mmcv_ops"] = True


# --------------------------------------------------------------------------------------------------
def ensure_video_stack() -> None:
    """Apply every fix (each a no-op where not needed or where the package is not installed).

    Examples::

        >>> ensure_video_stack()
        >>> import torchvision.models.video
    """
    ensure_torchvision()
    ensure_pytorchvideo()
    ensure_mmcv_ops()
    ensure_mmaction()


def import_optional(
    module: str, family: str, install: str, prepare: Callable[[], None] | None = None
) -> types.ModuleType:
    """Import an optional model package, turning any failure into one clear message.

    Args:
        module: the module to import (e.g. ``"mmaction.models"``).
        family: the adapter family, for the message (e.g. ``"mmaction2"``).
        install: what to install, for the message (e.g. ``"pip install mmaction2==1.2.0 ..."``).
        prepare: a compatibility fix to apply first (e.g. :func:`ensure_mmaction`).

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: with the original error summarised on one line and no chained
            traceback from inside the package.

    Examples::

        >>> hub = import_optional("pytorchvideo.models.hub", "pytorchvideo", "pip install pytorchvideo",
        ...                       ensure_pytorchvideo)
    """
    try:
        if prepare is not None:
            prepare()
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - ImportError, or the RuntimeError/AssertionError some packages raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        err = MissingDependencyError(
            f"the sdinterp {family} adapter could not import {module!r} ({type(exc).__name__}: {reason}). "
            f"Install it with: {install}"
        )
    raise err from None
