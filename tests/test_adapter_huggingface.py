"""The Hugging Face ``transformers`` adapter (VideoMAE, TimeSformer, ViViT, V-JEPA 2) on tiny configs.

Every test runs with the network blocked (``socket.connect`` raises and records the attempt) and
``HF_HUB_OFFLINE=1``: models are built from their config classes or read from ``save_pretrained``
folders in ``tmp_path``, never from the hub.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from _paths import VIDEOS

pytest.importorskip("transformers")

import sdinterp
from _ar_helpers import capture_all
from sdinterp.adapters.huggingface import (
    HF_MODELS,
    HuggingFaceVideoAdapter,
    build_huggingface,
    sdinterp_load_model,
)
from sdinterp.cli import main
from sdinterp.errors import UnsupportedModelError
from sdinterp.testing import check_adapter

REPO = Path(__file__).resolve().parents[1]

# Tiny runs are meant to be unreliable; the pipeline's warnings about it are not under test here.
pytestmark = [
    pytest.mark.usefixtures("single_thread"),  # one torch thread (tests/conftest.py)
    pytest.mark.filterwarnings(r"ignore:n_pairs=\d+ is below"),
    pytest.mark.filterwarnings(r"ignore:\d+ of the \d+ clips are used"),
]

#: The model types this transformers provides (all four in 5.23.0).
TYPES = [t for t in HF_MODELS if importlib.util.find_spec(f"transformers.models.{t}") is not None]

# Tiny configs: 2 layers of width 32, 4 frames of 32x32 px in 8x8 patches (2-frame tubelets).
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}
TINY_EXTRA: dict[str, dict[str, Any]] = {
    "videomae": {"patch_size": 8, "intermediate_size": 64},
    "timesformer": {"patch_size": 8, "intermediate_size": 64},
    "vivit": {"tubelet_size": [2, 8, 8], "intermediate_size": 64},
    "vjepa2": {
        "patch_size": 8,
        "pred_hidden_size": 32,
        "pred_num_hidden_layers": 1,
        "pred_num_attention_heads": 2,
        "num_pooler_layers": 1,
    },
}
PROCESSORS = {
    "videomae": "VideoMAEVideoProcessor",
    "timesformer": "TimesformerVideoProcessor",
    "vivit": "VivitVideoProcessor",
    "vjepa2": "VJEPA2VideoProcessor",
}
PREFIX = {"videomae": "videomae.", "timesformer": "timesformer.", "vivit": "vivit.", "vjepa2": "vjepa2."}
BLOCKS = {"videomae": "encoder.layer", "timesformer": "encoder.layer", "vivit": "layers", "vjepa2": "encoder.layer"}
EMBED = {"videomae": "embeddings", "timesformer": "embeddings", "vivit": "embeddings", "vjepa2": "encoder.embeddings"}


def tiny_config(model_type: str) -> dict[str, Any]:
    return {**TINY, **TINY_EXTRA[model_type]}


def tiny(model_type: str, **options: Any) -> HuggingFaceVideoAdapter:
    """A randomly initialised tiny model (seeded, so every call builds the same weights)."""
    torch.manual_seed(0)
    return build_huggingface(model_type, num_frames=4, crop_size=32, config=tiny_config(model_type), **options)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Block and record every connection attempt; tell huggingface_hub it is offline."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError(f"network access blocked in tests (attempted {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return attempts


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    """Synthetic uint8 clips (N, T, H, W, 3): a textured square moving over a noisy background."""
    rng = np.random.default_rng(0)
    out = rng.integers(0, 60, (6, 8, 40, 48, 3), dtype=np.uint8)
    for n in range(out.shape[0]):
        colour = rng.integers(100, 256, 3, dtype=np.uint8)
        for t in range(out.shape[1]):
            y, x = 4 + (n + t) % 20, 4 + 2 * t
            out[n, t, y : y + 12, x : x + 12] = colour
    return out


def samples_of(clips: np.ndarray, n: int = 2) -> list[sdinterp.Sample]:
    return [sdinterp.Sample(frames=c, video_id=f"clip{i}") for i, c in enumerate(clips[:n])]


@pytest.mark.parametrize("model_type", TYPES)
def test_layers_and_conformance(model_type: str, clips: np.ndarray) -> None:
    adapter = tiny(model_type)
    assert adapter.family == "huggingface" and type(adapter.model).__name__ == HF_MODELS[model_type].classifier
    layers = adapter.layers()
    assert list(layers) == ["embed", "block0", "block1"]
    prefix = PREFIX[model_type]
    assert layers["embed"].module == prefix + EMBED[model_type]
    assert [layers[f"block{k}"].module for k in (0, 1)] == [f"{prefix}{BLOCKS[model_type]}.{k}" for k in (0, 1)]
    assert {i.channels for i in layers.values()} == {32} and {i.pooling for i in layers.values()} == {"tokens"}
    assert check_adapter(adapter, samples_of(clips, 3), n_pairs=2, batch_size=6) == {
        "embed": 32,
        "block0": 32,
        "block1": 32,
    }
    described = adapter.describe()
    assert described["model_type"] == model_type and described["source"] == "random init"
    assert (described["num_frames"], described["crop_size"]) == (4, 32)
    assert len(described["mean"]) == 3 and len(described["std"]) == 3


@pytest.mark.parametrize("model_type", TYPES)
def test_layers_are_the_models_hidden_states_token_means(model_type: str, clips: np.ndarray) -> None:
    """``embed``/``blockK`` = ``hidden_states[0]``/``hidden_states[K + 1]``, averaged over every token (CLS too)."""
    adapter = tiny(model_type)
    x = adapter.prepare([adapter.views(s) for s in samples_of(clips)])
    assert x.shape == (2, 4, 3, 32, 32)  # (B, T, 3, H, W), the layout of pixel_values
    feats = capture_all(adapter, samples_of(clips))
    with torch.no_grad():
        hidden = adapter.model(**{HF_MODELS[model_type].input_name: x}, output_hidden_states=True).hidden_states
    assert len(hidden) == 3
    for k, name in enumerate(["embed", "block0", "block1"]):
        torch.testing.assert_close(feats[name], hidden[k].float().mean(dim=1))


@pytest.mark.parametrize("model_type", TYPES)
def test_preprocessing_matches_the_video_processor(model_type: str, clips: np.ndarray) -> None:
    """Resize, crop and normalisation agree with the model's transformers video processor (built from
    its class defaults, nothing loaded) to within one grey level of resampling difference."""
    adapter = tiny(model_type)
    module = importlib.import_module(f"transformers.models.{model_type}")
    kwargs: dict[str, Any] = {
        "size": {"shortest_edge": adapter.clip.short_side},
        "crop_size": {"height": 32, "width": 32},
    }
    if model_type == "vjepa2":
        kwargs = {"crop_size": 32}  # its processor derives the short side as int(crop * 256 / 224)
    if model_type == "videomae":
        # Deliberate: VideoMAEVideoProcessor defaults to 0.5/0.5, the model is trained on ImageNet statistics.
        kwargs.update(image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    processor = getattr(module, PROCESSORS[model_type])(**kwargs)
    frames = [c for c in clips[:2, :4]]
    expected = processor(frames, return_tensors="pt")
    expected = expected.get("pixel_values", expected.get("pixel_values_videos"))
    got = adapter.prepare([adapter.views(sdinterp.Sample(frames=f)) for f in frames])
    assert got.shape == expected.shape
    one_level = 1.0 / (255.0 * min(adapter.clip.std))
    torch.testing.assert_close(got, expected.float(), atol=one_level + 1e-4, rtol=0)


def test_vivit_offset_normalisation_is_exact() -> None:
    """ViViT's processor maps x to (x / 127.5 - 1 - 0.5) / 0.5 = x / 63.75 - 3: mean 0.75, std 0.25 here."""
    clip = tiny("vivit").clip
    assert clip.mean == pytest.approx((0.75,) * 3) and clip.std == pytest.approx((0.25,) * 3)
    assert clip.short_side == 32 * 256 // 224


@pytest.mark.parametrize("model_type", TYPES)
def test_save_pretrained_folder_round_trip(
    model_type: str, clips: np.ndarray, tmp_path: Path, no_network: list
) -> None:
    built = tiny(model_type)
    built.model.save_pretrained(tmp_path / "model")
    loaded = sdinterp.load_model(f"hf:{tmp_path / 'model'}")
    assert isinstance(loaded, HuggingFaceVideoAdapter) and type(loaded.model) is type(built.model)
    assert loaded.clip == built.clip and loaded.source == str(tmp_path / "model")
    a, b = capture_all(built, samples_of(clips)), capture_all(loaded, samples_of(clips))
    assert all(torch.equal(a[n], b[n]) for n in a)
    # The bare encoder saved on its own loads as the backbone class, with the same features.
    built.model.base_model.save_pretrained(tmp_path / "backbone")
    backbone = sdinterp.load_model(f"hf:{tmp_path / 'backbone'}")
    assert type(backbone.model).__name__ == HF_MODELS[model_type].backbone
    assert backbone.layers()["block0"].module == f"{BLOCKS[model_type]}.0"
    c = capture_all(backbone, samples_of(clips))
    assert all(torch.equal(a[n], c[n]) for n in a)
    assert no_network == []


def test_folder_size_is_fixed_and_refusals_name_the_native_size(tmp_path: Path) -> None:
    tiny("timesformer").model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"takes 4 frames \(num_frames=4\); num_frames=8"):
        sdinterp.load_model(f"hf:{tmp_path}", num_frames=8)
    with pytest.raises(ValueError, match=r"takes 32x32 frames \(image_size=32\); crop_size=64"):
        sdinterp.load_model(f"hf:{tmp_path}", crop_size=64)
    with pytest.raises(ValueError, match="apply to models built from a config"):
        sdinterp.load_model(f"hf:{tmp_path}", config={"num_hidden_layers": 1})
    # short_side only changes the resize, so any value is honoured.
    assert sdinterp.load_model(f"hf:{tmp_path}", short_side=40).clip.short_side == 40


def test_vjepa2_takes_any_clip_length_from_a_folder(tmp_path: Path, clips: np.ndarray) -> None:
    tiny("vjepa2").model.save_pretrained(tmp_path)
    adapter = sdinterp.load_model(f"hf:{tmp_path}", num_frames=8)  # rotary positions: no embedding to resize
    assert adapter.clip.num_frames == 8
    assert capture_all(adapter, samples_of(clips))["block1"].shape == (2, 32)
    with pytest.raises(ValueError, match="multiple of the tubelet length 2"):
        sdinterp.load_model(f"hf:{tmp_path}", num_frames=5)


def test_processor_saved_beside_the_model_sets_the_normalisation(tmp_path: Path) -> None:
    module = importlib.import_module("transformers.models.timesformer")
    built = tiny("timesformer")
    built.model.save_pretrained(tmp_path)
    module.TimesformerVideoProcessor(image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25]).save_pretrained(tmp_path)
    loaded = sdinterp.load_model(f"hf:{tmp_path}")
    assert loaded.clip.mean == pytest.approx((0.5,) * 3) and loaded.clip.std == pytest.approx((0.25,) * 3)
    vivit = tmp_path / "vivit"
    tiny("vivit").model.save_pretrained(vivit)
    importlib.import_module("transformers.models.vivit").VivitVideoProcessor().save_pretrained(vivit)
    assert sdinterp.load_model(f"hf:{vivit}").clip.mean == pytest.approx((0.75,) * 3)


def test_pretraining_checkpoint_loads_as_the_backbone(tmp_path: Path, clips: np.ndarray) -> None:
    module = importlib.import_module("transformers.models.videomae")
    config = module.VideoMAEConfig(num_frames=4, image_size=32, **tiny_config("videomae"))
    torch.manual_seed(0)
    pretraining = module.VideoMAEForPreTraining(config)
    with pytest.raises(UnsupportedModelError, match="load VideoMAEModel"):
        sdinterp.adapt(pretraining)
    pretraining.save_pretrained(tmp_path)
    loaded = sdinterp.load_model(f"hf:{tmp_path}")
    assert type(loaded.model).__name__ == "VideoMAEModel"
    encoder = pretraining.videomae.state_dict()
    assert all(torch.equal(v, encoder[k]) for k, v in loaded.model.state_dict().items())


def test_random_init_follows_the_torch_seed() -> None:
    def weights(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        return list(
            build_huggingface("vivit", num_frames=4, crop_size=32, config=tiny_config("vivit"))
            .model.state_dict()
            .values()
        )

    first, again, other = weights(1), weights(1), weights(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


@pytest.mark.parametrize("model_type", TYPES)
def test_report_on_a_synthetic_clip_array(model_type: str, clips: np.ndarray) -> None:
    adapter = tiny(model_type)
    report = sdinterp.StaticDynamic(adapter).attribute(clips, n_pairs=6, batch_size=9, seed=0, show_progress=False)
    assert list(report.layers) == ["embed", "block0", "block1"]
    for bias in report.layers.values():
        assert bias.n_units == 32
        assert all(np.isfinite(v) for v in bias.scores.values())
        assert 0 <= bias.dynamic_percent + bias.static_percent <= 100


def test_building_and_loading_never_touch_the_network(tmp_path: Path, no_network: list, clips: np.ndarray) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    adapter = sdinterp.load_model("hf:videomae", num_frames=4, crop_size=32, config=tiny_config("videomae"))
    adapter.model.save_pretrained(tmp_path)
    again = sdinterp.load_model(f"hf:{tmp_path}")
    capture_all(again, samples_of(clips))
    with pytest.raises(OSError, match="network access blocked"):  # the block is really in place
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    assert no_network == [("127.0.0.1", 9)]


def test_spec_config_overrides_and_options() -> None:
    adapter = sdinterp.load_model(
        "hf:vivit:hidden_size=32,num_hidden_layers=1,num_attention_heads=2,intermediate_size=64,tubelet_size=[2,8,8]",
        num_frames=4,
        crop_size=32,
        short_side=48,
    )
    assert list(adapter.layers()) == ["embed", "block0"]
    assert adapter.model.config.tubelet_size == [2, 8, 8] and adapter.model.config.num_frames == 4
    assert (adapter.clip.num_frames, adapter.clip.crop_size, adapter.clip.short_side) == (4, 32, 48)
    custom = tiny("timesformer", mean=(0.4, 0.4, 0.4), std=(0.2, 0.2, 0.2))
    assert custom.clip.mean == pytest.approx((0.4,) * 3) and custom.clip.std == pytest.approx((0.2,) * 3)


def test_clear_refusals() -> None:
    with pytest.raises(UnsupportedModelError, match="supported: videomae, timesformer, vivit, vjepa2"):
        sdinterp.load_model("hf:resnet")
    with pytest.raises(ValueError, match="has no field"):
        sdinterp.load_model("hf:videomae:no_such_field=1")
    with pytest.raises(ValueError, match="multiple of the tubelet length 2"):
        build_huggingface("videomae", num_frames=5, crop_size=32, config=tiny_config("videomae"))
    with pytest.raises(ValueError, match="patch size 8"):
        build_huggingface("timesformer", num_frames=4, crop_size=36, config=tiny_config("timesformer"))
    with pytest.raises(FileNotFoundError, match="not a folder holding config.json"):
        sdinterp.load_model("hf:./no/such/folder")
    assert sdinterp_load_model("torchvision:r3d_18", {}) is None  # other families' specs are left alone


def test_adapt_hook_recognises_built_models_only() -> None:
    model = tiny("timesformer").model
    adapter = sdinterp.adapt(model)
    assert isinstance(adapter, HuggingFaceVideoAdapter) and adapter.clip.num_frames == 4
    with pytest.raises(ValueError, match="takes 4 frames"):
        sdinterp.adapt(model, num_frames=8)
    assert not isinstance(sdinterp.adapt(torch.nn.Conv3d(3, 4, 1)), HuggingFaceVideoAdapter)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_file_loads_into_the_built_model(suffix: str, tmp_path: Path, clips: np.ndarray) -> None:
    source = tiny("videomae")
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(source.model.state_dict(), str(path))
    else:
        torch.save(source.model.state_dict(), path)
    torch.manual_seed(123)  # other random weights, replaced by the file's
    loaded = sdinterp.load_model(
        "hf:videomae", weights=str(path), num_frames=4, crop_size=32, config=tiny_config("videomae")
    )
    a, b = capture_all(source, samples_of(clips)), capture_all(loaded, samples_of(clips))
    assert all(torch.equal(a[n], b[n]) for n in a) and loaded.source == f"weights {path}"


def test_cli_layers_in_a_subprocess() -> None:
    spec = "hf:videomae:hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "sdinterp", "layers", spec],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "huggingface adapter for VideoMAEForVideoClassification: 3 canonical layers" in run.stdout
    assert "block1  videomae.encoder.layer.1  32        rgb     tokens" in run.stdout


def test_cli_report_on_a_real_clip(capsys: pytest.CaptureFixture[str]) -> None:
    spec = "hf:timesformer:hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64,patch_size=8"
    code = main(
        [
            "report",
            spec,
            str(VIDEOS / "tree.avi"),
            "--frames",
            "4",
            "--crop-size",
            "32",
            "--n-pairs",
            "4",
            "--batch-size",
            "6",
            "--clip-length",
            "8",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "model:    hf:timesformer" in out and "block1" in out
