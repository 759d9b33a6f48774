"""Predicting images of any size: sliding-window inference and test-time augmentation.

:func:`sliding_window` predicts an image window by window and blends the windows (MONAI 1.x's
``sliding_window_inference`` placement, padding and blending, with its defaults); :func:`tta`
wraps a model so it predicts flipped, rotated and rescaled copies of its input and merges them.
They compose: ``sliding_window(tta(model, "d4"), image, window=512)``. Pure PyTorch; importing
this package imports torch (``import seghub`` does not import it).
"""

from __future__ import annotations

from ._sliding import PAD_MODES, sliding_window
from ._tta import MERGE_MODES, TRANSFORM_NAMES, TRANSFORM_SETS, TestTimeAugmentation, tta
from ._windows import BLEND_MODES

__all__ = [
    "sliding_window",
    "tta",
    "TestTimeAugmentation",
    "BLEND_MODES",
    "PAD_MODES",
    "MERGE_MODES",
    "TRANSFORM_NAMES",
    "TRANSFORM_SETS",
]
