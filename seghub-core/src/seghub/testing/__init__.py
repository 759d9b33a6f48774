"""Helpers for testing seghub plugins and models.

* The conformance kit a plugin author runs from their own pytest suite:
  :func:`check_encoder`, :func:`check_decoder` and :func:`check_neck` build a registered encoder, decoder or neck in
  many configurations and raise :class:`ConformanceError` (an ``AssertionError``) naming each
  breach of the contract and what to fix. :func:`synthetic_encoder` gives decoder checks an
  encoder of any channels and reductions.
* :func:`offline_hub_cache` lays out files as the Hugging Face cache does, so code that loads
  pinned weights runs without a network.

The kit imports torch on first use of its functions; importing this package does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from ._hub_cache import offline_hub_cache, write_hub_file, write_hub_folder
from ._report import ConformanceError, ConformanceReport

_LAZY = {
    "check_encoder": "seghub.testing._encoder_check",
    "check_decoder": "seghub.testing._decoder_check",
    "check_neck": "seghub.testing._neck_check",
    "synthetic_encoder": "seghub.testing._synthetic",
    "SYNTHETIC_ENCODER": "seghub.testing._synthetic",
}

__all__ = ["offline_hub_cache", "write_hub_file", "write_hub_folder", "ConformanceError", "ConformanceReport", *_LAZY]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


if TYPE_CHECKING:
    from ._decoder_check import check_decoder
    from ._encoder_check import check_encoder
    from ._neck_check import check_neck
    from ._synthetic import SYNTHETIC_ENCODER, synthetic_encoder
