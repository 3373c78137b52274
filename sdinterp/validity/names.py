"""Names of the validity check's pseudo-layers (kept apart so every module of the check can read
them without importing the monitor)."""

from __future__ import annotations

__all__ = ["OUTPUT_TOP1", "OUTPUT_CONFIDENCE", "REFERENCE_PREFIX"]

#: The model's top-1 prediction of anchor and partner (agreement is reported).
OUTPUT_TOP1 = "validity:output:top1"
#: Prefix of the pseudo-layers that pair the anchors' original frames with the partners.
REFERENCE_PREFIX = "validity:reference:"
#: The model's confidence in its top-1 class.
OUTPUT_CONFIDENCE = "validity:output:confidence"
