"""Synthetic videos with a known truth (issue #13): the class is carried by appearance only, by
motion only, or both, and camouflaged moving objects with per-frame masks and boxes.

:mod:`sdinterp.data.synthetic` (the core) draws one video; :mod:`.dataset` writes a dataset the
toolkit reads like any other, :mod:`.pairs` makes ground-truth dynamic pairs (the same video in another style, sampler
``synthetic_restyle``), :mod:`.command` is ``sdinterp synth`` (docs/synthetic.md).
"""

from sdinterp.data.synthetic import KINDS, SynthConfig, SynthVideo, render_video
from sdinterp.hookspecs import hookimpl
from sdinterp.plugins.synthetic.dataset import generate, read_labels, write_dataset
from sdinterp.plugins.synthetic.pairs import SyntheticRestyle, synthetic_samples

__all__ = [
    "KINDS",
    "SynthConfig",
    "SynthVideo",
    "SyntheticRestyle",
    "generate",
    "read_labels",
    "render_video",
    "synthetic_samples",
    "write_dataset",
]


@hookimpl
def sdinterp_register(registry):
    from sdinterp.plugins.synthetic.command import register

    registry.add_command("synth", register)
    registry.add_sampler(SyntheticRestyle.name, SyntheticRestyle)
