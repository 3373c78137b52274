"""StaticDropout's sharpening options (issue #22): with a temperature (or InfoDrop's power) the
channels drop as often as the sharpened distribution says (chi-square), with or without
replacement; the dropout can sit before the classifier or after a stage; and the paper's
dropout-free fine-tune leaves no dropout active."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from sdinterp.plugins.static_dropout import StaticDropout, StaticDropoutFeeder
from sdinterp.plugins.static_dropout.module import drop_probabilities
from sdinterp.plugins.tiny_models import TinyTask, build, train_tiny
from sdinterp.plugins.tiny_models.nets import place_dropout, strip_dropout
from sdinterp.plugins.tiny_models.train import finetune_without_dropout

pytestmark = pytest.mark.usefixtures("single_thread")

#: Static scores as close as a trained motion net's (issue #22: S in [0.37, 0.53]).
S = torch.tensor([0.53, 0.50, 0.47, 0.45, 0.43, 0.41, 0.40, 0.39, 0.38, 0.37])


def _estimated(temperature: float, sharpen: str = "softmax", **kw) -> StaticDropout:
    """A StaticDropout whose scores are S, estimated through its own refresh (not set by hand)."""
    drop = StaticDropout(rate=0.1, temperature=temperature, sharpen=sharpen, **kw)
    drop.observe(torch.zeros(1, 10), torch.zeros(1, 10))  # so that refresh has a window
    import sdinterp.plugins.static_dropout.module as module

    original = module.static_channel_scores
    module.static_channel_scores = lambda moments, scorer="official": S.double()
    try:
        drop.refresh(0)
    finally:
        module.static_channel_scores = original
    return drop.train()


def test_the_sharpened_probabilities_are_softmax_over_temperature_or_the_power():
    torch.testing.assert_close(drop_probabilities(S, 0.1), torch.softmax(S / 0.1, 0))
    w = ((1 + S.double()) / 2) ** (1 / 0.03)
    torch.testing.assert_close(drop_probabilities(S, 0.03, "power").double(), w / w.sum(), rtol=1e-6, atol=1e-9)
    # Eq. 4 as written barely selects; T = 0.1 spreads the same scores 4.9x apart, T = 0.03 200x
    ratio = [float(p.max() / p.min()) for p in (drop_probabilities(S), drop_probabilities(S, 0.1))]
    assert ratio[0] == pytest.approx(np.exp(0.16), rel=1e-5) and ratio[1] == pytest.approx(np.exp(1.6), rel=1e-5)
    assert torch.equal(drop_probabilities(torch.full((4,), -1.0), 0.1, "power"), torch.full((4,), 0.25))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        StaticDropout(temperature=0)
    with pytest.raises(ValueError, match="sharpen must be one of softmax, power"):
        StaticDropout(sharpen="cubic")


@pytest.mark.parametrize("temperature,sharpen", [(0.1, "softmax"), (0.03, "softmax"), (0.05, "power")])
def test_drop_frequencies_follow_the_sharpened_distribution_chi_square(temperature, sharpen):
    drop = _estimated(temperature, sharpen)
    p = drop_probabilities(S, temperature, sharpen).double().numpy()
    p /= p.sum()  # float32 probabilities sum to 1 within 1e-7; chisquare wants 1e-8
    np.testing.assert_allclose(drop.probs.double().numpy(), p, rtol=1e-5)
    n = 20000
    mask = drop.drop_mask(n, 10, torch.device("cpu"), generator=torch.Generator().manual_seed(3))  # k = 1
    counts = (mask == 0).sum(0).numpy()
    assert counts.sum() == n
    assert stats.chisquare(counts, n * p).pvalue > 1e-3
    # the power of the test: Eq. 4 without the temperature is rejected on the same draws
    unsharpened = drop_probabilities(S).double().numpy()
    unsharpened /= unsharpened.sum()
    assert stats.chisquare(counts, n * unsharpened).pvalue < 1e-6


def test_with_replacement_each_channel_is_kept_with_probability_one_minus_p_to_the_k():
    drop = _estimated(0.1, replacement=True)
    drop.rate = 0.3  # k = 3 draws with replacement
    n = 20000
    mask = drop.drop_mask(n, 10, torch.device("cpu"), generator=torch.Generator().manual_seed(4))
    p = drop_probabilities(S, 0.1).double().numpy()
    expected = 1 - (1 - p) ** 3
    observed = (mask == 0).sum(0).numpy()
    z = (observed - n * expected) / np.sqrt(n * expected * (1 - expected))
    assert np.abs(z).max() < 4.5, z
    assert (mask == 0).sum(1).min() >= 1 and ((mask == 0).sum(1) < 3).any()  # repeats: fewer than k distinct


def test_dropout_placement_and_the_fine_tune_leaves_no_dropout_active():
    task = TinyTask(arch="i3d", kind="shortcut", train_videos=16, val_videos=4, epochs=1, batch_size=8)
    net = build("i3d", classes=2)
    keys = set(net.state_dict())
    place_dropout(net, StaticDropout(rate=0.5, every=1, temperature=0.1))
    place_dropout(net, nn.Dropout(0.5), layer="stage2")
    with pytest.raises(ValueError, match="dropout layer must be 'head' or one of stage1, stage2, stage3"):
        place_dropout(net, nn.Dropout(0.5), layer="stage9")
    net = train_tiny(task, 0, hook=StaticDropoutFeeder(seed=0), model=net)
    assert net.dropout.refreshed_at == [0, 1]  # fed and re-estimated before every step
    x = torch.randn(4, 3, 8, 32, 32)
    net.train()
    assert not torch.equal(net(x), net(x))  # dropout is active in training mode
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net = finetune_without_dropout(net, task, seed=0, epochs=1, lr=1e-3)
    assert strip_dropout(net) == 0  # nothing left to remove
    assert not any(isinstance(m, (nn.Dropout, StaticDropout)) for m in net.modules())
    net.train()
    torch.testing.assert_close(net(x), net(x))  # training mode, batch norm on batch statistics: deterministic
    assert set(net.state_dict()) == keys  # the fine-tuned net loads into a plain one
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items())  # it did train
