"""seghub: segmentation models assembled from plugin encoders and decoders.

``import seghub`` is light: it imports neither torch nor any plugin. What needs torch (models,
building) is imported on first use, and plugins are discovered on the first lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._hookspecs import PLUGIN_API_VERSION, hookimpl
from ._lazy import lazy_attributes
from ._registry import Registry
from .errors import (
    InputShapeError,
    PluginConflictError,
    PluginError,
    ProtocolError,
    SeghubError,
    SpecError,
    UnknownNameError,
    WeightsError,
)

__version__ = "0.1.0"

# public name -> module that defines it; imported on first attribute access (PEP 562)
_LAZY: dict[str, str] = {
    "build_model": "seghub._builder",
    "validate_spec": "seghub._builder",
    "preprocessing_params": "seghub._builder",
    "ModelSpec": "seghub._spec",
    "EncoderSpec": "seghub._spec",
    "DecoderSpec": "seghub._spec",
    "SegmentationHeadSpec": "seghub._spec",
    "ClassificationHeadSpec": "seghub._spec",
    "model_schema": "seghub._spec",
    "SegmentationModel": "seghub._model",
    "SegmentationHead": "seghub._heads",
    "ClassificationHead": "seghub._heads",
    "Encoder": "seghub._protocols",
    "Decoder": "seghub._protocols",
    "check_encoder": "seghub._protocols",
    "check_decoder": "seghub._protocols",
    "get_hub": "seghub._hub",
    "register_plugin": "seghub._hub",
    "unregister_plugin": "seghub._hub",
    **{
        name: "seghub.architectures"
        for name in (
            "Unet", "UnetPlusPlus", "MAnet", "Linknet", "FPN", "PSPNet", "PAN",
            "DeepLabV3", "DeepLabV3Plus", "UPerNet", "Segformer", "DPT", "create_model",
        )
    },
    "list_plugins": "seghub._hub",
    "list_encoders": "seghub._hub",
    "list_decoders": "seghub._hub",
    "from_pretrained": "seghub._pretrained",
}

__all__ = [
    "PLUGIN_API_VERSION",
    "hookimpl",
    "Registry",
    "SeghubError",
    "SpecError",
    "PluginError",
    "PluginConflictError",
    "UnknownNameError",
    "ProtocolError",
    "InputShapeError",
    "WeightsError",
    *_LAZY,
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


if TYPE_CHECKING:
    from ._builder import build_model, preprocessing_params, validate_spec
    from ._heads import ClassificationHead, SegmentationHead
    from ._hub import get_hub, list_decoders, list_encoders, list_plugins, register_plugin, unregister_plugin
    from ._model import SegmentationModel
    from ._pretrained import from_pretrained
    from ._protocols import Decoder, Encoder, check_decoder, check_encoder
    from .architectures import (
        DPT,
        FPN,
        PAN,
        DeepLabV3,
        DeepLabV3Plus,
        Linknet,
        MAnet,
        PSPNet,
        Segformer,
        Unet,
        UnetPlusPlus,
        UPerNet,
        create_model,
    )
    from ._spec import (
        ClassificationHeadSpec,
        DecoderSpec,
        EncoderSpec,
        ModelSpec,
        SegmentationHeadSpec,
        model_schema,
    )
