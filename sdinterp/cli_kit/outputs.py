"""One check every command runs before any work: no two outputs are the same file, and no output is
one of the command's inputs.

Two flags naming one file lose a result without a word (the later write wins: ``--json r.json --csv
r.json``), and a ``--resume`` state overwritten by the report is then refused on the next run. Paths
are compared as the file system resolves them: ``out/r.json``, ``./out/../out/r.json``, a symbolic
link to it and a hard link of an existing file are all the same file. A folder output (``--out
DIR``) is compared through the files it writes there.

Examples:
    >>> check_outputs({"--json": "a.json", "--csv": "a.csv"})
    >>> check_outputs({"--json": "a.json", "--csv": "./a.json"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sdinterp.cli_kit.outputs.OutputPathError: --json a.json and --csv ./a.json are the same file; give each output ...

:func:`~sdinterp.cli_kit.check_flags` runs :func:`check_run_outputs` (this module imports nothing of
the kit, so the checks can call it without an import cycle).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sdinterp.errors import SdinterpError

__all__ = ["check_outputs", "check_run_outputs", "OutputPathError", "REPORT_FOLDER_FILES"]


class OutputPathError(SdinterpError, ValueError):
    """Two outputs that are one file, or an output that is an input; the message names both flags
    and paths. The command line prints it as one line and exits with status 1, as a ``UsageError``."""


PathLike = str | os.PathLike[str]
#: What ``sdinterp report --out DIR`` writes into DIR (:func:`sdinterp.report.bundle.write_report_folder`
#: and the saved config).
REPORT_FOLDER_FILES = ("report.json", "layers.csv", "units.csv", "report.html", "config.yaml", "figures")
#: Shared flags (:mod:`sdinterp.cli_kit.flags`) that name a file the command writes.
_KIT_OUTPUT_FILES = ("json", "csv", "units_csv", "resume")


def _key(path: PathLike) -> tuple[Any, ...]:
    """What identifies the file: its device and inode when it exists (hard links too), else the
    resolved absolute path (symbolic links, ``..`` and ``.`` followed)."""
    p = os.path.realpath(os.path.expanduser(os.fspath(path)))
    try:
        st = os.stat(p)
    except OSError:
        return ("path", p)
    return ("inode", st.st_dev, st.st_ino)


def _as_list(value: PathLike | Sequence[PathLike] | None) -> list[PathLike]:
    if value is None or value == "":
        return []
    if isinstance(value, (str, os.PathLike)):
        return [value]
    return [v for v in value if v is not None and v != ""]


def check_outputs(
    outputs: Mapping[str, PathLike | None],
    inputs: Mapping[str, PathLike | Sequence[PathLike] | None] | None = None,
    folders: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Refuse outputs that would overwrite each other or an input, before any work.

    Args:
        outputs: flag -> the path it names (``None``: not given), e.g. ``{"--json": args.json}``.
        inputs: what the command reads, by flag or name -> path(s): videos, ``--report``, ``--weights``,
            a ``--config`` file. An output may not be any of them.
        folders: for outputs that are folders, the flag -> the names written inside it; each is then
            compared as ``DIR/name`` (and the folder itself must not be another output or an input).

    Raises:
        OutputPathError: one line naming both flags and paths, and what to do.
    """
    folders = folders or {}
    seen: dict[tuple[Any, ...], str] = {}
    read: dict[tuple[Any, ...], str] = {}
    for label, value in (inputs or {}).items():
        for path in _as_list(value):
            read.setdefault(_key(path), f"{label} {os.fspath(path)}")
    for flag, value in outputs.items():
        if value is None or value == "":
            continue
        given = f"{flag} {os.fspath(value)}"
        targets = [(value, given)]
        if flag in folders:
            targets += [(Path(value) / name, f"{given} (its {name})") for name in folders[flag]]
        for path, what in targets:
            key = _key(path)
            # a folder output may be an input's folder; only the files it writes there may not be inputs
            if key in read and not (flag in folders and path is value):
                raise OutputPathError(
                    f"{what} is {read[key]}, which the command reads; give an output path that is not an input"
                )
            if key in seen:
                raise OutputPathError(f"{seen[key]} and {what} are the same file; give each output its own path")
            seen[key] = what


def check_run_outputs(
    args: argparse.Namespace,
    given: Mapping[str, Any] | None = None,
    outputs: Mapping[str, PathLike | None] | None = None,
    inputs: Mapping[str, PathLike | Sequence[PathLike] | None] | None = None,
    folders: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """:func:`check_outputs` over a command's shared output flags (``--json``, ``--csv``,
    ``--units-csv``, ``--resume``, and ``--out`` as the report folder), its inputs (``INPUT...``,
    ``--weights``, ``--config``, ``--report``) and its own ``outputs``, ``inputs`` and ``folders``.
    :func:`~sdinterp.cli_kit.check_flags` calls it; a command with outputs of its own calls it again
    with them.

    Args:
        args: the parsed command line (read for the inputs).
        given: the shared flags the command has, by name (``check_flags`` passes those
            :func:`~sdinterp.cli_kit.add_flags` added); default: every attribute of ``args``.
        outputs, inputs, folders: the command's own, as for :func:`check_outputs`.

    Raises:
        OutputPathError: two outputs that are one file, or an output that is an input.
    """
    flags = vars(args) if given is None else given
    mine: dict[str, PathLike | None] = {}
    for name in _KIT_OUTPUT_FILES:
        if isinstance(flags.get(name), (str, os.PathLike)):
            mine["--" + name.replace("_", "-")] = flags[name]
    found_folders = dict(folders or {})
    if isinstance(flags.get("out"), (str, os.PathLike)):
        mine["--out"] = flags["out"]
        found_folders.setdefault("--out", REPORT_FOLDER_FILES)
    mine.update(outputs or {})
    read: dict[str, PathLike | Sequence[PathLike] | None] = {}
    for name, label in (("inputs", "INPUT"), ("weights", "--weights"), ("config", "--config"), ("report", "--report")):
        value = getattr(args, name, None)
        if isinstance(value, (str, os.PathLike)) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            read[label] = value
    out, config = mine.get("--out"), read.get("--config")
    if out is not None and isinstance(config, (str, os.PathLike)) and _key(config) == _key(Path(out) / "config.yaml"):
        # `sdinterp report --config DIR/config.yaml` repeats the run that wrote it: rewriting the same
        # settings there is the point, not a loss
        del read["--config"]
    read.update(inputs or {})
    check_outputs(mine, read, found_folders)
