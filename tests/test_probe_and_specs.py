"""The core's one probe (sdinterp.probe) and one spec parser / python: loader (sdinterp.models), which
every adapter family uses (issue 19 item 2)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sdinterp.capture import LayerCapture
from sdinterp.interfaces import LayerInfo
from sdinterp.models import ModelSpec, family_loader, load_python_object, parse_model_spec
from sdinterp.probe import probe_widths, tolerant_pooling, trace


class _Net(nn.Module):
    """A conv, a module returning a tuple, a head that runs after the layer of interest."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 5, 3, padding=1)
        self.split = nn.Identity()
        self.head = nn.Linear(5, 2)
        self.head_ran = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        self.head_ran += 1
        return self.head(self.split(y).mean(dim=(2, 3, 4)))


def test_probe_widths_read_through_the_capture_path_and_stop_early() -> None:
    torch.manual_seed(0)
    net = _Net().train()
    x = torch.randn(2, 3, 4, 8, 8)
    layers = {"conv": LayerInfo("conv", "conv", None, "rgb")}
    probe = probe_widths(net, layers, lambda: net(x), stop_after="conv")
    assert probe.widths == {"conv": 5} and net.training  # mode restored
    assert net.head_ran == 0 and probe.stopped_output.shape == (2, 5, 4, 8, 8)  # stopped before the head
    with torch.no_grad(), LayerCapture(net, layers) as cap:
        net.eval()
        net(x)
        torch.testing.assert_close(cap.collect()["conv"], probe.stopped_output.float().mean(dim=(2, 3, 4)))


def test_trace_and_tolerant_pooling() -> None:
    net = _Net()
    x = torch.randn(1, 3, 2, 4, 4)
    ran = trace(net, lambda: net(x))
    assert list(ran) == ["conv", "split", "head"] and ran["conv"].shape == (1, 5, 2, 4, 4) and ran["conv"].tensor_output
    assert ran["conv"].order < ran["split"].order < ran["head"].order
    layers = {n: LayerInfo(n, n, None, "rgb", pooling=tolerant_pooling("tokens", n), call=0) for n in ("conv", "head")}
    assert probe_widths(net, layers, lambda: net(x)).widths == {"conv": None, "head": None}  # 5-D, 2-D: not tokens


def test_model_specs_are_parsed_once(tmp_path) -> None:
    assert parse_model_spec("mmaction2:tsn_r50:/w/tsn.pth") == ModelSpec("mmaction2", "tsn_r50", "/w/tsn.pth")
    spec = parse_model_spec("torchvision:r3d_18:/w/a:b.pth")
    assert (spec.family, spec.name, spec.weights) == ("torchvision", "r3d_18", "/w/a:b.pth")
    config = tmp_path / "cfg.py"
    config.write_text("")
    assert parse_model_spec(f"mmaction2:{config}").name == str(config)  # a path alone keeps its colons
    with pytest.raises(ValueError, match="expected FAMILY:NAME"):
        parse_model_spec("r3d_18")
    calls = []
    hook = family_loader(
        "demo", lambda name, **options: calls.append((name, options)) or "model", ("weights", "strict")
    )
    weights = tmp_path / "w.pt"
    torch.save({}, weights)
    assert hook(spec=f"demo:net:{weights}", options={"strict": False}) == "model"
    assert calls == [("net", {"strict": False, "weights": str(weights)})]
    assert hook(spec="demos:net", options={}) is None
    # Nothing is dropped: an unknown option, or other weights beside the spec's, is refused by name.
    with pytest.raises(ValueError, match="does not take other; it takes weights"):
        hook(spec="demo:net", options={"other": 1})
    with pytest.raises(ValueError, match="give one of them"):
        hook(spec=f"demo:net:{weights}", options={"weights": "/x.pt"})
    assert len(calls) == 1


def test_python_specs_are_loaded_once() -> None:
    from sdinterp import load_model

    assert load_python_object("python:os.path:join")("a", "b") == "a/b"
    with pytest.raises(ValueError, match="expected python:package.module:factory"):
        load_python_object("python:os.path")
    with pytest.raises(ImportError, match="cannot import 'no_such_module_x'"):
        load_python_object("python:no_such_module_x:f")
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        load_model("python:os.path:nope")
    assert isinstance(load_model("python:seg_models.rtnet_r34:tiny_rtnet_r34"), nn.Module)
