"""Weights of ``timm:`` encoders: the tag table drawn from timm's pretrained configs, and
resolving a tag to a local safetensors file (imports timm, not torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from timm.models import get_arch_pretrained_cfgs, get_pretrained_cfg

from seghub.errors import WeightsError
from seghub.weights import PretrainedWeights, Preprocessing, resolve_file

from ._names import PREFIX, model_part, split_tag

__all__ = ["weights_table", "resolve_weights", "DEFAULT_TAG"]

DEFAULT_TAG = "imagenet"
"""Stands for the model's default pretrained tag in timm (or the tag in the name)."""


def _safetensors_name(filename: str | None) -> str:
    """The safetensors file a timm Hub repo holds for the (possibly pickle) ``hf_hub_filename``."""
    if not filename or filename == "pytorch_model.bin":
        return "model.safetensors"
    if filename == "open_clip_pytorch_model.bin":
        return "open_clip_model.safetensors"
    if filename.endswith(".bin"):
        return filename[: -len(".bin")] + ".safetensors"
    return filename


def _entry(model_with_tag: str, cfg: Any) -> PretrainedWeights | None:
    if not getattr(cfg, "hf_hub_id", None):
        return None  # not on the Hugging Face Hub: not loadable offline-safely
    return PretrainedWeights(
        repo_id=cfg.hf_hub_id,
        filename=_safetensors_name(cfg.hf_hub_filename),
        preprocessing=Preprocessing(
            mean=tuple(float(v) for v in cfg.mean),
            std=tuple(float(v) for v in cfg.std),
            input_range=(0.0, 1.0),
            input_space="RGB",
        ),
        description=f"timm {model_with_tag}",
    )


def _default_tag(arch: str) -> str | None:
    cfg = get_pretrained_cfg(arch)
    return getattr(cfg, "tag", None) if cfg is not None else None


def weights_table(name: str) -> dict[str, PretrainedWeights]:
    """Tag -> weights for ``timm:<model>[.<tag>]``: ``"imagenet"`` plus timm's pretrained tags.

    Without a tag in the name every tag timm knows for the architecture is offered and
    ``"imagenet"`` is timm's default one; a tag in the name pins the weights to that tag.
    """
    arch, tag = split_tag(model_part(name))
    table: dict[str, PretrainedWeights] = {}
    if tag is None:
        default_tag = _default_tag(arch)
        for key, cfg in get_arch_pretrained_cfgs(arch).items():
            entry = _entry(key, cfg)
            if entry is not None:
                table[key.partition(".")[2]] = entry
        if default_tag in table:
            table = {DEFAULT_TAG: table[default_tag], **table}
        return table
    entry = _entry(f"{arch}.{tag}", get_pretrained_cfg(f"{arch}.{tag}"))
    if entry is not None:
        table = {DEFAULT_TAG: entry, tag: entry}
    return table


def resolve_weights(model: str, weights: str | None) -> tuple[str, Path | None]:
    """The timm model name to build and the local safetensors file to load (None: no weights).

    ``weights`` is None, a tag of :func:`weights_table`, or a path to a ``.safetensors`` file.
    Hub files are looked up through :func:`seghub.weights.resolve_file` (Hugging Face cache
    first, so it works offline), never unpickled. Raises :class:`WeightsError`.
    """
    if weights is None:
        return model, None
    path = Path(weights).expanduser()
    if path.is_file():
        if path.suffix != ".safetensors":
            raise WeightsError(f"refusing to load {str(path)!r}: only .safetensors files are loaded (never pickles)")
        return model, path
    name = PREFIX + model
    table = weights_table(name)
    if weights not in table:
        tags = ", ".join(repr(t) for t in table) or "none (timm has no Hugging Face weights for it)"
        raise WeightsError(
            f"encoder {name!r} has no weights {weights!r}; available tags: {tags}, "
            "or a path to an existing .safetensors file. To build without pretrained weights "
            "set encoder.weights to null."
        )
    entry = table[weights]
    arch, tag = split_tag(model)
    if tag is None:
        tag = _default_tag(arch) if weights == DEFAULT_TAG else weights
    return f"{arch}.{tag}", resolve_file(entry, encoder=name, tag=weights)
