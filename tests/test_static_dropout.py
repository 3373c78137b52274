"""StaticDropout (plugins/static_dropout): exactly k channels per sample, drawn from p = softmax(S),
S the project's static unit score, re-estimated on schedule, identity in eval; in a plain PyTorch
loop and inside an MMEngine Runner built from a config file (a tiny MMAction2 Recognizer3D)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import stats

import _tiny_tasks as tt
import sdinterp
from sdinterp.plugins.static_dropout import StaticDropout, StaticDropoutFeeder, shuffle_frames

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

P = torch.tensor([0.30, 0.20, 0.15, 0.10, 0.10, 0.05, 0.05, 0.03, 0.01, 0.01])


def _with_probs(rate: float, probs: torch.Tensor = P, **kw) -> StaticDropout:
    drop = StaticDropout(rate=rate, **kw).train()
    drop.probs = probs.clone()
    return drop


@pytest.mark.parametrize("rate,k", [(0.3, 3), (0.25, 2), (0.05, 0), (0.5, 5)])
def test_drops_exactly_k_channels_per_sample_and_rescales(rate: float, k: int) -> None:
    torch.manual_seed(0)
    out = _with_probs(rate)(torch.ones(500, 10))
    assert ((out == 0).sum(dim=1) == k).all()
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - rate)))
    # (B, C, 1, 1, 1), as an MMAction2 head applies its dropout
    out5 = _with_probs(rate)(torch.ones(8, 10, 1, 1, 1))
    assert out5.shape == (8, 10, 1, 1, 1) and ((out5 == 0).flatten(1).sum(1) == k).all()
    assert torch.equal(_with_probs(rate, rescale=False)(torch.ones(4, 10)).unique(sorted=True)[-1], torch.tensor(1.0))


def test_dropped_channels_follow_p_chi_square() -> None:
    gen = torch.Generator().manual_seed(1)
    n = 20000
    one = _with_probs(0.1).drop_mask(n, 10, torch.device("cpu"), generator=gen)  # k = 1: one draw from p
    counts = (one == 0).sum(0).numpy()
    assert counts.sum() == n
    chi = stats.chisquare(counts, n * P.numpy())
    assert chi.pvalue > 1e-3, chi
    # A clearly different p is rejected by the same test (it has power).
    assert stats.chisquare(counts, n * np.full(10, 0.1)).pvalue < 1e-6
    # k = 2 without replacement: P(i dropped) = p_i + sum_{j != i} p_j p_i / (1 - p_j).
    two = _with_probs(0.2).drop_mask(n, 10, torch.device("cpu"), generator=gen)
    p = P.double().numpy()
    incl = np.array([p[i] + sum(p[j] * p[i] / (1 - p[j]) for j in range(10) if j != i) for i in range(10)])
    observed = (two == 0).sum(0).numpy()
    z = (observed - n * incl) / np.sqrt(n * incl * (1 - incl))
    assert np.abs(z).max() < 4.5, z
    # with replacement: at most k distinct, and P(i kept) = (1 - p_i)^k
    rep = _with_probs(0.3, replacement=True).drop_mask(n, 10, torch.device("cpu"), generator=gen)
    dropped = (rep == 0).sum(1)
    assert dropped.max() == 3 and dropped.min() >= 1 and (dropped < 3).any()
    keep = 1 - (1 - p) ** 3
    z = ((rep == 0).sum(0).numpy() - n * keep) / np.sqrt(n * keep * (1 - keep))
    assert np.abs(z).max() < 4.5, z


def test_identity_in_eval_and_uniform_before_any_estimate() -> None:
    x = torch.randn(6, 10)
    drop = _with_probs(0.5)
    assert torch.equal(drop.eval()(x), x)
    fresh = StaticDropout(rate=0.5).train()
    assert fresh.probs.numel() == 0 and ((fresh(torch.ones(3, 8)) == 0).sum(1) == 4).all()
    assert torch.equal(StaticDropout(rate=0.0).train()(x), x)


def test_probabilities_are_the_softmax_of_the_official_static_unit_scores() -> None:
    rng = np.random.default_rng(0)
    z1 = rng.normal(size=(40, 6))
    noise = np.array([0.05, 0.3, 1.0, 2.0, 0.5, 0.1])  # channel 0 nearly invariant to the shuffle
    z2 = z1 + rng.normal(size=(40, 6)) * noise
    drop = StaticDropout(rate=0.3, temperature=1.0)  # Eq. 4 as written (the default sharpens: T = 0.1)
    for lo in range(0, 40, 10):
        drop.observe(torch.tensor(z1[lo : lo + 10]), torch.tensor(z2[lo : lo + 10]))
    probs = drop.refresh()
    # the same estimator, run independently: these pairs as static pairs (and as dynamic ones, unused)
    ref = sdinterp.estimate(np.vstack([z1, z1]), np.vstack([z2, z2]), ["static"] * 40 + ["dynamic"] * 40)
    s = torch.tensor(ref.unit_scores["static"])
    torch.testing.assert_close(probs, torch.softmax(s, 0).float(), rtol=1e-5, atol=1e-7)
    assert int(probs.argmax()) == 0 and int(probs.argmin()) == 3
    sharpened = StaticDropout(rate=0.3)  # the default temperature, 0.1
    sharpened._recent = drop._recent
    torch.testing.assert_close(sharpened.refresh(), torch.softmax(s / 0.1, 0).float(), rtol=1e-5, atol=1e-7)


def test_shuffle_frames_permutes_each_clip_along_time() -> None:
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).view(2, 1, 3, 5, 1, 1).expand(2, 1, 3, 5, 2, 2)
    y = shuffle_frames(x, time_dim=-3, generator=torch.Generator().manual_seed(0))
    for b in range(2):
        assert sorted(y[b, 0, 0, :, 0, 0].tolist()) == sorted(x[b, 0, 0, :, 0, 0].tolist())
        # the same permutation for every channel and pixel of a clip
        order = [int(v) % 5 for v in y[b, 0, 0, :, 0, 0]]
        assert all(
            [int(v) % 5 for v in y[b, 0, c, :, i, j]] == order
            for c, i, j in itertools.product(range(3), range(2), range(2))
        )


@pytest.mark.parametrize("window,fed", [(None, 12), (1, 4)])
def test_plain_pytorch_loop_re_estimates_on_schedule(window, fed) -> None:
    clips = tt.make_clips("colour", 64, seed=2)  # 4 iterations per epoch, 3 epochs: 12 iterations
    net = tt.TinyNet()
    net.dropout = StaticDropout(rate=0.25, every=3, window=window)
    feeder = StaticDropoutFeeder(time_dim=2, seed=0)
    tt.train_model(clips, epochs=3, model=net, hook=feeder)
    assert net.dropout.refreshed_at == [0, 3, 6, 9]
    assert feeder.fed == fed  # window None = every batch since the last estimate; 1 = the batch just before it
    assert net.dropout.probs.shape == (16,) and not torch.allclose(net.dropout.probs, torch.full((16,), 1 / 16))
    x = tt.inputs_and_labels(tt.adapter_for(net), clips[:4])[0]
    assert torch.equal(net.eval()(x), net.fc(net.embed(x)))  # identity in eval: the model is unchanged


def test_trains_inside_an_mmengine_runner_from_a_config_file(tmp_path) -> None:
    pytest.importorskip("mmaction")
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = tt.mmaction_config(
        tmp_path / "work",
        epochs=1,
        imports=["sdinterp.plugins.static_dropout.mmengine_hook"],
        custom_hooks=[
            dict(
                type="StaticDropoutHook",
                replace="cls_head.dropout",
                dropout=dict(type="StaticDropout", rate=0.25, every=2),
            )
        ],
    )
    path = tmp_path / "tiny_recognizer.py"
    Config(cfg).dump(str(path))
    runner = Runner.from_cfg(Config.fromfile(str(path)))  # custom_imports registers StaticDropout and its hook
    head = runner.model.cls_head
    before = {k: v.clone() for k, v in head.state_dict().items()}
    runner.train()  # 24 clips in batches of 4: 6 iterations
    drop = head.dropout
    assert isinstance(drop, StaticDropout) and drop.refreshed_at == [0, 2, 4]
    assert drop.probs.shape == (32,) and torch.isclose(drop.probs.sum(), torch.tensor(1.0))
    assert any(not torch.equal(before[k], v) for k, v in head.state_dict().items())  # it trained
    assert (tmp_path / "work" / "epoch_1.pth").is_file()
    from mmengine.registry import MODELS

    assert MODELS.get("StaticDropout") is StaticDropout
