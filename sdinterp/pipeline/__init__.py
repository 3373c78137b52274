"""The pipeline: :class:`StaticDynamic` (the Captum-style entry point), :class:`RunConfig` (how a
run is carried out), protocols looked up by name, a run as a :class:`RunPlan` plus an
:class:`Executor`, inputs and run state."""

from sdinterp.pipeline.accumulate import accumulate
from sdinterp.pipeline.config import RunConfig
from sdinterp.pipeline.executor import BatchResult, Executor, RunObserver, build_batch, resolve_pair_device
from sdinterp.pipeline.inputs import as_samples, compact_to_views
from sdinterp.pipeline.plan import BatchPlan, ClipPlan, RunPlan
from sdinterp.pipeline.protocols import get_protocol, protocol_names
from sdinterp.pipeline.run_state import RunState
from sdinterp.pipeline.static_dynamic import StaticDynamic

__all__ = [
    "StaticDynamic",
    "RunConfig",
    "RunState",
    "accumulate",
    "BatchPlan",
    "BatchResult",
    "ClipPlan",
    "Executor",
    "RunObserver",
    "RunPlan",
    "as_samples",
    "build_batch",
    "compact_to_views",
    "resolve_pair_device",
    "get_protocol",
    "protocol_names",
]
