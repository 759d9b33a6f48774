"""What the smp-style constructors share: from a constructor's arguments to a built model.

Each architecture's ``model.py`` holds its constructor with smp 0.6's signature; the
constructor hands its arguments here, and seghub's generic mapping
(:func:`seghub.spec_from_smp_arguments`) turns them into a spec, so ``model.spec`` is set and
the constructor and spec paths follow the same rules.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from seghub import EncoderSpec, build_model, get_hub, spec_from_smp_arguments

if TYPE_CHECKING:
    from seghub import SegmentationModel

__all__ = ["ActivationArg", "NormArg", "smp_model"]

ActivationArg = str | Callable[..., Any] | None
NormArg = bool | str | dict[str, Any]


def smp_model(
    decoder: str,
    arguments: Mapping[str, Any],
    *,
    renamed: Mapping[str, str] | None = None,
    encoder_params: Mapping[str, Any] | None = None,
) -> SegmentationModel:
    """Build ``decoder`` from a constructor's ``locals()``: its named arguments plus ``kwargs``.

    ``renamed`` maps smp's deprecated spellings in ``kwargs`` to their new names (with a
    ``DeprecationWarning``, as smp gives); ``encoder_params`` adds encoder options the
    constructor names itself (DPT's ``encoder_output_indices``).

    An ``encoder_depth`` or ``encoder_output_stride`` left at the decoder's preferred value (its
    constructor's default) stays unset in the spec, as a preference, so an encoder that cannot
    dilate builds at its native stride (with a warning) instead of failing.
    """
    args = dict(arguments)
    preferred = {**{f: EncoderSpec.model_fields[f].default for f in ("depth", "output_stride")},
                 **get_hub().decoder(decoder).encoder_defaults}
    for argument, field in (("encoder_depth", "depth"), ("encoder_output_stride", "output_stride")):
        if args.get(argument) == preferred[field]:
            args[argument] = None
    extra = dict(args.pop("kwargs", {}))
    for old, new in (renamed or {}).items():
        if old in extra:
            warnings.warn(f"{old} is deprecated (as in smp); use {new}", DeprecationWarning, stacklevel=3)
            value = extra.pop(old)
            if value is not None:
                args[new] = value
    extra.update(encoder_params or {})
    return build_model(spec_from_smp_arguments(decoder, **args, **extra))
