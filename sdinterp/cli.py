"""The ``sdinterp`` command line. Each subcommand lives in its own module in ``sdinterp.commands``
and exposes ``register(subparsers)``; this file only discovers and dispatches them."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import warnings
from collections.abc import Sequence

from sdinterp._version import __version__
from sdinterp.errors import SdinterpError


def build_parser() -> argparse.ArgumentParser:
    import sdinterp.commands as commands

    parser = argparse.ArgumentParser(
        prog="sdinterp",
        description="Static vs dynamic information in video models (Kowal et al.).",
    )
    parser.add_argument("--version", action="version", version=f"sdinterp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    _plugin_commands(sub)
    return parser


def _plugin_commands(sub: argparse._SubParsersAction) -> None:
    """Subcommands registered by plugins as kind ``command`` (a ``register(subparsers)`` callable).

    Tools that live in plugins (ablation, tracking, segmentation studies) add their commands this
    way, so the core never imports them. A plugin command that fails to register, or whose name is
    already taken, is left out with a one-line warning; every other command still works.
    """
    from sdinterp.plugin_manager import get_registry

    registry = get_registry()
    for name in registry.names("command"):
        try:
            registry.get("command", name)(sub)
        except Exception as exc:  # noqa: BLE001 - one plugin's command never takes the CLI down
            owners = ", ".join(r.plugin for r in registry.owners("command", name))
            print(
                f"sdinterp: warning: command {name!r} from plugin {owners} not available: {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    shown = warnings.showwarning

    def one_line(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
        print(f"sdinterp {args.command}: warning: {message}", file=sys.stderr)

    warnings.showwarning = one_line  # warnings of a run are one line each, like its errors
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `sdinterp layers ... | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (SdinterpError, ValueError, KeyError, OSError, RuntimeError, ImportError, TypeError) as exc:
        # Errors of ours carry a full explanation; a traceback would only hide it.
        if getattr(args, "debug", False):
            raise
        text = str(exc).strip() or type(exc).__name__
        print(f"sdinterp {args.command}: error: {text}", file=sys.stderr)
        return 1
    except Exception as exc:  # not a user error we know of: still one line, and how to see more
        if getattr(args, "debug", False):
            raise
        print(
            f"sdinterp {args.command}: error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
