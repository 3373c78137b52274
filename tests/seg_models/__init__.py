"""Stand-ins for the real segmentation models the sdinterp adapters recognise.

**Same attribute paths, signatures and tensor layouts as the real code, written fresh; not the
real code.** MATNet (github tfzhou/MATNet, ``modules/MATNet.py``; and the fusion/cross study's
``models/vos_models/MATNet.py`` in YorkUCVIL/Static-Dynamic-Interpretability), RTNet (github
OliverRensu/RTNet, ``model_RX50/interactive.py``, and the ``model_R34`` variant) and VisTR (github Epiphqny/VisTR,
``models/vistr.py``, ``transformer.py``, ``segmentation.py``) cannot be installed from the package
registry, so the adapter tests build these modules instead. Each one reproduces what an adapter
relies on: module names (``conv1_1``, ``res4_1``, ``coa_res3``, ``gated_res5``, ``spatial_net.encoder2``,
``Transformerstafm1``, ``transformer.encoder.layers[0]``...), forward signatures, what each module
returns (``coa_res3..5`` return 4-tuples), where a feature exists only as the next module's input,
how RTNet folds its two frames into the batch (and mixes samples when B > 1), and VisTR's
sequence-first tokens. The arithmetic inside follows the papers' equations (``docs/method.md`` §6)
closely enough to give the real shapes, but depth and width are configurable so tests stay tiny.

Modules: :mod:`.resnet` (bottleneck ResNet / ResNeXt streams), :mod:`.matnet`, :mod:`.rtnet`,
:mod:`.rtnet_r34`, :mod:`.vistr`.
"""
