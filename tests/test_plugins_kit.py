"""The public kit for plugin commands (sdinterp.cli_kit): the worked example of docs/plugins.md runs
as written, a kit-built command takes `report`'s flags with `report`'s defaults and checks, and every
command that ships as a plugin is built with it."""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
from pathlib import Path

import pytest

from _paths import VIDEOS
from sdinterp import cli_kit
from sdinterp.cli import build_parser, main
from sdinterp.plugin_manager import register_plugin, unregister_plugin

ROOT = Path(__file__).resolve().parents[1]
VIDEO = VIDEOS / "tree.avi"


def _example_source() -> str:
    text = (ROOT / "docs" / "plugins.md").read_text()
    marker = text.index("<!-- kit example: tests/test_plugins_kit.py")
    return re.search(r"```python\n(.*?)```", text[marker:], re.S).group(1)


@pytest.fixture()
def example_plugin(tmp_path):
    path = tmp_path / "kit_example_plugin.py"
    path.write_text(_example_source())
    spec = importlib.util.spec_from_file_location("kit_example_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    register_plugin(module, name="kit_example")
    yield module
    unregister_plugin("kit_example")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_worked_example_runs_as_written(example_plugin, tmp_path, capsys):
    out = tmp_path / "dyn.json"
    code = main(
        [
            "dyn-scores",
            "torchvision:r3d_18",
            str(VIDEO),
            "--layers",
            "stage1",
            "stage2",
            "--n-pairs",
            "4",
            "--batch-size",
            "4",
            "--clip-length",
            "8",
            "--frames",
            "4",
            "--crop-size",
            "32",
            "--quiet",
            "--json",
            str(out),
        ]
    )
    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split("\t")[0] for line in printed] == ["stage1", "stage2"]
    data = json.loads(out.read_text())
    assert data["model"] == "torchvision:r3d_18" and set(data["dynamic"]) == {"stage1", "stage2"}
    assert all(isinstance(v, float) for v in data["dynamic"].values())
    assert [float(line.split("\t")[1]) for line in printed] == pytest.approx(
        [round(data["dynamic"][k], 4) for k in ("stage1", "stage2")], abs=1e-4
    )


def test_worked_example_refuses_a_bad_flag_before_any_work(example_plugin, tmp_path, capsys):
    assert main(["dyn-scores", "torchvision:r3d_18", str(VIDEO), "--n-pairs", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sdinterp dyn-scores: error: --n-pairs must be a positive integer, got 0"]
    assert main(["dyn-scores", "torchvision:r3d_18", str(tmp_path / "missing.mp4")]) == 1
    assert f"input {tmp_path / 'missing.mp4'}: no such file or folder" in capsys.readouterr().err


def test_a_kit_command_has_reports_flags_and_defaults(example_plugin):
    commands = _subparsers(build_parser())
    report = {a.dest: a for a in commands["report"]._actions}
    mine = {a.dest: a for a in commands["dyn-scores"]._actions}
    shared = [
        n.replace("-", "_")
        for n in (
            *cli_kit.RUN_FLAGS,
            *cli_kit.CLIP_FLAGS,
            *cli_kit.MODEL_FLAGS,
            *cli_kit.PAIR_FLAGS,
            *cli_kit.OUTPUT_FLAGS,
        )
    ]
    for dest in shared:
        # report's defaults are replaced by a marker for --config; the real one is kept beside it
        saved = commands["report"].get_default("_config_defaults")[0]
        real = saved[dest][0] if dest in saved else report[dest].default  # --debug is no config key
        assert (
            mine[dest].option_strings,
            mine[dest].default,
            mine[dest].type,
            mine[dest].choices,
            mine[dest].help,
        ) == (report[dest].option_strings, real, report[dest].type, report[dest].choices, report[dest].help), dest


@pytest.mark.parametrize(
    "command, flags",
    [
        (
            "ablate",
            ("n_pairs", "batch_size", "seed", "protocol", "clip_length", "frames", "weights", "trust_weights", "json"),
        ),
        ("track", ("layers", "n_pairs", "batch_size", "seed", "protocol", "clip_length", "trust_weights", "json")),
        ("shuffle-test", ("n_pairs", "batch_size", "seed", "clip_length", "frames", "weights", "json")),
        (
            "fusion-study",
            ("n_pairs", "batch_size", "seed", "static_sampler", "dynamic_sampler", "restyler", "layers", "json"),
        ),
        ("twostream-train", ("seed",)),
    ],
)
def test_plugin_commands_are_built_with_the_kit(command, flags):
    """The shipped plugin commands take the shared flags from the kit (recorded by add_flags), with
    report's defaults; fusion-study's static sampler is flow_jitter (its inputs are (image, flow))."""
    parser = _subparsers(build_parser())[command]
    recorded = parser.get_default(cli_kit.checks.KIT_FLAGS)
    assert set(flags) <= set(recorded), set(flags) - set(recorded)
    assert parser.get_default("batch_size") == (8 if command == "twostream-train" else 12)
    assert parser.get_default("seed") == 0


def test_add_flags_refuses_an_unknown_name():
    with pytest.raises(KeyError, match="not a shared flag of this call: n_pairs"):
        cli_kit.add_flags(argparse.ArgumentParser(), "n_pairs")
    with pytest.raises(KeyError, match="batch-size"):
        cli_kit.add_flags(argparse.ArgumentParser(), "seed", defaults={"batch-size": 8})


def test_check_flags_checks_only_the_kits_flags():
    """A command's own --out FILE is not checked as report's --out folder."""
    parser = argparse.ArgumentParser()
    cli_kit.add_flags(parser, "seed")
    parser.add_argument("--out")
    cli_kit.check_flags(parser.parse_args(["--out", __file__]))  # an existing file: fine for this command
    kit_out = argparse.ArgumentParser()
    cli_kit.add_flags(kit_out, "out")
    with pytest.raises(cli_kit.UsageError, match="is a file; give a folder"):
        cli_kit.check_flags(kit_out.parse_args(["--out", __file__]))
