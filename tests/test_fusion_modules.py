"""Fusion and cross-connection modules (paper Eq. 5–8; docs/method.md §6): shapes, the formulas on
hand-made tensors (checked against independent numpy transcriptions of the spec), gating on/off,
and registration by name (built-ins and a third party's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdinterp.plugins.fusion import (
    CoAttentionCross,
    ConvexGatedFusion,
    GatedFusion,
    build_cross,
    build_fusion,
    co_attention,
    component_names,
)

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _conv7(maps: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Cross-correlation of (B, K, H, W) maps with a (K, 7, 7) kernel, zero padding 3 -> (B, H, W)."""
    b, k, h, w = maps.shape
    padded = np.pad(maps, ((0, 0), (0, 0), (3, 3), (3, 3)))
    out = np.zeros((b, h, w))
    for i in range(h):
        for j in range(w):
            out[:, i, j] = (padded[:, :, i : i + 7, j : j + 7] * kernel[None]).sum(axis=(1, 2, 3))
    return out


def _set(module: torch.nn.Module, rng: np.random.Generator) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(rng.normal(0, 0.7, p.shape)).to(p.dtype))


def _inputs(rng, b=2, c=4, h=5, w=6):
    return (
        torch.from_numpy(rng.normal(size=(b, c, h, w))).double(),
        torch.from_numpy(rng.normal(size=(b, c, h, w))).double(),
    )


# -- gated fusion -------------------------------------------------------------------------------
def test_gated_fusion_output_has_twice_the_stream_channels():
    # method.md §6: O = U + V with U = U_a ⊕ U_m, 2c channels; §8: "the gated outputs have twice the channels".
    for c in (4, 16, 64):
        fuse = GatedFusion(c)
        out = fuse(torch.rand(2, c, 7, 9), torch.rand(2, c, 7, 9))
        assert fuse.out_channels == 2 * c and out.shape == (2, 2 * c, 7, 9)


@pytest.mark.parametrize("global_gate", [True, False])
def test_gated_fusion_matches_the_spec_formula(global_gate):
    rng = np.random.default_rng(1)
    fuse = GatedFusion(4, reduction=2, global_gate=global_gate).double()
    _set(fuse, rng)
    fuse.spatial_bn.running_mean.fill_(0.1)
    fuse.spatial_bn.running_var.fill_(4.0)
    fuse.eval()
    ua, um = _inputs(rng)
    got = fuse(ua, um).detach().numpy()

    u = np.concatenate([ua.numpy(), um.numpy()], axis=1)
    p = {k: v.detach().numpy() for k, v in fuse.named_parameters()}
    e = np.maximum(u.mean(axis=(2, 3)) @ p["squeeze.weight"].T + p["squeeze.bias"], 0)
    a_c = _sig(e @ p["excite.weight"].T + p["excite.bias"])
    u1 = a_c[:, :, None, None] * u
    conv = _conv7(u1.max(axis=1, keepdims=True), p["spatial.weight"][0])
    a_sp = (conv - 0.1) / np.sqrt(4.0 + fuse.spatial_bn.eps) * p["spatial_bn.weight"][0] + p["spatial_bn.bias"][0]
    v = a_sp[:, None] * u1
    if global_gate:
        v = _sig(e @ p["gate.weight"].T + p["gate.bias"])[:, :, None, None] * v
    np.testing.assert_allclose(got, u + v, rtol=1e-10, atol=1e-12)


def test_gated_fusion_paper_form_is_eq8():
    # Eq. 8: Z = A_sp ∘ Z + Z with Z = A_c ∘ U and a sigmoid spatial map, no global gate.
    rng = np.random.default_rng(2)
    code = GatedFusion(4, reduction=2).double().eval()
    paper = GatedFusion(4, reduction=2, global_gate=False, spatial_sigmoid=True, residual="attended").double().eval()
    _set(code, rng)
    paper.load_state_dict({k: v for k, v in code.state_dict().items() if not k.startswith("gate.")})
    ua, um = _inputs(rng)
    u = torch.cat([ua, um], 1)
    e = torch.relu(paper.squeeze(u.mean((2, 3))))
    z = torch.sigmoid(paper.excite(e))[:, :, None, None] * u
    a_sp = torch.sigmoid(paper.spatial_bn(paper.spatial(z.amax(1, keepdim=True))))
    torch.testing.assert_close(paper(ua, um), a_sp * z + z)
    assert not torch.allclose(paper(ua, um), code(ua, um))


def test_gated_fusion_global_gate_scales_the_attended_term():
    rng = np.random.default_rng(3)
    gated = GatedFusion(4, reduction=2).double().eval()
    _set(gated, rng)
    plain = GatedFusion(4, reduction=2, global_gate=False).double().eval()
    plain.load_state_dict({k: v for k, v in gated.state_dict().items() if not k.startswith("gate.")})
    with torch.no_grad():
        gated.gate.weight.zero_()
        gated.gate.bias.zero_()  # σ(0) = 0.5: V is halved
    ua, um = _inputs(rng)
    u = torch.cat([ua, um], 1)
    torch.testing.assert_close(gated(ua, um) - u, 0.5 * (plain(ua, um) - u))


# -- convex-combination gated fusion ---------------------------------------------------------------
@pytest.mark.parametrize("form", ["sum", "cat"])
def test_convex_gated_fusion_matches_the_spec_formula(form):
    rng = np.random.default_rng(4)
    fuse = ConvexGatedFusion(4, reduction=2, form=form).double().eval()
    _set(fuse, rng)
    ua, um = _inputs(rng)
    got = fuse(ua, um).detach().numpy()
    a, m = ua.numpy(), um.numpy()
    p = {k: v.detach().numpy() for k, v in fuse.named_parameters()}
    gap = np.concatenate([a, m], 1).mean(axis=(2, 3))
    f = _sig(np.maximum(gap @ p["fc1.weight"].T + p["fc1.bias"], 0) @ p["fc2.weight"].T + p["fc2.bias"])[
        :, :, None, None
    ]
    za, zm = f * a, (1 - f) * m
    maps = np.stack([za.mean(1), za.max(1), zm.mean(1), zm.max(1)], axis=1)
    x = _sig(_conv7(maps, p["spatial.weight"][0]))[:, None]
    want = x * za + (1 - x) * zm if form == "sum" else np.concatenate([x * za, (1 - x) * zm], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert got.shape[1] == fuse.out_channels == (4 if form == "sum" else 8)


def test_convex_weights_sum_to_one():
    # Eq. 5 and 7 weigh the streams by f, 1 - f and x, 1 - x: the two halves of the concatenating form
    # are exactly the two summands of the summing form.
    rng = np.random.default_rng(5)
    s = ConvexGatedFusion(4, reduction=2, form="sum").double().eval()
    _set(s, rng)
    c = ConvexGatedFusion(4, reduction=2, form="cat").double().eval()
    c.load_state_dict(s.state_dict())
    ua, um = _inputs(rng)
    cat = c(ua, um)
    torch.testing.assert_close(cat[:, :4] + cat[:, 4:], s(ua, um))


# -- cross connections ------------------------------------------------------------------------
def test_co_attention_matches_explicit_sums():
    rng = np.random.default_rng(6)
    s_a, s_b = (torch.from_numpy(rng.normal(size=(1, 3, 2, 2))) for _ in range(2))
    k_a, k_b = (torch.from_numpy(rng.normal(size=(1, 2, 2, 2))) for _ in range(2))
    z_a, z_b = co_attention(s_a, s_b, k_a, k_b)
    va, vb = s_a.numpy().reshape(3, 4), s_b.numpy().reshape(3, 4)
    ka, kb = k_a.numpy().reshape(2, 4), k_b.numpy().reshape(2, 4)
    affinity = np.tanh(
        np.array([[kb[:, i] @ ka[:, j] for j in range(4)] for i in range(4)])
    )  # A[i, j], i motion, j appearance
    want_a = np.array([[sum(vb[ch, i] * affinity[i, j] for i in range(4)) for j in range(4)] for ch in range(3)])
    want_b = np.array([[sum(va[ch, j] * affinity[i, j] for j in range(4)) for i in range(4)] for ch in range(3)])
    want_a /= np.linalg.norm(want_a, axis=0, keepdims=True)
    want_b /= np.linalg.norm(want_b, axis=0, keepdims=True)
    np.testing.assert_allclose(z_a.numpy().reshape(3, 4), want_a, rtol=1e-10)
    np.testing.assert_allclose(z_b.numpy().reshape(3, 4), want_b, rtol=1e-10)


@pytest.mark.parametrize("gated", [False, True])
def test_unidirectional_motion_ignores_appearance_bidirectional_does_not(gated):
    rng = np.random.default_rng(7)
    xa, xm = _inputs(rng, b=1, c=16, h=4, w=4)
    other = xa + torch.from_numpy(rng.normal(size=xa.shape))
    for direction in ("unidirectional", "bidirectional"):
        torch.manual_seed(0)
        cross = CoAttentionCross(16, direction, gated=gated, cascades=3).double().eval()
        (a1, m1), (a2, m2) = cross(xa, xm), cross(other, xm)
        assert a1.shape == xa.shape and m1.shape == xm.shape
        assert not torch.allclose(a1, a2)
        # motion reaches the appearance stream in both directions (through the affinity)
        assert not torch.allclose(a1, cross(xa, xm + torch.from_numpy(rng.normal(size=xm.shape)))[0])
        if direction == "unidirectional" and not gated:
            torch.testing.assert_close(m1, m2)  # motion → appearance only
        elif direction == "bidirectional":
            assert not torch.allclose(m1, m2)


def test_one_cascade_formula_and_gate():
    rng = np.random.default_rng(8)
    xa, xm = _inputs(rng, b=1, c=16, h=3, w=3)
    torch.manual_seed(1)
    plain = CoAttentionCross(16, "bidirectional", gated=False, cascades=1).double().eval()
    gated = CoAttentionCross(16, "bidirectional", gated=True, cascades=1).double().eval()
    gated.load_state_dict(
        {**plain.state_dict(), **{k: v for k, v in gated.state_dict().items() if k.startswith("gate.")}}
    )
    s_a = xa * torch.softmax(plain.self_att_a(xa).flatten(2), -1).view(1, 1, 3, 3)
    s_b = xm * torch.softmax(plain.self_att_b(xm).flatten(2), -1).view(1, 1, 3, 3)
    z_a, z_b = co_attention(s_a, s_b, plain.key_a(s_a), plain.key_b(s_b))
    out_a, out_m = plain(xa, xm)
    torch.testing.assert_close(out_a, torch.relu(z_b + xa))
    torch.testing.assert_close(out_m, torch.relu(z_a + xm))
    with torch.no_grad():  # gate g = σ(0) = 0.5 everywhere: each term becomes 1.5 t
        gated.gate.weight.zero_()
        gated.gate.bias.zero_()
    ga, gm = gated(xa, xm)
    torch.testing.assert_close(ga, torch.relu(1.5 * z_b + xa))
    torch.testing.assert_close(gm, torch.relu(1.5 * z_a + xm))


# -- registration ---------------------------------------------------------------------------------
def test_every_name_is_registered_and_builds():
    assert {"gated", "convex_gated", "convex_gated_cat"} <= set(component_names("fusion"))
    assert {"unidirectional", "bidirectional", "unidirectional_gated", "bidirectional_gated"} <= set(
        component_names("cross")
    )
    widths = {"gated": 32, "convex_gated": 16, "convex_gated_cat": 32}
    for name, out in widths.items():
        m = build_fusion(f"fusion:{name}", 16)
        assert m.out_channels == out and m(torch.rand(2, 16, 4, 4), torch.rand(2, 16, 4, 4)).shape == (2, out, 4, 4)
    for name in ("unidirectional", "bidirectional", "unidirectional_gated", "bidirectional_gated"):
        m = build_cross(f"cross:{name}", 16, cascades=1)
        assert m.direction == name.split("_")[0] and (m.gate is not None) == name.endswith("_gated")
    from sdinterp.errors import UnknownComponentError

    with pytest.raises(UnknownComponentError, match="gated"):
        build_fusion("fusion:gatd", 16)


def test_a_third_party_fusion_is_usable_by_name_and_in_model_specs():
    from torch import nn

    from sdinterp import hookimpl
    from sdinterp.plugin_manager import register_plugin, unregister_plugin

    class SumFusion(nn.Module):
        def __init__(self, channels: int):
            super().__init__()
            self.out_channels = channels

        def forward(self, u_a, u_m):
            return u_a + u_m

    class Plugin:
        @hookimpl
        def sdinterp_register(self, registry):
            registry.add("fusion", "plain_sum", SumFusion)

    register_plugin(Plugin(), name="test-sum-fusion")
    try:
        assert build_fusion("fusion:plain_sum", 8).out_channels == 8
        from sdinterp.plugins.twostream.spec import build_model

        net = build_model("twostream:plain_sum-none-r18-w8")
        assert isinstance(net.fusion3, SumFusion) and net.fusion3.out_channels == 16
    finally:
        unregister_plugin("test-sum-fusion")
