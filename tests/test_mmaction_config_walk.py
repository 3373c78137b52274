"""Every recognition config shipped in the mmaction2 wheel, walked through sdinterp with the network
blocked: it lists canonical layers with probed widths (and runs a 2-pair report at reduced size), or
is refused with one line naming the reason. The outcomes must match the table in docs/adapters.md.
"""

from __future__ import annotations

import re
import socket
import sys
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("mmaction")

sys.path.insert(0, str(Path(__file__).parent))
import _mmaction_walk as walk
from sdinterp.adapters._mmaction_config import strip_pretrained

DOC = Path(__file__).resolve().parents[1] / "docs" / "adapters.md"


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every route to the network raises and is recorded: sockets, urllib, torch.hub, requests and
    huggingface_hub (a cached file would let torch.hub 'succeed' offline, so it is patched itself)."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args[1:] if args else kwargs)
        raise OSError(f"network access blocked in tests: {args[1:]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    try:
        import requests

        monkeypatch.setattr(requests.Session, "request", refuse)
    except ImportError:  # pragma: no cover
        pass
    try:
        import huggingface_hub.file_download as hf

        monkeypatch.setattr(hf, "hf_hub_download", refuse)
    except ImportError:  # pragma: no cover
        pass
    return attempts


def _doc_rows() -> dict[str, tuple[str, str]]:
    text = DOC.read_text()
    block = text.split("<!-- config-walk:start -->")[1].split("<!-- config-walk:end -->")[0]
    rows = {}
    for line in block.splitlines():
        m = re.match(r"\| `([^`]+)` \| [^|]+ \| (ok|refused) \| [^|]* \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def test_strip_pretrained_removes_every_kind_of_weight_reference() -> None:
    cfg = {
        "backbone": {"type": "torchvision.densenet161", "pretrained": True, "pretrained2d": True},
        "b2": {"type": "UniFormerV2", "clip_pretrained": True, "pretrained": "ViT-B/16"},
        "b3": {"type": "X", "init_cfg": [{"type": "Pretrained", "checkpoint": "https://x/y.pth"}, {"type": "Kaiming"}]},
        "b4": {"weights": "IMAGENET1K_V1", "init_cfg": {"type": "Pretrained", "checkpoint": "a.pth"}},
    }
    out = strip_pretrained(cfg)
    assert out["backbone"]["pretrained"] is False and out["backbone"]["pretrained2d"] is True
    assert out["b2"]["clip_pretrained"] is False and out["b2"]["pretrained"] is None
    assert out["b3"]["init_cfg"] == [{"type": "Kaiming"}]
    assert out["b4"]["weights"] is None and out["b4"]["init_cfg"] is None


@pytest.mark.slow  # builds every config MMAction2 ships: ~466 s alone (issue 19)
def test_every_shipped_config_lists_layers_or_is_refused_as_documented(no_network: list[Any]) -> None:
    documented = _doc_rows()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcomes = walk.walk(report=True)
    assert no_network == [], f"model building touched the network: {no_network}"
    crashed = [(o.config, o.detail) for o in outcomes if o.status == "crashed"]
    assert not crashed, f"raw exceptions instead of one clear line: {crashed}"
    assert len(outcomes) >= 100  # the wheel ships ~127 recognition configs
    seen = {o.config: (o.status, o.detail) for o in outcomes}
    missing = sorted(set(seen) - set(documented))
    assert not missing, f"configs not in the docs/adapters.md table: {missing[:5]}"
    changed = {k: (documented[k], v) for k, v in seen.items() if documented[k] != v}
    assert not changed, (
        f"outcomes differ from docs/adapters.md (regenerate with python tests/_mmaction_walk.py): {changed}"
    )
    reported = {o.backbone for o in outcomes if o.report}
    assert reported == {o.backbone for o in outcomes if o.status == "ok"}  # one 2-pair report per backbone class
    for o in outcomes:
        assert o.report in ("", "2-pair report ok"), (o.config, o.report)
        if o.status == "refused":
            assert "\n" not in o.detail and len(o.detail) > 20


def test_tanet_widths_come_from_the_forward_not_from_its_last_submodule(no_network: list[Any]) -> None:
    row = _doc_rows()["tanet_imagenet-pretrained-r50_8xb8-1x1x8-50e_sthv1-rgb"]
    assert row[0] == "ok" and row[1].endswith("64/256/512/1024/2048")


@pytest.mark.slow  # 12 s measured on 2 shared cores
def test_a_recognizer_object_without_nameable_layers_falls_back_to_raw_module_paths() -> None:
    """Warned, not refused: the layers are the module paths that run (the generic adapter's
    listing), still fed the recognizer's own (B, 1, 3, T, H, W) input, and a report runs."""
    import sdinterp
    from sdinterp.adapters.mmaction2 import MMAction2Adapter, _mmaction

    registry = _mmaction()

    class FlatTestBackbone(torch.nn.Module):
        """No feature maps, no block list: nothing a family table or the structure can name."""

        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.LazyLinear(16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.proj(x.flatten(1))

    registry.MODELS.register_module(name="FlatTestBackbone", module=FlatTestBackbone, force=True)
    model = registry.MODELS.build(dict(type="Recognizer3D", backbone=dict(type="FlatTestBackbone")))
    adapter = sdinterp.adapt(model, num_frames=4, crop_size=32)
    assert isinstance(adapter, MMAction2Adapter)
    with pytest.warns(UserWarning, match="raw module paths that run, as the generic adapter"):
        layers = adapter.layers()
    assert layers["backbone.proj"].channels == 16
    assert "backbone" in layers and "cls_head" not in layers  # containers that never run are not listed
    clips = walk._clips(8, 32)
    rep = sdinterp.StaticDynamic(adapter, layers=["backbone.proj"]).attribute(
        clips, n_pairs=2, batch_size=3, seed=0, show_progress=False
    )
    assert len(rep["backbone.proj"].units_frame()) == 16
