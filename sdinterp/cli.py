"""The ``sdinterp`` command line. Each subcommand lives in its own module in ``sdinterp.commands``
(or a plugin) and exposes ``register(subparsers)``; this file discovers and dispatches them, and
says what went wrong in one line: an error naming the flag that gave a bad value or path, a
warning per plugin that failed to load."""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import pkgutil
import sys
import warnings
from collections.abc import Sequence

from sdinterp._version import __version__
from sdinterp.cli_kit.checks import check_seed
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
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):  # e.g. an unknown command: a plugin that failed may be why
            _warn_failed_plugins("sdinterp")
        raise
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command != "plugins":  # `sdinterp plugins` lists the failures itself
        _warn_failed_plugins(f"sdinterp {args.command}")
    shown = warnings.showwarning

    def one_line(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
        print(f"sdinterp {args.command}: warning: {message}", file=sys.stderr)

    warnings.showwarning = one_line  # warnings of a run are one line each, like its errors
    try:
        if isinstance(getattr(args, "seed", None), int):
            # Every command's --seed (the kit's or its own) feeds the same random streams: refused
            # here, before any work, rather than by numpy or torch after the model has loaded.
            check_seed("--seed", args.seed)
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
        if isinstance(exc, OSError) and not isinstance(exc, SdinterpError) and isinstance(exc.filename, (str, bytes)):
            text = _os_error_line(exc, _command_parser(parser, args.command), args)
        else:
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


def _warn_failed_plugins(prefix: str) -> None:
    """One warning line per plugin that failed to import or register; the command still runs.

    Without it a broken plugin is silent everywhere but ``sdinterp plugins``, and a sampler or
    model family it should have provided seems simply absent.
    """
    from sdinterp.plugin_manager import list_plugins

    try:
        rows = list_plugins()
    except Exception as exc:  # noqa: BLE001 - the plugin machinery itself failed: say so, run anyway
        print(f"{prefix}: warning: the plugins could not be listed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    for row in rows:
        if row["error"]:
            origin = f"{row['distribution']} {row['version']}".strip()
            print(
                f"{prefix}: warning: plugin {row['name']!r} ({origin}) failed to load and is left out: "
                f"{row['error']} (`sdinterp plugins` lists every plugin)",
                file=sys.stderr,
            )


def _command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser | None:
    """The subcommand's own parser (its actions name the flags), or None."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found = action.choices.get(command)
            return found if isinstance(found, argparse.ArgumentParser) else None
    return None


#: What to do about a file-system error, by errno.
_ADVICE = {
    errno.ENOENT: "no such file or folder; check the path",
    errno.EACCES: "permission denied; choose a path you can read and write",
    errno.EPERM: "permission denied; choose a path you can read and write",
    errno.EISDIR: "is a folder; give a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.ENOSPC: "no space left on the device; free some space or choose another path",
    errno.EROFS: "read-only file system; choose another path",
}


def _os_error_line(exc: OSError, command: argparse.ArgumentParser | None, args: argparse.Namespace) -> str:
    """An OS error as one line naming the flag (or argument) that gave the path, and what to do.

    Python's own text (``[Errno 2] No such file or directory: 'x'``) names neither the flag nor a
    remedy. The path is matched against every value the command line gave: the value itself, a file
    inside a folder given, or a part of a ``family:...:FILE`` model spec.

    Args:
        exc: the error, with ``filename`` set.
        command: the subcommand's parser, whose actions name the flags (None: name none).
        args: the parsed command line.

    Returns:
        e.g. ``--report /tmp/r.json: no such file or folder; check the path``.

    Examples:
        >>> import argparse
        >>> p = argparse.ArgumentParser()
        >>> _ = p.add_argument("--report")
        >>> exc = FileNotFoundError(2, "No such file or directory", "/tmp/no/r.json")
        >>> _os_error_line(exc, p, p.parse_args(["--report", "/tmp/no/r.json"]))
        '--report /tmp/no/r.json: no such file or folder; check the path'
    """
    path = os.fsdecode(exc.filename)
    what = _ADVICE.get(exc.errno or -1, (exc.strerror or type(exc).__name__).lower())
    given = _given(path, command, args) if command is not None else None
    if given is None:
        return f"{path}: {what}"
    label, value = given
    return f"{label} {value}: {what}" if _same(path, value) else f"{label} {value}: {path}: {what}"


def _given(path: str, command: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, str] | None:
    """(flag or ``argument NAME``, the value given) that is ``path``, names it in a spec, or is the
    innermost folder holding it, in that order of preference (``.`` holds every relative path)."""
    given = []
    for action in command._actions:
        value = getattr(args, action.dest, None)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and item:
                if action.option_strings:
                    label = action.option_strings[-1]
                else:
                    label = f"argument {action.metavar if isinstance(action.metavar, str) else action.dest}"
                given.append((label, item))
    for matches in (
        lambda item: _same(path, item),
        lambda item: any(_same(path, part) for part in item.split(":")[1:]),  # family:...:FILE
    ):
        found = next(((label, item) for label, item in given if matches(item)), None)
        if found is not None:
            return found
    holders = [(label, item) for label, item in given if _inside(path, item)]
    return max(holders, key=lambda h: len(os.path.abspath(h[1])), default=None)  # the innermost folder


def _same(a: str, b: str) -> bool:
    return bool(b) and os.path.abspath(a) == os.path.abspath(b)


def _inside(path: str, folder: str) -> bool:
    return os.path.abspath(path).startswith(os.path.abspath(folder).rstrip(os.sep) + os.sep)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
