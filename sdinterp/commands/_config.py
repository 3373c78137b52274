"""Config files for a command (``--config run.yaml`` or ``run.toml``): every flag has a key, flags on
the command line override the file, and the resolved settings are saved so a run can be repeated
exactly (``sdinterp report --config out/config.yaml``).

How "given on the command line" is told apart from "left at its default": :func:`add_config_option`
replaces every option's default by a marker before parsing, so after parsing the marker means "not
given"; :func:`resolve_config` then fills those from the file, or from the real default.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sdinterp.cli_kit import UsageError

__all__ = ["add_config_option", "resolve_config", "save_config", "config_keys", "load_config_file"]


class _Unset:
    """Marker default: the option was not given on the command line."""

    def __repr__(self) -> str:
        return "<not given>"


UNSET = _Unset()
#: Options that are about this invocation, not about the run: never read from or saved to a file.
_NOT_KEYS = {"help", "config", "debug"}
_DEFAULTS = "_config_defaults"


def add_config_option(parser: argparse.ArgumentParser, path_keys: tuple[str, ...] = ()) -> None:
    """Add ``--config FILE`` to ``parser`` and make its other options config keys.

    Call it last in the command's ``register``, after every other option is added.

    Args:
        parser: the command's parser.
        path_keys: keys whose values are paths: relative paths in a file are taken relative to the
            file's folder, and saved configs hold them absolute.
    """
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML (.yaml/.yml) or TOML (.toml) file of settings: every flag has a key (the flag's "
        "name, with - or _); flags given here override the file; relative paths are relative "
        "to the file (default: none)",
    )
    defaults: dict[str, Any] = {}
    for action in parser._actions:
        if action.dest in _NOT_KEYS or action.dest == argparse.SUPPRESS:
            continue
        defaults.setdefault(action.dest, (action.default, action))
        action.default = UNSET
    parser.set_defaults(**{_DEFAULTS: (defaults, tuple(path_keys))})


def config_keys(args: argparse.Namespace) -> list[str]:
    """The keys a config file of this command may hold."""
    return list(getattr(args, _DEFAULTS)[0])


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or TOML settings file into a flat mapping (a top-level ``report:`` table is
    accepted and unwrapped).

    Raises:
        UsageError: missing file, unknown format, or not a mapping (named).
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--config {path}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(p.read_text()) or {}
        elif suffix == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # Python 3.10: tomllib is new in 3.11; tomli is the same parser
                try:
                    import tomli as tomllib
                except ImportError:
                    raise UsageError(
                        f"--config {path}: TOML needs Python 3.11+ or `pip install tomli`; or use a .yaml file"
                    ) from None
            data = tomllib.loads(p.read_text())
        else:
            raise UsageError(f"--config {path}: unknown format {suffix or '(none)'}; use .yaml, .yml or .toml")
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - a syntax error of either parser: one line, with its position
        raise UsageError(f"--config {path}: cannot parse ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected a mapping of settings, got {type(data).__name__}")
    if len(data) == 1 and isinstance(data.get("report"), dict):
        data = data["report"]
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _coerce(key: str, value: Any, action: argparse.Action, source: str) -> Any:
    """A file value as argparse would have produced it from the flag (type, nargs, choices)."""
    many = action.nargs in ("+", "*") or isinstance(action.nargs, int)
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise UsageError(f"{source}: {key} must be true or false, got {value!r}")
        return value
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not many and isinstance(value, list):
        raise UsageError(f"{source}: {key} takes one value, got a list {value!r}")
    out = []
    for item in items:
        if isinstance(item, (dict, list)):
            raise UsageError(f"{source}: {key}: {item!r} is not a plain value")
        if action.type is not None:
            kind = getattr(action.type, "__name__", "value")
            if isinstance(item, bool) or (action.type is int and isinstance(item, float)):
                raise UsageError(
                    f"{source}: {key} must be {'an integer' if action.type is int else 'a ' + kind}, got {item!r}"
                )
            try:
                item = cast(Callable[[Any], Any], action.type)(item)  # our flags' types are callables
            except (TypeError, ValueError):
                raise UsageError(f"{source}: {key}: {item!r} is not a valid {kind}") from None
        elif action.type is None and not isinstance(item, str):
            item = str(item)
        if action.choices is not None and item not in action.choices:
            raise UsageError(f"{source}: {key} {item!r} is not one of: {', '.join(map(str, action.choices))}")
        out.append(item)
    return out if many else out[0]


def _relative_to(value: Any, folder: Path) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_relative_to(v, folder) for v in value]
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else folder / p)


def resolve_config(args: argparse.Namespace) -> dict[str, Any]:
    """Fill every option not given on the command line from ``--config`` (or its real default), in
    place, and return the resolved settings.

    Raises:
        UsageError: an unknown key (with the closest valid one), or a value of the wrong kind.
    """
    defaults, path_keys = getattr(args, _DEFAULTS)
    from_file: dict[str, Any] = {}
    if getattr(args, "config", None):
        raw = load_config_file(args.config)
        folder = Path(args.config).resolve().parent
        for key, value in raw.items():
            if key not in defaults:
                close = difflib.get_close_matches(key, list(defaults), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise UsageError(f"--config {args.config}: unknown key {key!r}{hint} (keys: {', '.join(defaults)})")
            value = _coerce(key, value, defaults[key][1], f"--config {args.config}")
            from_file[key] = _relative_to(value, folder) if key in path_keys else value
    resolved = {}
    for key, (default, _action) in defaults.items():
        value = getattr(args, key, UNSET)
        if value is UNSET:
            value = from_file.get(key, default)
        setattr(args, key, value)
        resolved[key] = value
    return resolved


def save_config(args: argparse.Namespace, path: str | Path, command: str) -> Path:
    """Write the resolved settings of ``args`` as YAML (paths absolute), so that
    ``sdinterp COMMAND --config PATH`` repeats the run.

    Args:
        args: resolved by :func:`resolve_config`.
        path: the file to write.
        command: the subcommand's name, for the header comment.

    Returns:
        The path.
    """
    import yaml

    from sdinterp._version import __version__

    defaults, path_keys = getattr(args, _DEFAULTS)
    data = {}
    for key in defaults:
        value = getattr(args, key)
        if key in path_keys and value is not None:
            value = [str(Path(v).resolve()) for v in value] if isinstance(value, list) else str(Path(value).resolve())
        data[key] = value
    header = (
        f"# sdinterp {__version__}: the resolved settings of `sdinterp {command}`; repeat the run with\n"
        f"#   sdinterp {command} --config {path}\n# (flags given with it override these keys)\n"
    )
    Path(path).write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return Path(path)
