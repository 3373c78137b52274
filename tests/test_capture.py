"""Named-layer capture: names, pooling, input hooks, tuple outputs, repeated calls, hook hygiene."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sdinterp
from sdinterp.capture import CaptureError, LayerCapture, UnknownLayerError, pool
from sdinterp.interfaces import LayerInfo


class TwoOut(nn.Module):
    def forward(self, x):
        return x * 2, x.mean(dim=(2, 3, 4))


class Net(nn.Module):
    """stem -> (tuple-returning) split -> head; `shared` runs twice; `inplace` edits its input."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv3d(3, 4, 1)
        self.split = TwoOut()
        self.shared = nn.Conv3d(4, 4, 1)
        self.head = nn.Linear(4, 2)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        y = self.stem(x)
        y, _ = self.split(y)
        y = self.shared(self.shared(y))
        y.add_(100.0)  # in-place edit after `shared` ran: captured copies must not see it
        return self.head(y.mean(dim=(2, 3, 4)))


@pytest.fixture()
def net():
    torch.manual_seed(0)
    return Net().eval()


def test_unknown_layer_lists_valid_names(net):
    adapter = sdinterp.adapt(net)
    with pytest.raises(UnknownLayerError) as err:
        adapter.resolve("stemm")
    msg = str(err.value)
    assert "Did you mean 'stem'" in msg and "head" in msg and "input:" in msg


def test_raw_paths_and_input_prefix_resolve(net):
    adapter = sdinterp.adapt(net)
    assert adapter.resolve("head").where == "output"
    info = adapter.resolve("input:head")
    assert info.where == "input" and info.module == "head"


def test_output_and_input_capture_values(net):
    x = torch.randn(2, 3, 4, 5, 5)
    infos = {
        "stem": LayerInfo("stem", "stem"),
        "head_in": LayerInfo("head_in", "head", where="input", pooling="flat"),
        "split1": LayerInfo("split1", "split", select=1, pooling="flat"),
    }
    with torch.no_grad(), LayerCapture(net, infos) as cap:
        net(x)
        feats = cap.collect()
        stem = net.stem(x)
    torch.testing.assert_close(feats["stem"], stem.mean(dim=(2, 3, 4)))
    assert feats["head_in"].shape == (2, 4)
    torch.testing.assert_close(feats["split1"], (stem).mean(dim=(2, 3, 4)))


def test_captured_copies_are_immune_to_later_in_place_edits(net):
    x = torch.randn(2, 3, 4, 5, 5)
    infos = {
        "shared_last": LayerInfo("s", "shared", call=1),
        "head_in": LayerInfo("h", "head", where="input", pooling="flat"),
    }
    with torch.no_grad(), LayerCapture(net, infos) as cap:
        net(x)
        feats = cap.collect()
    # head's input is the shared output + 100 (after the in-place edit), the capture of shared is not
    torch.testing.assert_close(feats["head_in"] - 100.0, feats["shared_last"])


def test_repeated_calls_need_a_declared_call(net):
    x = torch.randn(1, 3, 2, 3, 3)
    with LayerCapture(net, {"shared": LayerInfo("shared", "shared")}) as cap:
        net(x)
        with pytest.raises(CaptureError, match="ran 2 times.*LayerInfo.call"):
            cap.collect()
    with (
        torch.no_grad(),
        LayerCapture(
            net, {"all": LayerInfo("all", "shared", call="all"), "c0": LayerInfo("c0", "shared", call=0)}
        ) as cap,
    ):
        net(x)
        feats = cap.collect()
    assert feats["all"].shape == (1, 8)
    torch.testing.assert_close(feats["all"][:, :4], feats["c0"])


def test_tuple_output_without_selector_is_explained(net):
    with LayerCapture(net, {"split": LayerInfo("split", "split")}) as cap:
        net(torch.randn(1, 3, 2, 3, 3))
        with pytest.raises(CaptureError, match="produced a tuple.*LayerInfo.select"):
            cap.collect()


def test_hooks_removed_when_forward_raises(net):
    def count():
        return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in net.modules())

    before = count()
    with pytest.raises(RuntimeError):
        with LayerCapture(net, {"stem": LayerInfo("stem", "stem"), "hi": LayerInfo("hi", "head", where="input")}):
            assert count() == before + 2
            net(torch.randn(1, 5, 2, 3, 3))  # wrong channel count: conv raises
    assert count() == before


def test_bad_module_path_fails_on_enter_and_leaves_no_hooks(net):
    with pytest.raises(UnknownLayerError, match="does not exist"):
        with LayerCapture(net, {"stem": LayerInfo("stem", "stem"), "x": LayerInfo("x", "nope.path")}):
            pass
    assert all(not m._forward_hooks for m in net.modules())


def test_one_forward_serves_every_layer(net):
    adapter = sdinterp.adapt(net)
    names = ["stem", "split", "head"]
    infos = {n: adapter.resolve(n) for n in names}
    infos["split"] = LayerInfo("split", "split", select=0)
    before = net.calls  # resolving names ran the generic adapter's one probe forward
    with torch.no_grad(), LayerCapture(net, infos) as cap:
        net(torch.randn(2, 3, 2, 3, 3))
        feats = cap.collect()
    assert net.calls == before + 1 and set(feats) == set(names)


@pytest.mark.parametrize(
    "shape, pooling, expect",
    [
        ((2, 5, 3, 4, 4), "channels_first", (2, 5)),
        ((2, 7, 5), "tokens", (2, 5)),
        ((7, 2, 5), "tokens_seq_first", (2, 5)),
        ((2, 5), "flat", (2, 5)),
    ],
)
def test_pooling_layouts(shape, pooling, expect):
    x = torch.randn(*shape)
    out = pool(x, pooling)
    assert out.shape == expect and out.dtype == torch.float32
    if pooling == "tokens":
        torch.testing.assert_close(out, x.mean(1))
    if pooling == "flat":
        assert out.data_ptr() != x.data_ptr()


def test_pooling_shape_errors():
    with pytest.raises(CaptureError, match="'tokens' pooling expects"):
        pool(torch.randn(2, 3), "tokens", "blk")
    with pytest.raises(CaptureError, match=r"expected \(B, C\)"):
        pool(torch.randn(2, 3, 4), lambda t: t, "odd")
