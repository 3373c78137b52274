"""Progress of a run counted in what it costs: pairs and forwards (not batches), with pairs/s and an
ETA; and the one-line summary of a run's settings printed before it starts."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from sdinterp.pipeline.plan import RunPlan

__all__ = ["RunProgress", "run_progress", "settings_line", "ProgressCallback"]

#: A progress callback: ``callback(pairs_done, pairs_total, forwards_done, forwards_total)``.
ProgressCallback = Callable[[int, int, int, int], Any]


class RunProgress:
    """A progress bar over pairs, with the forwards beside it.

    Args:
        pairs: total pairs of the run (of this process).
        forwards: total forwards.
        show: ``True`` for a tqdm bar on ``file`` (stderr), ``False`` for nothing, or a
            :data:`ProgressCallback` called after every batch.
        done_pairs: pairs already done (a resumed run).
        done_forwards: forwards already done.
        file: where the bar goes (default ``sys.stderr``).

    Examples:
        >>> import io
        >>> p = RunProgress(4, 6, show=True, file=io.StringIO())
        >>> p.update(2, 3); p.close()
        >>> p.pairs, p.forwards
        (2, 3)
    """

    def __init__(
        self,
        pairs: int,
        forwards: int,
        show: bool | ProgressCallback = True,
        done_pairs: int = 0,
        done_forwards: int = 0,
        file: Any = None,
    ) -> None:
        self.total_pairs, self.total_forwards = int(pairs), int(forwards)
        self.pairs, self.forwards = int(done_pairs), int(done_forwards)
        self._callback = show if callable(show) else None
        self._bar = None
        if show is True:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total_pairs,
                initial=self.pairs,
                desc="sdinterp",
                unit=" pairs",
                file=file or sys.stderr,
                dynamic_ncols=True,
                leave=True,
                postfix=self._forwards_text(),
                # tqdm writes the postfix as ", <text>": "64/128 pairs, 96/192 forwards".
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} pairs{postfix} "
                "[{elapsed}<{remaining}, {rate_fmt}]",
            )

    def _forwards_text(self) -> str:
        return f"{self.forwards}/{self.total_forwards} forwards"

    def update(self, pairs: int, forwards: int) -> None:
        """Count one batch: its pairs and forwards."""
        self.pairs += int(pairs)
        self.forwards += int(forwards)
        if self._bar is not None:
            self._bar.set_postfix_str(self._forwards_text(), refresh=False)
            self._bar.update(int(pairs))
        if self._callback is not None:
            self._callback(self.pairs, self.total_pairs, self.forwards, self.total_forwards)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_progress(plan: RunPlan, show: bool | ProgressCallback) -> RunProgress:
    """The progress of a plan's batches, counted from the plan (a resumed plan counts what was done)."""
    if not show:
        return RunProgress(0, 0, show=False)
    pairs, forwards = plan.work()
    done_pairs, done_forwards = plan.done_work()
    return RunProgress(pairs + done_pairs, forwards + done_forwards, show, done_pairs, done_forwards)


def settings_line(settings: Mapping[str, Any], width: int = 0) -> str:
    """The settings of a run as one line, ``key value; key value…``, empty values left out.

    Args:
        settings: ordered name -> value (lists are joined with commas, shortened past 4 items).
        width: shorten the line to this many characters (0: no limit).

    Returns:
        The line.

    Examples:
        >>> settings_line({"model": "example:tiny", "layers": ["early", "late"], "weights": None})
        'model example:tiny; layers early, late'
    """
    parts = []
    for key, value in settings.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, (list, tuple)):
            shown = [str(v) for v in value]
            value = ", ".join(shown[:4]) + (f", ... ({len(shown)})" if len(shown) > 4 else "")
        parts.append(f"{key} {value}")
    line = "; ".join(parts)
    return line if not width or len(line) <= width else line[: max(0, width - 3)] + "..."
