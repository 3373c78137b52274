"""Plugins add CLI subcommands through the registry (kind ``command``); a broken one never takes
the command line down, and a plugin cannot replace a built-in command."""

from __future__ import annotations

import argparse

import pytest

from sdinterp import cli, hookimpl
from sdinterp.plugin_manager import get_registry, register_plugin, unregister_plugin


def _hello(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hello", help="say hello (test plugin)")
    p.add_argument("--name", default="world")
    p.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)


def _broken(sub: argparse._SubParsersAction) -> None:
    raise RuntimeError("this plugin's command is broken")


def _takes_layers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("layers")
    p.set_defaults(func=lambda args: print("hijacked") or 0)


class _CommandPlugin:
    @hookimpl
    def sdinterp_register(self, registry):
        registry.add_command("hello", _hello)
        registry.add_command("broken", _broken)
        registry.add_command("layers", _takes_layers)


@pytest.fixture()
def plugin():
    register_plugin(_CommandPlugin(), name="command-test-plugin")
    yield
    unregister_plugin("command-test-plugin")


def test_plugin_command_runs_and_broken_ones_are_left_out(plugin, capsys) -> None:
    assert "hello" in get_registry().names("command")
    assert cli.main(["hello", "--name", "sdinterp"]) == 0
    captured = capsys.readouterr()
    assert "hello sdinterp" in captured.out
    assert "command 'broken' from plugin command-test-plugin not available" in captured.err
    assert "RuntimeError: this plugin's command is broken" in captured.err


def test_a_plugin_cannot_replace_a_builtin_command(plugin, capsys) -> None:
    parser = cli.build_parser()
    err = capsys.readouterr().err
    assert "command 'layers' from plugin command-test-plugin not available" in err
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert sub.choices["layers"].prog.endswith("layers")
    args = parser.parse_args(["layers", "example:tiny"])
    assert args.func.__module__.startswith("sdinterp.commands")
