"""seghub: segmentation models assembled from plugin encoders and decoders.

``import seghub`` is light: it imports neither torch nor any plugin. What needs torch (models,
building) is imported on first use, and plugins are discovered on the first lookup. The
smp-style constructors (``seghub.Unet``, ``seghub.FPN``, ...) are not part of the core: they
are looked up, on first use, among the constructors that installed decoder plugins register.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_attributes
from ._version import __version__
from .errors import (
    InputShapeError,
    MissingConstructorError,
    PluginConflictError,
    PluginError,
    ProtocolError,
    SeghubError,
    SpecError,
    UnknownNameError,
    WeightsError,
)
# public name -> module that defines it; imported on first attribute access (PEP 562). The
# plugin API too: a plugin's hook module imports it when discovery runs, not at import seghub.
_LAZY: dict[str, str] = {
    **{name: "seghub.plugins" for name in ("PLUGIN_API_VERSION", "hookimpl", "Registry", "DecoderConstraints", "FeatureRule")},
    "build_model": "seghub._model",
    "from_pretrained": "seghub._model",
    "SegmentationModel": "seghub._model",
    "validate_spec": "seghub._validation",
    "preprocessing_params": "seghub._preprocessing",
    "create_model": "seghub._constructors",
    "spec_from_smp_arguments": "seghub._constructors",
    "ModelSpec": "seghub._spec",
    "EncoderSpec": "seghub._spec",
    "DecoderSpec": "seghub._spec",
    "NeckSpec": "seghub._spec",
    "SegmentationHeadSpec": "seghub._spec",
    "ClassificationHeadSpec": "seghub._spec",
    "model_schema": "seghub._spec",
    "SegmentationHead": "seghub._heads",
    "ClassificationHead": "seghub._heads",
    "Encoder": "seghub._protocols",
    "Decoder": "seghub._protocols",
    "check_encoder_attributes": "seghub._protocols",
    "check_decoder_attributes": "seghub._protocols",
    "get_hub": "seghub.plugins._discovery",
    "register_plugin": "seghub.plugins._discovery",
    "unregister_plugin": "seghub.plugins._discovery",
    "list_plugins": "seghub.plugins._discovery",
    "list_encoders": "seghub.plugins._discovery",
    "list_decoders": "seghub.plugins._discovery",
    "list_necks": "seghub.plugins._discovery",
}

# old public names, kept working with a DeprecationWarning: old name -> (module, new name)
_RENAMED: dict[str, tuple[str, str]] = {
    "check_encoder": ("seghub._protocols", "check_encoder_attributes"),
    "check_decoder": ("seghub._protocols", "check_decoder_attributes"),
}

__all__ = [
    "__version__",
    "SeghubError",
    "SpecError",
    "PluginError",
    "PluginConflictError",
    "UnknownNameError",
    "MissingConstructorError",
    "ProtocolError",
    "InputShapeError",
    "WeightsError",
    *_LAZY,
]

_lazy_getattr, __dir__ = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return _lazy_getattr(name)
    if name in _RENAMED:
        module, new = _RENAMED[name]
        warnings.warn(
            f"seghub.{name} was renamed seghub.{new} (seghub.testing.{name} is the conformance kit)",
            DeprecationWarning,
            stacklevel=2,
        )
        import importlib

        return getattr(importlib.import_module(module), new)
    if name[:1].isupper() and name.isidentifier():
        # an smp-style constructor (seghub.Unet): offered by whichever decoder plugin registers it
        from ._constructors import find_constructor

        return find_constructor(name)  # not cached: plugins registered later count too
    raise AttributeError(f"module 'seghub' has no attribute {name!r}")


if TYPE_CHECKING:
    from .plugins import PLUGIN_API_VERSION, DecoderConstraints, FeatureRule, Registry, hookimpl
    from ._constructors import create_model, spec_from_smp_arguments
    from ._heads import ClassificationHead, SegmentationHead
    from ._model import SegmentationModel, build_model, from_pretrained
    from ._preprocessing import preprocessing_params
    from ._protocols import Decoder, Encoder, check_decoder_attributes, check_encoder_attributes
    from ._spec import (
        ClassificationHeadSpec,
        DecoderSpec,
        EncoderSpec,
        NeckSpec,
        ModelSpec,
        SegmentationHeadSpec,
        model_schema,
    )
    from ._validation import validate_spec
    from .plugins._discovery import (
        get_hub,
        list_decoders,
        list_encoders,
        list_necks,
        list_plugins,
        register_plugin,
        unregister_plugin,
    )
