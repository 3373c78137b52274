"""Option helpers shared by subcommands: choices read from the registry, deprecated flag aliases."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

__all__ = ["registry_choice", "registry_names", "DeprecatedAlias"]


def registry_names(kind: str, qualified: bool = False) -> list[str] | None:
    """Names the registry holds for ``kind`` (with ``qualified``, also ``distribution:name``), or
    None if the plugins cannot be loaded (then the option is checked when it is used, where the
    error names what failed)."""
    from sdinterp.plugin_manager import get_registry

    try:
        return get_registry().names(kind, qualified=qualified)
    except Exception:  # a broken plugin must not break --help; `sdinterp plugins` says what failed
        return None


def registry_choice(parser: argparse.ArgumentParser, flag: str, kind: str, default: str | None, what: str) -> None:
    """An option whose valid values are the registered names of ``kind`` (built-ins and plugins)."""
    names = registry_names(kind)
    listing = ", ".join(names) if names else "see `sdinterp plugins`"
    shown = f"; default: {default}" if default is not None else ""
    # Qualified names (``distribution:name``) choose between plugins that register the same name.
    parser.add_argument(flag, default=default, choices=registry_names(kind, qualified=True) or None, metavar=kind.upper(),
                        help=f"{what} (one of: {listing}, or DISTRIBUTION:NAME{shown})")


class DeprecatedAlias(argparse.Action):
    """A renamed flag: stores into the new destination and warns once on stderr."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        new = "--" + self.dest.replace("_", "-")
        print(f"sdinterp: {option_string} is deprecated, use {new}", file=sys.stderr)
        warnings.warn(f"{option_string} is deprecated, use {new}", DeprecationWarning, stacklevel=2)
        setattr(namespace, self.dest, values)
