"""Import segmentation_models_pytorch (smp) checkpoints into seghub models.

seghub's resnet encoders, decoders and heads use smp 0.6's module names, so most smp state
dicts load as they are. Where a plugin's layout differs, its modules say how to convert:

* ``decoder.smp_model_state_dict_to_seghub(state_dict)`` rewrites whole-model keys first (for
  decoders that own part of what smp calls the head, like DPT);
* then ``encoder.smp_state_dict_to_seghub`` / ``decoder.smp_state_dict_to_seghub`` rewrite keys
  relative to their module.

Whole models come over with :func:`from_smp_pretrained` (an smp ``save_pretrained`` folder or
Hub repo: ``config.json`` with ``_model_class`` and the constructor arguments, plus
``model.safetensors``) or :func:`from_smp_state_dict` (an architecture name, the constructor
arguments and a state dict). Both build through seghub's smp-style constructors without
downloading encoder weights, check every key and shape, and only then load.

smp itself is never imported, and nothing is unpickled: files must be safetensors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._constructors import create_model
from .._excerpt import shorten
from .._json_input import JSONInputError, read_json_file
from .._protocols import SmpModelStateDictConverter, SmpStateDictConverter
from ..errors import SpecError, SpecIssue
from ..pretrained import CONFIG_NAME, WEIGHTS_NAME, load_checked, resolve_files, with_weights_tag
from ..weights import load_state_dict

if TYPE_CHECKING:
    import torch

    from .._model import SegmentationModel

__all__ = ["convert_state_dict", "load_smp_state_dict", "from_smp_state_dict", "from_smp_pretrained"]

_PARTS = ("encoder", "decoder", "segmentation_head", "classification_head")


def convert_state_dict(model: SegmentationModel, state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an smp model's state dict into ``model``'s layout (tensors are not copied)."""
    if isinstance(model.decoder, SmpModelStateDictConverter):
        state_dict = model.decoder.smp_model_state_dict_to_seghub(dict(state_dict))
    converted: dict[str, torch.Tensor] = {}
    for part in _PARTS:
        prefix = part + "."
        section = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        module = getattr(model, part, None)
        if section and isinstance(module, SmpStateDictConverter):
            section = module.smp_state_dict_to_seghub(section)
        converted.update({prefix + k: v for k, v in section.items()})
    converted.update({k: v for k, v in state_dict.items() if not k.startswith(tuple(p + "." for p in _PARTS))})
    return converted


def load_smp_state_dict(model: SegmentationModel, state_dict: Mapping[str, torch.Tensor], *, strict: bool = True) -> None:
    """Load an smp model's state dict into the equivalent seghub model.

    Raises ``RuntimeError`` (from ``load_state_dict``) naming missing, unexpected or mis-shaped
    keys when the models do not correspond.
    """
    model.load_state_dict(convert_state_dict(model, state_dict), strict=strict)


def from_smp_state_dict(
    arch: str,
    state_dict: Mapping[str, torch.Tensor] | str | os.PathLike[str],
    **constructor_kwargs: Any,
) -> SegmentationModel:
    """The seghub model equivalent to ``smp.create_model(arch, **constructor_kwargs)``, holding
    an smp model's weights.

    ``state_dict`` is the smp model's state dict, or the path of a ``.safetensors`` file holding
    it. ``encoder_weights`` is recorded in ``model.spec`` but not downloaded. Raises
    :class:`~seghub.WeightsError` listing missing, unexpected and mis-shaped keys when the
    weights do not fit; no model is returned then.
    """
    tag = constructor_kwargs.pop("encoder_weights", None)
    if tag is True:
        tag = "imagenet"
    # the arguments first: a bad argument is reported as such, whatever the weights file holds
    model = create_model(arch, encoder_weights=None, **constructor_kwargs)
    if isinstance(state_dict, (str, os.PathLike)):
        source = repr(os.fspath(state_dict))
        state_dict = load_state_dict(state_dict)
    else:
        source = "the given state dict"
    load_checked(model, convert_state_dict(model, state_dict), source=source)
    return with_weights_tag(model, tag or None).eval()


def from_smp_pretrained(
    source: str | os.PathLike[str],
    revision: str | None = None,
    *,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> SegmentationModel:
    """Import a folder or Hub repo written by smp's ``model.save_pretrained`` (or
    ``push_to_hub``) as a seghub model with the same outputs, in eval mode.

    Reads ``config.json`` (``_model_class`` plus the constructor arguments) and
    ``model.safetensors``; checkpoints saved only as pickles are refused.
    """
    paths = resolve_files(
        source, (CONFIG_NAME, WEIGHTS_NAME), revision=revision, token=token, cache_dir=cache_dir,
        local_files_only=local_files_only,
    )
    config = _read_smp_config(Path(paths[CONFIG_NAME]))
    arch = config.pop("_model_class")
    kwargs = {k: v for k, v in config.items() if not k.startswith("_")}  # smp drops these too
    return from_smp_state_dict(arch, paths[WEIGHTS_NAME], **kwargs)


def _read_smp_config(path: Path) -> dict[str, Any]:
    try:
        config = read_json_file(path)
    except (OSError, JSONInputError) as exc:
        raise SpecError([SpecIssue((), f"{path.name} cannot be read as JSON: {shorten(str(exc))}")]) from None
    if not isinstance(config, dict) or not isinstance(config.get("_model_class"), str):
        hint = " (it looks like seghub's own; use seghub.from_pretrained)" if isinstance(config, dict) and "spec" in config else ""
        raise SpecError([SpecIssue(("_model_class",), f"not an smp config: no model class name{hint}")])
    return config
