"""seghub-encoders-resnet: ResNet and ResNeXt encoders in plain PyTorch.

Importing the package is light; what needs torch (``ResNetEncoder``, ``build_encoder``)
is imported on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._archs import ARCHS, ENCODER_NAMES, ResNetArch
from ._params import ResNetParams
from ._weights import WEIGHTS, weights_table

__all__ = [
    "ARCHS", "ENCODER_NAMES", "ResNetArch", "ResNetParams", "WEIGHTS", "weights_table",
    "ResNetEncoder", "build_encoder", "load_weights",
]

_LAZY = {
    "ResNetEncoder": "._resnet",
    "build_encoder": "._factory",
    "load_weights": "._factory",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


if TYPE_CHECKING:
    from ._factory import build_encoder, load_weights
    from ._resnet import ResNetEncoder
