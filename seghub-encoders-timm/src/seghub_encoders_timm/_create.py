"""Calling ``timm.create_model``: probing on the meta device, and building with weights
from a local safetensors file, with timm's errors turned into seghub's."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from seghub.errors import WeightsError

__all__ = ["probe", "create"]

_BUILDER_LOGGER = "timm.models._builder"
_MISSING = "Missing keys ("


def probe(canonical: str, timm_name: str, **kwargs: Any) -> nn.Module:
    """Build ``timm_name`` without weights, on the meta device where possible, to read its
    ``feature_info``. Raises ``ValueError`` naming why timm cannot build it."""
    try:
        with torch.device("meta"):
            return timm.create_model(timm_name, pretrained=False, **kwargs)
    except Exception:  # some models compute values at init that meta tensors cannot give
        pass
    try:
        return timm.create_model(timm_name, pretrained=False, **kwargs)
    except Exception as exc:
        raise ValueError(f"timm cannot build {canonical!r} as an encoder: {type(exc).__name__}: {exc}") from exc


def create(canonical: str, timm_name: str, weights_file: Path | None, **kwargs: Any) -> nn.Module:
    """Build ``timm_name``, loading ``weights_file`` through timm's pretrained machinery
    (checkpoint filters, input-conv adaptation) when given.

    Raises :class:`WeightsError` when the file does not fit, including when it lacks tensors
    the model needs (timm itself only logs that).
    """
    if weights_file is None:
        try:
            return timm.create_model(timm_name, pretrained=False, **kwargs)
        except Exception as exc:
            raise ValueError(f"timm cannot build {canonical!r} as an encoder: {type(exc).__name__}: {exc}") from exc
    overlay = {"file": str(weights_file)}
    with _missing_keys() as missing:
        try:
            model = timm.create_model(timm_name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
        except Exception as exc:
            raise WeightsError(
                f"could not load weights file {str(weights_file)!r} into timm model {timm_name!r} "
                f"(encoder {canonical!r}): {type(exc).__name__}: {exc}"
            ) from exc
    lacking = [key for key in missing if not _is_classifier(timm_name, key)]
    if lacking:
        shown = ", ".join(lacking[:8]) + (", ..." if len(lacking) > 8 else "")
        raise WeightsError(
            f"weights file {str(weights_file)!r} lacks {len(lacking)} tensors that timm model "
            f"{timm_name!r} (encoder {canonical!r}) needs: {shown}"
        )
    return model


def _is_classifier(timm_name: str, key: str) -> bool:
    cfg = timm.models.get_pretrained_cfg(timm_name)
    names = getattr(cfg, "classifier", None) or ()
    if isinstance(names, str):
        names = (names,)
    return any(key.startswith(f"{name}.") for name in names)


class _KeyCollector(logging.Filter):
    """Collects the keys of timm's "Missing keys (...)" record; lets through only what the
    logger would have let through anyway."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        self.keys: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(_MISSING) and ")" in message:
            self.keys.extend(k.strip() for k in message[len(_MISSING):message.index(")")].split(","))
        return record.levelno >= self.level


@contextlib.contextmanager
def _missing_keys() -> Iterator[list[str]]:
    logger = logging.getLogger(_BUILDER_LOGGER)
    collector = _KeyCollector(logger.getEffectiveLevel())
    level = logger.level
    logger.setLevel(min(logging.INFO, collector.level))
    logger.addFilter(collector)
    try:
        yield collector.keys
    finally:
        logger.removeFilter(collector)
        logger.setLevel(level)
