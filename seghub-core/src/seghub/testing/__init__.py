"""Helpers for testing seghub plugins and models offline.

:func:`offline_hub_cache` lays out files as the Hugging Face cache does, so code that loads
pinned weights runs without a network.
"""

from __future__ import annotations

from ._hub_cache import offline_hub_cache, write_hub_file, write_hub_folder

__all__ = ["offline_hub_cache", "write_hub_file", "write_hub_folder"]
