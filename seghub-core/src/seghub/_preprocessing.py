"""How to normalise inputs for an encoder's pretrained weights (smp's ``get_preprocessing_params``)."""

from __future__ import annotations

from typing import Any

from .errors import WeightsError
from .plugins import get_hub

__all__ = ["preprocessing_params"]


def preprocessing_params(encoder_name: str, weights: str = "imagenet", *, provider: str | None = None) -> dict[str, Any]:
    """How to normalise inputs for an encoder's pretrained weights, as smp's
    ``get_preprocessing_params`` gives it: ``mean``, ``std``, ``input_range``, ``input_space``."""
    entry = get_hub().encoder(encoder_name, provider)
    table = entry.weights_table()
    if weights not in table:
        available = ", ".join(sorted(table)) or "none"
        raise WeightsError(f"encoder {encoder_name!r} has no weights {weights!r}; available: {available}")
    return table[weights].preprocessing.as_dict()
