"""The public kit for command-line tools built on sdinterp: the flags ``sdinterp report`` has, the
model and clip loading it does, the checks it runs before any expensive work, and small helpers.

``report`` itself and every command that ships as a plugin (``ablate``, ``track``,
``shuffle-test``, ``fusion-study``, ``twostream-train``, ``synth``, ``train-tiny``) use it, so a
third-party command written with it takes the same flags, spelled and defaulted the same way, and
fails the same way on bad input (docs/plugins.md, "Writing a command").

* Flags: :func:`add_flags` (by name, in the order given; groups :data:`RUN_FLAGS`,
  :data:`CLIP_FLAGS`, :data:`MODEL_FLAGS`, :data:`PAIR_FLAGS`, :data:`SCORING_FLAGS`,
  :data:`OUTPUT_FLAGS`), :func:`flag_names`, :func:`registry_choice` (an option whose values are a
  registry kind's names), :func:`registry_names`.
* Checks, before anything is loaded: :func:`check_flags` (every shared flag the command has) and
  :func:`check_positive`, :func:`check_finite`, :func:`check_seed`, :func:`check_output_file`,
  :func:`check_out_dir`, :func:`check_weights_file`, :func:`check_device` for a command's own flags; :class:`UsageError`
  is the one-line error.
* Loading: :func:`adapter_from_args`, :func:`adapter_options`, :func:`scan_inputs`,
  :func:`clip_dataset`, :func:`load_clips`, :func:`samplers_from_args`, :func:`run_device`
  (``--device`` as a ``torch.device``, torchrun's local GPU for a bare ``cuda``).
* Helpers: :func:`load_callable` (``python:module:function`` flags), :func:`write_json`,
  :func:`weights_provenance`.

Examples:
    >>> import argparse
    >>> from sdinterp import cli_kit
    >>> p = argparse.ArgumentParser(prog="my-study")
    >>> cli_kit.add_flags(p, *cli_kit.RUN_FLAGS, *cli_kit.MODEL_FLAGS, "json")
    >>> args = p.parse_args(["--n-pairs", "0"])
    >>> cli_kit.check_flags(args)
    Traceback (most recent call last):
    ...
    sdinterp.cli_kit.checks.UsageError: --n-pairs must be a positive integer, got 0
"""

from __future__ import annotations

from sdinterp.cli_kit.checks import (
    UsageError,
    check_device,
    check_finite,
    check_flags,
    check_out_dir,
    check_output_file,
    check_positive,
    check_seed,
    check_weights_file,
    weights_provenance,
)
from sdinterp.cli_kit.flags import (
    CLIP_FLAGS,
    EVALUATION_FLAGS,
    MODEL_FLAGS,
    OUTPUT_FLAGS,
    PAIR_FLAGS,
    RUN_FLAGS,
    SCORING_FLAGS,
    add_flags,
    flag_names,
    registry_choice,
    registry_names,
)
from sdinterp.cli_kit.helpers import load_callable, write_json
from sdinterp.cli_kit.loading import (
    adapter_from_args,
    adapter_options,
    clip_dataset,
    load_clips,
    run_device,
    samplers_from_args,
    scan_inputs,
)

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
    "EVALUATION_FLAGS",
    "OUTPUT_FLAGS",
    "UsageError",
    "check_flags",
    "check_positive",
    "check_finite",
    "check_seed",
    "check_output_file",
    "check_out_dir",
    "check_weights_file",
    "check_device",
    "weights_provenance",
    "adapter_from_args",
    "adapter_options",
    "scan_inputs",
    "clip_dataset",
    "load_clips",
    "run_device",
    "samplers_from_args",
    "load_callable",
    "write_json",
]
