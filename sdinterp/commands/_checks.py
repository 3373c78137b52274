"""The checks of command-line values now live in the public kit, :mod:`sdinterp.cli_kit`.

Only ``tests/test_compare_plot_config.py`` still imports this path; new code imports
``sdinterp.cli_kit``.
"""

from __future__ import annotations

from sdinterp.cli_kit.checks import UsageError, check_finite, check_output_file, check_positive, weights_provenance

__all__ = ["UsageError", "check_positive", "check_finite", "check_output_file", "weights_provenance"]
