"""Early exit: a forward stops once every requested layer has fired, and the numbers do not change."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sdinterp
from sdinterp.capture import CaptureError, LayerCapture
from sdinterp.testing.planted import make_planted_clips


class Counted(nn.Module):
    """A conv block that counts how often it runs."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, padding=1)
        self.runs = 0

    def forward(self, x):
        self.runs += 1
        return torch.relu(self.conv(x))


class Deep(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.s1, self.s2, self.s3 = Counted(3, 6), Counted(6, 8), Counted(8, 10)
        self.head = nn.Linear(10, 4)

    def forward(self, x):
        return self.head(self.s3(self.s2(self.s1(x))).mean(dim=(2, 3, 4)))


class TwoPath(nn.Module):
    """Two pathways run one after the other; a layer in each."""

    def __init__(self) -> None:
        super().__init__()
        self.a1, self.a2 = Counted(3, 5), Counted(5, 5)
        self.b1, self.b2 = Counted(3, 7), Counted(7, 7)
        self.shared = Counted(5, 5)

    def forward(self, x):
        a = self.a2(self.a1(x))
        b = self.b2(self.b1(x))
        a = self.shared(self.shared(a))  # runs twice
        return a.mean() + b.mean()


def _zero(model):
    for m in model.modules():
        if isinstance(m, Counted):
            m.runs = 0


def _report(model, layers, early_exit, **kw):
    sd = sdinterp.StaticDynamic(model, layers=layers, num_frames=8)
    _zero(model)  # forget the generic adapter's probe forward: count the run's forwards only
    return sd.attribute(
        make_planted_clips(8, size=16),
        n_pairs=8,
        batch_size=6,
        seed=1,
        show_progress=False,
        early_exit=early_exit,
        **kw,
    )


@pytest.mark.slow  # 17 s measured on 2 shared cores
@pytest.mark.parametrize("layers", [["s2"], ["input:s3"], ["s1", "s2"], [lambda m: m.s2]])
def test_deep_modules_skipped_and_numbers_unchanged(layers):
    torch.manual_seed(0)
    model = Deep().eval()
    layers = [l(model) if callable(l) else l for l in layers]
    full = _report(model, layers, early_exit=False)
    early = _report(model, layers, early_exit=True)  # counts only this run's forwards
    batches = 4  # 8 clips, 2 clips (6 forwards) per batch
    assert model.s1.runs == batches
    # Only the first forward (which learns how often each layer runs) reaches s3.
    assert model.s3.runs == 1
    assert early.to_json() == full.to_json()


def test_two_pathways_stop_when_both_fired():
    torch.manual_seed(0)
    model = TwoPath().eval()
    report = _report(model, ["a1", "b1"], early_exit=True)
    assert set(report.layers) == {"a1", "b1"}
    # b1 fires after a2 ran; b2 and shared never run after the first forward.
    assert model.b2.runs == 1 and model.shared.runs == 2 and model.a2.runs == 4


def test_repeated_module_is_still_refused_and_call_all_waits_for_every_call():
    torch.manual_seed(0)
    model = TwoPath().eval()
    adapter = sdinterp.adapt(model, num_frames=8)
    x = torch.randn(2, 3, 8, 16, 16)
    with LayerCapture(model, {"shared": adapter.resolve("shared")}) as cap:
        cap.run(lambda: model(x))
        with pytest.raises(CaptureError, match="ran 2 times"):
            cap.collect()
    import dataclasses

    info = dataclasses.replace(adapter.resolve("shared"), call="all")
    with LayerCapture(model, {"shared": info}) as cap:
        cap.run(lambda: model(x))
        first = cap.collect()["shared"]
        cap.run(lambda: model(x))
        assert cap.stopped_forwards == 1
        assert torch.equal(cap.collect()["shared"], first) and first.shape == (2, 10)


def test_capture_without_run_is_unchanged():
    torch.manual_seed(0)
    model = Deep().eval()
    adapter = sdinterp.adapt(model)
    infos = {"s1": adapter.resolve("s1")}
    _zero(model)
    with LayerCapture(model, infos) as cap:
        for _ in range(2):
            cap.reset()
            model(torch.randn(1, 3, 4, 8, 8))
            assert cap.collect()["s1"].shape == (1, 6)
    assert model.s3.runs == 2 and cap.stopped_forwards == 0
