"""sdinterp.adapters._compat: the four packaging-gap fixes work, are idempotent, and do nothing where the real
package works; optional-family import failures give one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from sdinterp.adapters import _compat

PY = sys.executable


def _run(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (the fixes act on first import)."""
    return subprocess.run([PY, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=240, env=env)


@pytest.mark.slow  # 14 s measured on 2 shared cores
def test_whole_stack_imports_in_a_fresh_interpreter() -> None:
    proc = _run(
        """
        from sdinterp.adapters._compat import ensure_video_stack, applied_fixes
        ensure_video_stack()
        first = applied_fixes()
        ensure_video_stack()
        assert applied_fixes() == first, "not idempotent"
        import torchvision, torchvision.models.video
        import pytorchvideo.models.hub, pytorchvideo.transforms
        import mmaction.models
        import mmseg.models
        from mmcv.ops import point_sample
        print(sorted(first))
        """
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "['functional_tensor', 'mmaction_drn', 'mmaction_multimodal', 'mmcv_ops', 'torchvision_ops']" in proc.stdout


def test_stubs_fail_clearly_and_pure_ops_work() -> None:
    _compat.ensure_video_stack()
    import mmcv.ops
    from mmaction.models.localizers.drn.drn import DRN

    with pytest.raises(NotImplementedError, match="mmaction2#2714"):
        DRN()
    if _compat.applied_fixes()["mmcv_ops"]:
        with pytest.raises(NotImplementedError, match="compiled extensions"):
            mmcv.ops.RoIAlign(7)
        with pytest.raises(NotImplementedError, match="compiled extensions"):
            mmcv.ops.sigmoid_focal_loss(torch.zeros(1), torch.zeros(1))
    feats = torch.arange(16.0).view(1, 1, 4, 4)
    # point_sample is mmcv-lite's own pure-PyTorch code: the centre of pixel (1, 2) reads its value.
    points = torch.tensor([[[(2 + 0.5) / 4, (1 + 0.5) / 4]]])
    assert mmcv.ops.point_sample(feats, points, align_corners=False).item() == pytest.approx(6.0)


def test_torchvision_ops_after_the_fix() -> None:
    _compat.ensure_video_stack()
    import torchvision

    boxes, scores = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]), torch.tensor([0.9, 0.8])
    if _compat.applied_fixes()["torchvision_ops"]:
        # Only the schemas were declared: torchvision raises its own clear error, nothing crashes.
        with pytest.raises(RuntimeError, match="Couldn't load custom C\\+\\+ ops"):
            torchvision.ops.nms(boxes, scores, 0.5)
    else:  # the compiled ops load (e.g. a CUDA build): the real kernel runs
        assert torchvision.ops.nms(boxes, scores, 0.5).tolist() == [0]


def test_torchvision_fix_is_a_noop_when_ops_load() -> None:
    proc = _run(
        """
        import torch, sdinterp.adapters._compat as c
        c._torchvision_ops_loadable = lambda pkg: True   # as on a CUDA torch whose _C.so loads
        c.ensure_torchvision()
        print(c.applied_fixes())
        try:
            torch.ops.torchvision.nms
            print("defined")
        except (AttributeError, RuntimeError):
            print("untouched")
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "{'torchvision_ops': False}" in proc.stdout and "untouched" in proc.stdout


def test_other_fixes_are_noops_where_the_package_works(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # mmaction with its drn folder present
    (tmp_path / "models" / "localizers" / "drn").mkdir(parents=True)
    monkeypatch.setattr(_compat, "_applied", {"torchvision_ops": False})
    monkeypatch.setattr(_compat, "_package_dir", lambda name: tmp_path)
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.startswith("mmaction.models.localizers.drn")}
    try:
        _compat.ensure_mmaction()
        assert _compat.applied_fixes()["mmaction_drn"] is False
        assert "mmaction.models.localizers.drn" not in sys.modules
    finally:
        sys.modules.update(saved)
    # a full mmcv whose compiled extension exists
    monkeypatch.setattr(_compat, "_package_dir", lambda name: Path(os.devnull) if name == "mmcv" else None)
    monkeypatch.setattr(_compat, "_find_spec", lambda name: object() if name == "mmcv._ext" else None)
    ops = sys.modules.pop("mmcv.ops", None)
    try:
        _compat.ensure_mmcv_ops()
        assert _compat.applied_fixes()["mmcv_ops"] is False and "mmcv.ops" not in sys.modules
    finally:
        if ops is not None:
            sys.modules["mmcv.ops"] = ops
    # a torchvision that still ships functional_tensor (or a module already there)
    monkeypatch.setitem(sys.modules, "torchvision.transforms.functional_tensor", object())
    _compat.ensure_pytorchvideo()
    assert _compat.applied_fixes()["functional_tensor"] is False


def test_import_optional_gives_one_clear_line() -> None:
    with pytest.raises(_compat.MissingDependencyError) as info:
        _compat.import_optional("no_such_video_package.models", "examplefamily", "pip install no-such-video-package")
    err = info.value
    assert "pip install no-such-video-package" in str(err) and "examplefamily" in str(err)
    assert "\n" not in str(err)
    assert err.__cause__ is None and err.__suppress_context__


def test_broken_family_gives_one_line_at_the_cli(tmp_path: Path) -> None:
    # A pytorchvideo that fails deep inside its own import (e.g. a missing dependency of it).
    fake = tmp_path / "pytorchvideo"
    fake.mkdir()
    (fake / "__init__.py").write_text("import fvcore_missing_dependency_xyz\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run(
        [PY, "-m", "sdinterp.cli", "layers", "pytorchvideo:slow_r50"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(lines) == 1 and "pip install pytorchvideo" in lines[0], proc.stderr
