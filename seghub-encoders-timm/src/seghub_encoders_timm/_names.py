"""Names of the ``timm:`` family: splitting, listing and validating (imports timm)."""

from __future__ import annotations

import difflib

import timm
from timm.models import get_arch_pretrained_cfgs

from seghub.errors import UnknownNameError

__all__ = ["PREFIX", "ALIASES", "model_part", "split_tag", "list_names", "validate_name"]

PREFIX = "timm:"
ALIASES = ("tu-",)


def model_part(name: str) -> str:
    """``timm:resnet34`` or ``tu-resnet34`` -> ``resnet34`` (other names are returned unchanged)."""
    for prefix in (PREFIX, *ALIASES):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def split_tag(model: str) -> tuple[str, str | None]:
    """``convnext_tiny.fb_in1k`` -> ``("convnext_tiny", "fb_in1k")``; no tag -> ``None``."""
    arch, _, tag = model.partition(".")
    return arch, (tag or None)


def list_names(pattern: str | None = None) -> list[str]:
    """timm's model architectures (without prefix) matching a shell-style ``pattern``.

    Nothing is built: this reads timm's model registry only.
    """
    if not pattern:
        return list(timm.list_models())
    return list(timm.list_models(model_part(pattern)))


def _suggest(word: str, candidates: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(prefix + c) for c in close) + "?"


def validate_name(model: str) -> None:
    """Raise :class:`~seghub.errors.UnknownNameError` for a model or tag timm does not know."""
    model = model_part(model)
    arch, tag = split_tag(model)
    if not timm.is_model(arch):
        hint = _suggest(arch, timm.list_models(), PREFIX)
        raise UnknownNameError(
            f"unknown encoder {PREFIX + model!r}: timm {timm.__version__} has no model {arch!r}.{hint}"
        )
    if tag is None:
        return
    tags = [key.partition(".")[2] for key in get_arch_pretrained_cfgs(arch)]
    if tag not in tags:
        hint = _suggest(tag, tags, f"{PREFIX}{arch}.")
        known = ", ".join(tags) if tags else "none"
        raise UnknownNameError(
            f"unknown encoder {PREFIX + model!r}: timm model {arch!r} has no pretrained tag {tag!r} "
            f"(its tags: {known}).{hint}"
        )
