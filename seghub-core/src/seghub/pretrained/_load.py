"""Loading a saved model: find its files, check config, plugins and weights, then build and load.

The model is rebuilt through the plugins with ``encoder.weights`` set to null, so no pretrained
download happens; the weights are checked against the model (missing, unexpected and mis-shaped
keys are listed) and only then loaded: a failure raises and leaves no model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import SpecError, WeightsError
from ..weights import load_state_dict
from ._config import CONFIG_NAME, WEIGHTS_NAME, check_requirements, read_config, rooted
from ._files import resolve_files
from ._save import sha256_of

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["load_pretrained", "build_without_download", "with_weights_tag", "load_checked"]

M = TypeVar("M", bound="nn.Module")


def with_weights_tag(model: M, tag: str | None) -> M:
    """Record ``tag`` as the spec's ``encoder.weights`` (where the weights came from)."""
    spec = getattr(model, "spec", None)
    if tag is not None and spec is not None:
        encoder = spec.encoder.model_copy(update={"weights": tag})
        model.spec = spec.model_copy(update={"encoder": encoder})
    return model


def build_without_download(spec: Mapping[str, Any], build: Callable[[Mapping[str, Any]], M]) -> M:
    """``build(spec)`` with ``encoder.weights`` set to null (no pretrained download), then the
    original weights tag recorded in ``model.spec`` again. Spec errors are rooted at ``spec``."""
    data = dict(spec)
    encoder = data.get("encoder")
    tag = encoder.get("weights") if isinstance(encoder, Mapping) else None
    if isinstance(tag, str):
        data["encoder"] = {**encoder, "weights": None}  # type: ignore[dict-item]
    try:
        model = build(data)
    except SpecError as exc:
        raise rooted(exc, "spec") from None
    return with_weights_tag(model, tag if isinstance(tag, str) else None)


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def load_checked(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load ``state_dict`` into ``model`` after checking it matches exactly; otherwise raise
    :class:`WeightsError` listing missing, unexpected and mis-shaped keys (nothing is loaded)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k}: file {_shape(state_dict[k].shape)}, model {_shape(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    problems = []
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("mis-shaped keys", misshaped)):
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items) - 8} more)" if len(items) > 8 else "")
            problems.append(f"{len(items)} {title}: {shown}")
    if problems:
        raise WeightsError(f"the weights in {source} do not fit the model: " + "; ".join(problems))
    model.load_state_dict(dict(state_dict), strict=True)


def load_pretrained(
    source: str | os.PathLike[str],
    *,
    build: Callable[[Mapping[str, Any]], M],
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    device: str | torch.device | None = None,
) -> M:
    """Load a saved model from a folder or Hub repo id, building it with ``build(spec)``.

    Raises :class:`SpecError` (bad, unknown-key or newer config), :class:`~seghub.PluginError`
    (a needed plugin distribution is not installed, with the pip command), or
    :class:`WeightsError` (files not to be had, corrupt or tampered weights, weights that do not
    fit), and in each case returns no model. The model comes back in eval mode.
    """
    paths = resolve_files(
        source, (CONFIG_NAME, WEIGHTS_NAME), revision=revision, token=token, cache_dir=cache_dir,
        local_files_only=local_files_only,
    )
    config = read_config(paths[CONFIG_NAME])
    check_requirements(config)
    weights = paths[WEIGHTS_NAME]
    if config.weights_sha256 is not None and sha256_of(weights) != config.weights_sha256.lower():
        raise WeightsError(
            f"{str(weights)!r} does not match the sha256 recorded in {CONFIG_NAME}: the weights file was "
            "modified, truncated or corrupted"
        )
    model = build_without_download(config.spec, build)
    load_checked(model, load_state_dict(weights), source=repr(str(weights)))
    if device is not None:
        model.to(device)
    return model.eval()
