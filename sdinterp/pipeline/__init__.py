"""The pipeline: :class:`StaticDynamic` (the Captum-style entry point), :class:`RunConfig` (how a
run is carried out), protocols looked up by name, the accumulation loop, inputs and run state."""

from sdinterp.pipeline.accumulate import accumulate, build_batch
from sdinterp.pipeline.config import RunConfig
from sdinterp.pipeline.inputs import as_samples, compact_to_views
from sdinterp.pipeline.protocols import get_protocol, protocol_names
from sdinterp.pipeline.run_state import RunState
from sdinterp.pipeline.static_dynamic import StaticDynamic

__all__ = [
    "StaticDynamic",
    "RunConfig",
    "RunState",
    "accumulate",
    "as_samples",
    "build_batch",
    "compact_to_views",
    "get_protocol",
    "protocol_names",
]
