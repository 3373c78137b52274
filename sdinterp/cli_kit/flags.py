"""The command-line flags ``sdinterp report`` shares with every command that builds a model, reads
videos or measures a bias: one definition each (name, type, default, help), added by name.

A plugin command gets the same flags, spelled and defaulted as ``report`` has them, with
:func:`add_flags`; named groups (:data:`RUN_FLAGS`, :data:`MODEL_FLAGS`…) save listing them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sdinterp.cli_kit.checks import KIT_FLAGS

__all__ = [
    "add_flags",
    "flag_names",
    "registry_choice",
    "registry_names",
    "RUN_FLAGS",
    "CLIP_FLAGS",
    "MODEL_FLAGS",
    "PAIR_FLAGS",
    "SCORING_FLAGS",
    "OUTPUT_FLAGS",
]


def registry_names(kind: str, qualified: bool = False) -> list[str] | None:
    """Names the registry holds for ``kind`` (with ``qualified``, also ``distribution:name``), or
    None if the plugins cannot be loaded (then the option is checked when it is used, where the
    error names what failed)."""
    from sdinterp.plugin_manager import get_registry

    try:
        return get_registry().names(kind, qualified=qualified)
    except Exception:  # noqa: BLE001 - a broken plugin must not break --help; `sdinterp plugins` says what failed
        return None


def registry_choice(parser: argparse.ArgumentParser, flag: str, kind: str, default: str | None, what: str) -> None:
    """Add an option whose valid values are the registered names of ``kind`` (built-ins and plugins).

    Args:
        parser: the command's parser.
        flag: e.g. ``"--static-sampler"``.
        kind: the registry kind (``sampler``, ``scorer``, ``protocol``, ``restyler`` or a plugin's).
        default: the default name, or None.
        what: the help text's subject (``"static-pair sampler"``).
    """
    names = registry_names(kind)
    listing = ", ".join(names) if names else "see `sdinterp plugins`"
    shown = f"; default: {default}" if default is not None else ""
    # Qualified names (``distribution:name``) choose between plugins that register the same name.
    parser.add_argument(
        flag,
        default=default,
        choices=registry_names(kind, qualified=True) or None,
        metavar=kind.upper(),
        help=f"{what} (one of: {listing}, or DISTRIBUTION:NAME{shown})",
    )


def _plain(**kwargs: Any) -> Callable[[argparse.ArgumentParser, str, Any, str | None], None]:
    """A flag added with ``parser.add_argument``; ``{default}`` in its help shows the default used."""
    text: str = kwargs.pop("help")

    def add(parser: argparse.ArgumentParser, flag: str, default: Any, help: str | None) -> None:
        extra = {} if kwargs.get("action") == "store_true" else {"default": default}
        parser.add_argument(flag, **kwargs, **extra, help=(help or text).format(default=default))

    return add


def _choice(kind: str, what: str) -> Callable[[argparse.ArgumentParser, str, Any, str | None], None]:
    """A flag whose values are the registry's names of ``kind``."""

    def add(parser: argparse.ArgumentParser, flag: str, default: Any, help: str | None) -> None:
        registry_choice(parser, flag, kind, default, help or what)

    return add


# name -> (default, how it is added). The help texts are `sdinterp report`'s, word for word.
_FLAGS: dict[str, tuple[Any, Callable[[argparse.ArgumentParser, str, Any, str | None], None]]] = {
    "layers": (
        None,
        _plain(nargs="+", help="layer names (default: every canonical layer; see `sdinterp layers MODEL`)"),
    ),
    "n-pairs": (
        64,
        _plain(
            type=int,
            help="pairs per factor (shared-anchor) or in total (official); below 16 the "
            "estimate is unreliable and a warning says so (default: {default})",
        ),
    ),
    "batch-size": (12, _plain(type=int, help="videos per forward pass (default: {default})")),
    "seed": (
        0,
        _plain(
            type=int,
            help="seed of every random choice of the run, random weights included: 0 to 4294967295 "
            "(default: {default})",
        ),
    ),
    "protocol": ("shared-anchor", _choice("protocol", "pair protocol")),
    "clip-length": (
        64,
        _plain(
            type=int,
            help="window of consecutive frames per clip; videos shorter than it are looped, "
            "with a warning naming each (reference: 64; default: {default})",
        ),
    ),
    "frames": (None, _plain(type=int, help="frames the model takes (default: the model's native count)")),
    "short-side": (None, _plain(type=int, help="short-side resize in pixels (default: the model's native size)")),
    "crop-size": (None, _plain(type=int, help="centre crop in pixels (default: the model's native size)")),
    "weights": (
        None,
        _plain(metavar="FILE", help="local model weights to load (default: random init; never downloaded)"),
    ),
    "trust-weights": (
        False,
        _plain(
            action="store_true",
            help="allow unpickling a weights file that holds more than tensors (a legacy pickle): "
            "only for files you trust, since unpickling can run any code (default: off)",
        ),
    ),
    "static-sampler": ("frame_shuffle", _choice("sampler", "static-pair sampler")),
    "dynamic-sampler": ("restyle", _choice("sampler", "dynamic-pair sampler")),
    "restyler": (None, _choice("restyler", "restyler of the restyle sampler (default: natural_colour)")),
    "scorer": ("official", _choice("scorer", "estimator")),
    "threshold": (0.5, _plain(type=float, help="λ of the unit categories, a finite number (default: {default})")),
    "workers": (0, _plain(type=int, help="clip-reading worker processes (default: {default})")),
    "device": (
        "cpu",
        _plain(
            metavar="DEVICE",
            help="where the model runs and the pairs are made: cpu, cuda, cuda:1, mps; a run off the CPU "
            "records it in the report (default: {default})",
        ),
    ),
    "resume": (
        None,
        _plain(
            metavar="FILE",
            help="run-state file: progress is saved there and a rerun of the same run resumes from it; "
            "a file of another run is refused (default: none)",
        ),
    ),
    "skip-bad": (
        False,
        _plain(
            action="store_true",
            help="leave out inputs `sdinterp scan` calls errors (listed in the report) instead of "
            "refusing the run (default: off)",
        ),
    ),
    "json": (None, _plain(metavar="FILE", help="write the report as JSON (default: none)")),
    "json-timings": (
        False,
        _plain(
            action="store_true",
            help="also write wall-clock timings into the JSON, which then differs from run to run (default: off)",
        ),
    ),
    "csv": (None, _plain(metavar="FILE", help="write the per-layer table as CSV (default: none)")),
    "units-csv": (None, _plain(metavar="FILE", help="write the per-unit table as CSV (default: none)")),
    "no-progress": (
        False,
        _plain(action="store_true", help="no progress bar (default: shown on a terminal, counting pairs and forwards)"),
    ),
    "quiet": (
        False,
        _plain(
            action="store_true",
            help="no progress bar and no settings line on stderr; the table is still printed (default: off)",
        ),
    ),
    "out": (
        None,
        _plain(
            metavar="DIR",
            help="write report.json, layers.csv, units.csv, figures/ (PNG and SVG), a self-contained "
            "report.html and config.yaml (the resolved settings) into DIR, created if missing "
            "(default: none)",
        ),
    ),
    "bootstrap": (
        0,
        _plain(
            type=int,
            metavar="B",
            help="B Poisson-bootstrap replicates over source videos: intervals for every layer number and each "
            "unit's category stability, in the table and the JSON (docs/confidence.md; default: "
            "{default}, off)",
        ),
    ),
    "bootstrap-level": (
        0.95,
        _plain(type=float, help="two-sided level of the bootstrap intervals (default: {default})"),
    ),
    "no-validity": (
        False,
        _plain(
            action="store_true",
            help="skip the validity check of the pairs (probe controls, partner shift, shared nuisances; "
            "docs/validity.md; default: on, printed first when the pairs are doubtful or invalid)",
        ),
    ),
    "debug": (False, _plain(action="store_true", help="show tracebacks of errors (default: one line)")),
}

#: What a run measures: layers, pairs, batch, seed, pair protocol.
RUN_FLAGS = ("layers", "n-pairs", "batch-size", "seed", "protocol")
#: How clips are read from videos (``--clip-length``) and left out when bad (``--skip-bad``).
CLIP_FLAGS = ("clip-length", "skip-bad")
#: How the model is built: input size and frames, weights.
MODEL_FLAGS = ("frames", "short-side", "crop-size", "weights", "trust-weights")
#: Which pairs are made: the static and dynamic samplers and the restyler.
PAIR_FLAGS = ("static-sampler", "dynamic-sampler", "restyler")
#: How units are scored: estimator, λ and bootstrap intervals.
SCORING_FLAGS = ("scorer", "threshold", "bootstrap", "bootstrap-level")
#: What a command prints and writes.
OUTPUT_FLAGS = ("json", "no-progress", "quiet", "debug")
#: A command that measures a model on videos and writes one JSON result (``ablate``, ``shuffle-test``):
#: the flags `sdinterp report` reads videos and builds models with, same names, defaults and checks.
EVALUATION_FLAGS = (
    "n-pairs",
    "batch-size",
    "seed",
    "protocol",
    "clip-length",
    *MODEL_FLAGS,
    "skip-bad",
    "device",
    "json",
    "no-progress",
    "debug",
)


def flag_names() -> list[str]:
    """Every shared flag :func:`add_flags` knows, without the leading ``--``.

    Examples:
        >>> "n-pairs" in flag_names() and "trust-weights" in flag_names()
        True
    """
    return list(_FLAGS)


def add_flags(
    parser: argparse.ArgumentParser,
    *names: str,
    defaults: dict[str, Any] | None = None,
    helps: dict[str, str] | None = None,
) -> None:
    """Add shared flags to ``parser``, in the order given, spelled and defaulted as ``sdinterp report`` has them.

    :func:`~sdinterp.cli_kit.check_flags` then checks their values and
    :func:`~sdinterp.cli_kit.adapter_from_args` / :func:`~sdinterp.cli_kit.load_clips` read them.

    Args:
        parser: the command's parser.
        *names: flag names without ``--`` (see :func:`flag_names`, or a group such as :data:`RUN_FLAGS`).
        defaults: another default for some flags, by name; keep ``report``'s unless the command has a
            reason it documents in its help.
        helps: another help text for some flags, by name (``{default}`` shows the default).

    Raises:
        KeyError: a name that is not a shared flag (the message lists them).

    Examples:
        >>> import argparse
        >>> p = argparse.ArgumentParser()
        >>> add_flags(p, "n-pairs", "batch-size", "seed", defaults={"n-pairs": 16})
        >>> args = p.parse_args(["--seed", "3"])
        >>> args.n_pairs, args.batch_size, args.seed
        (16, 12, 3)
    """
    defaults, helps = defaults or {}, helps or {}
    unknown = sorted(set(names) - set(_FLAGS)) + sorted(set(defaults) - set(names)) + sorted(set(helps) - set(names))
    if unknown:
        raise KeyError(f"not a shared flag of this call: {', '.join(unknown)} (shared flags: {', '.join(_FLAGS)})")
    added = list(parser.get_default(KIT_FLAGS) or ())
    for name in names:
        default, add = _FLAGS[name]
        add(parser, "--" + name, defaults.get(name, default), helps.get(name))
        added.append(name.replace("-", "_"))
    parser.set_defaults(**{KIT_FLAGS: tuple(added)})
