"""VisTR adapter (adapters/vistr.py) against the VisTR stand-in (tests/seg_models/vistr.py: same
attribute paths, signatures and layouts as Epiphqny/VisTR; not the real code)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from sdinterp import StaticDynamic, adapt
from sdinterp.adapters.vistr import VisTRAdapter, masked_token_mean
from sdinterp.capture import LayerCapture
from sdinterp.errors import ReliabilityWarning
from sdinterp.testing import check_adapter
from seg_models.clips import clip_samples
from seg_models.vistr import build_vistr, nested_tensor_from_tensor_list

pytestmark = pytest.mark.usefixtures("single_thread")  # one torch thread per module (tests/conftest.py)

TINY = dict(num_frames=4, d_model=32, nhead=4, dim_feedforward=64, blocks=(1, 1, 1, 1), width=8)
NAMES = [f"encoder{k}" for k in range(1, 7)] + [f"decoder{k}" for k in range(1, 7)]


@pytest.fixture(scope="module")
def clips():
    return clip_samples(6, 3)


def test_published_vistr_layers_and_token_layout() -> None:
    with torch.device("meta"):  # VisTR-R50: 36 frames, d_model 384, 360 queries; shapes only
        model = build_vistr().eval()
    adapter = adapt(model)
    assert isinstance(adapter, VisTRAdapter) and list(adapter.layers()) == NAMES
    assert adapter.resolve("encoder1").module == "vistr.transformer.encoder.layers.0"
    assert adapter.resolve("decoder6").module == "vistr.transformer.decoder.layers.5"
    assert all(i.channels == 384 and i.call == "all" for i in adapter.layers().values())
    shapes = {}

    def keep(name: str, x: torch.Tensor) -> None:
        shapes[name] = tuple(x.shape)

    hooks = [
        model.get_submodule(i.module).register_forward_hook(lambda m, a, o, n=n: keep(n, o))
        for n, i in adapter.layers().items()
    ]
    with torch.no_grad():
        model(torch.empty(36, 3, 320, 416, device="meta"))
    for h in hooks:
        h.remove()
    for k in range(1, 7):  # sequence-first tokens (L, B, C): 36 * (320/32) * (416/32) encoder tokens, 360 queries
        assert shapes[f"encoder{k}"] == (36 * 10 * 13, 1, 384)
        assert shapes[f"decoder{k}"] == (360, 1, 384)


def test_encoder_tokens_pool_without_padding() -> None:
    torch.manual_seed(0)
    model = build_vistr(**TINY).eval()
    adapter = adapt(model)
    # three 64 x 96 frames and one 32 x 64 frame: the small one is padded in the NestedTensor
    frames = [torch.randn(3, 64, 96) for _ in range(3)] + [torch.randn(3, 32, 64)]
    nested = nested_tensor_from_tensor_list(frames)
    seen = {}
    pre = model.vistr.transformer.encoder.register_forward_pre_hook(
        lambda m, a, kw: seen.__setitem__("mask", kw["src_key_padding_mask"]), with_kwargs=True
    )
    out = model.vistr.transformer.encoder.layers[2].register_forward_hook(lambda m, a, o: seen.__setitem__("tokens", o))
    with torch.no_grad(), LayerCapture(model, {n: adapter.resolve(n) for n in ("encoder3", "decoder3")}) as cap:
        adapter.forward([nested])
        got = cap.collect()
    pre.remove()
    out.remove()
    mask, tokens = seen["mask"], seen["tokens"]
    assert mask.any() and not mask.all()  # some positions are padding
    keep = ~mask[0]
    torch.testing.assert_close(got["encoder3"], tokens[keep, 0].mean(0, keepdim=True))
    assert not torch.allclose(got["encoder3"], tokens.mean(0), atol=1e-4)  # padding would change it
    assert got["decoder3"].shape == (1, 32)
    x = torch.tensor([[[1.0]], [[3.0]], [[100.0]]])
    assert masked_token_mean(x, torch.tensor([[False, False, True]])).item() == 2.0
    assert masked_token_mean(x, None).item() == pytest.approx(104 / 3)


def test_one_clip_per_forward(clips) -> None:
    torch.manual_seed(0)
    model = build_vistr(**TINY).eval()
    adapter = adapt(model, short_side=48)
    inputs = adapter.prepare([adapter.views(c) for c in clips])
    assert [tuple(x.shape) for x in inputs] == [(4, 3, 48, 60)] * 3  # (T, 3, H, W), short side 48
    with pytest.raises(RuntimeError, match="one clip"):  # VisTRsegm takes batch 1
        model(torch.cat(inputs[:2]))
    with torch.no_grad(), LayerCapture(model, adapter.layers(), early_exit=False) as cap:
        cap.run(lambda: adapter.forward(inputs))
        together = cap.collect()
        singles = []
        for x in inputs:
            cap.run(lambda x=x: adapter.forward([x]))
            singles.append(cap.collect())
    for n in NAMES:
        torch.testing.assert_close(together[n], torch.cat([s[n] for s in singles]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="built for 4 frames"):
        VisTRAdapter(model, num_frames=8)
    with pytest.raises(ValueError, match="crop_size=32 does not apply to VisTR"):
        adapt(model, crop_size=32)
    # a raw module path (here the (T, d, h, w) input projection) is pooled per clip too
    with torch.no_grad(), LayerCapture(model, {"p": adapter.resolve("vistr.input_proj")}) as cap:
        adapter.forward(inputs)
        proj = cap.collect()["p"]
    assert proj.shape == (3, 32)


def test_conformance_and_clip_protocol_report_on_real_clips(clips) -> None:
    torch.manual_seed(0)
    plain = build_vistr(segm=False, **TINY).eval()  # a VisTR without the mask head
    adapter = adapt(plain, short_side=48)
    assert isinstance(adapter, VisTRAdapter) and adapter.resolve("encoder1").module == "transformer.encoder.layers.0"
    segm = adapt(build_vistr(**TINY).eval(), short_side=48)
    observed = check_adapter(segm, clips, n_pairs=2, batch_size=6)  # frame_shuffle / restyle
    assert observed == {n: 32 for n in NAMES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        report = StaticDynamic(adapter, layers=["encoder1", "encoder6", "decoder6"]).attribute(
            clips, n_pairs=3, batch_size=9, seed=3, show_progress=False
        )
    for n in ("encoder1", "encoder6", "decoder6"):
        assert report[n].n_units == 32 and np.isfinite(report[n].percent["dynamic"])
