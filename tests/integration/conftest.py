"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Run a module's tests on one intra-op thread, then restore the count.

    Tracing, compiling and checkpoint recomputation on tiny inputs are Python-bound; a second
    thread only fights over the busy cores for the small convolutions."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
