"""smp's way of making models, for every registered decoder.

:func:`create_model` takes segmentation_models_pytorch's arguments for any decoder a plugin
registers: it calls the decoder's own smp-style constructor when the plugin registered one
(``seghub.Unet`` comes from seghub-decoders), and otherwise maps the arguments to a spec with
:func:`spec_from_smp_arguments`, which constructors use too. The core knows the mapping of
smp's generic arguments, never an architecture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._excerpt import excerpt
from ._suggestions import close_matches
from .errors import MissingConstructorError
from .plugins import get_hub

__all__ = ["create_model", "spec_from_smp_arguments", "find_constructor", "STANDARD_DECODERS"]

STANDARD_DECODERS = "seghub-decoders"
"""The distribution that ships seghub's own decoders and their smp-style constructors."""

_AUX_KEYS = ("classes", "pooling", "dropout", "activation")
_AUX_DEFAULTS = {"pooling": "avg", "dropout": 0.2, "activation": None}  # smp's ClassificationHead defaults


def _classification_head(aux_params: Any) -> dict[str, Any]:
    if not isinstance(aux_params, Mapping):
        raise ValueError(
            f"aux_params must be a mapping such as dict(classes=4, pooling='avg', dropout=0.2) or None; "
            f"got {type(aux_params).__name__} {excerpt(aux_params)}"
        )
    unknown = [key for key in aux_params if key not in _AUX_KEYS]
    if unknown:
        raise ValueError(f"aux_params: unknown keys {excerpt(unknown)}; allowed: {sorted(_AUX_KEYS)}")
    return {**_AUX_DEFAULTS, **aux_params}


def spec_from_smp_arguments(
    arch: str,
    *,
    encoder_name: str = "resnet34",
    encoder_weights: str | bool | None = "imagenet",
    in_channels: int = 3,
    classes: int = 1,
    encoder_depth: int | None = None,
    encoder_output_stride: int | None = None,
    activation: str | Callable[..., Any] | None = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The spec that smp's constructor arguments describe, for decoder ``arch``.

    ``encoder_*`` arguments and ``in_channels`` go to the ``encoder`` section (an unset depth or
    output stride leaves it to the decoder's preference); ``classes``, ``activation`` and
    ``upsampling`` to the segmentation head; ``aux_params`` becomes the classification head
    (smp's defaults: average pooling, dropout 0.2). Of the other keyword arguments, those that
    name a field of the decoder's params model go to ``decoder.params`` and the rest to
    ``encoder.params``, as smp passes extra arguments to the encoder; None values are dropped
    (the field keeps its default). ``encoder_weights=True`` means ``"imagenet"``.
    """
    entry = get_hub().decoder(arch)
    model = entry.load_params_model()
    decoder_fields = set(getattr(model, "model_fields", ()))
    decoder_params = {k: _plain(v) for k, v in kwargs.items() if k in decoder_fields and v is not None}
    encoder_params = {k: _plain(v) for k, v in kwargs.items() if k not in decoder_fields and v is not None}
    encoder: dict[str, Any] = {
        "name": encoder_name,
        "weights": "imagenet" if encoder_weights is True else (encoder_weights or None),
        "in_channels": in_channels,
        "params": encoder_params,
    }
    if encoder_depth is not None:
        encoder["depth"] = encoder_depth
    if encoder_output_stride is not None:
        encoder["output_stride"] = encoder_output_stride
    spec: dict[str, Any] = {
        "encoder": encoder,
        "decoder": {"name": entry.name, "params": decoder_params},
        "segmentation_head": {"classes": classes, "activation": activation, "upsampling": upsampling},
    }
    if aux_params is not None:
        spec["classification_head"] = _classification_head(aux_params)
    return spec


def _plain(value: Any) -> Any:
    """Tuples as lists, as a JSON spec holds them."""
    return list(value) if isinstance(value, tuple) else value


def create_model(
    arch: str,
    encoder_name: str = "resnet34",
    encoder_weights: str | None = "imagenet",
    in_channels: int = 3,
    classes: int = 1,
    **kwargs: Any,
) -> Any:
    """Build decoder ``arch`` (any registered decoder, case-insensitive) the smp way, as
    ``smp.create_model`` does: through the decoder's smp-style constructor when its plugin
    registered one, else through :func:`spec_from_smp_arguments`."""
    from ._model import build_model

    entry = get_hub().decoder(arch)
    constructor = entry.load_constructor()
    if constructor is not None:
        return constructor(encoder_name, encoder_weights=encoder_weights, in_channels=in_channels, classes=classes, **kwargs)
    spec = spec_from_smp_arguments(
        entry.name, encoder_name=encoder_name, encoder_weights=encoder_weights, in_channels=in_channels,
        classes=classes, **kwargs,
    )
    return build_model(spec)


def find_constructor(name: str) -> Callable[..., Any]:
    """The smp-style constructor ``name`` (``"Unet"``) that an installed decoder plugin registers.

    Raises :class:`~seghub.errors.MissingConstructorError` (an ``AttributeError`` too) saying
    what to install when none does.
    """
    hub = get_hub()
    entry = hub.constructor(name)
    if entry is not None:
        constructor = entry.load_constructor()
        assert constructor is not None
        return constructor
    known = sorted(d.constructor_name for d in hub.decoders() if d.constructor_name)
    close = close_matches(name, known)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    installed = f" Installed constructors: {', '.join(known)}." if known else ""
    raise MissingConstructorError(
        f"seghub has no constructor {excerpt(name)}: no installed decoder plugin registers one.{hint}{installed} "
        f"seghub's own decoders and their smp-style constructors come with the {STANDARD_DECODERS} "
        f"distribution: pip install {STANDARD_DECODERS}; `seghub decoders` lists the installed decoders, "
        "and seghub.create_model(<decoder name>, ...) builds any of them."
    )
