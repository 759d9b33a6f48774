"""seghub.losses: smp 0.6's segmentation losses in plain PyTorch, combinable and configurable.

``from seghub.losses import DiceLoss`` replaces ``from segmentation_models_pytorch.losses
import DiceLoss``: the same class names, arguments, defaults and modes, and the same values
and gradients, except where smp is wrong (README, "Losses"). Losses add and scale
(``DiceLoss("multiclass") + 0.5 * FocalLoss("multiclass")``), and :func:`build_loss` builds
them from configs. Importing this package imports torch; ``import seghub`` does not import it.
"""

from __future__ import annotations

from ._base import Loss, WeightedSum
from ._config import LossConfig, build_loss, list_losses
from ._targets import BINARY_MODE, MULTICLASS_MODE, MULTILABEL_MODE
from .cross_entropy import SoftBCEWithLogitsLoss, SoftCrossEntropyLoss
from .dice import DiceLoss, JaccardLoss, TverskyLoss
from .focal import FocalLoss
from .lovasz import LovaszLoss
from .mcc import MCCLoss

__all__ = [
    "BINARY_MODE",
    "MULTICLASS_MODE",
    "MULTILABEL_MODE",
    "DiceLoss",
    "JaccardLoss",
    "TverskyLoss",
    "FocalLoss",
    "LovaszLoss",
    "SoftBCEWithLogitsLoss",
    "SoftCrossEntropyLoss",
    "MCCLoss",
    "Loss",
    "WeightedSum",
    "LossConfig",
    "build_loss",
    "list_losses",
]
