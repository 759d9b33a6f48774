"""forward() refuses what it cannot take before the encoder runs, each refusal an
InputShapeError naming the expected shape; the checks cost no graph break under
torch.compile(fullgraph=True) and keep torch.export's dynamic height and width (issue 17, item 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.export import Dim

import seghub
from seghub.errors import InputShapeError


@pytest.fixture
def model(toy):
    torch.manual_seed(0)
    spec = {"encoder": {"name": "toy", "depth": 3, "in_channels": 2}, "decoder": {"name": "toyhead"},
            "segmentation_head": {"classes": 3}}
    return seghub.build_model(spec).eval()


@pytest.mark.parametrize(
    ("x", "fragment"),
    [
        (None, "takes a tensor of shape (N, 2, H, W), got NoneType"),
        (np.zeros((1, 2, 16, 16), dtype=np.float32), "takes a tensor of shape (N, 2, H, W), got ndarray"),
        ([[0.0]], "got list"),
        (torch.zeros(2, 16, 16), "4-d tensor of shape (N, 2, H, W), got shape (2, 16, 16)"),
        (torch.zeros(1, 1, 2, 16, 16), "got shape (1, 1, 2, 16, 16)"),
        (torch.zeros(1, 3, 16, 16), "takes 2 input channels, shape (N, 2, H, W); got shape (1, 3, 16, 16)"),
        (torch.zeros(1, 2, 16, 16, dtype=torch.uint8), "floating-point tensor; got torch.uint8"),
        (torch.zeros(1, 2, 16, 16, dtype=torch.long), "got torch.int64"),
        (torch.zeros(1, 2, 16, 16, dtype=torch.bool), "got torch.bool"),
        (torch.zeros(1, 2, 16, 16, dtype=torch.complex64), "got torch.complex64"),
        (torch.zeros(1, 2, 0, 16), "needs at least 8x8; got 0x16"),
        (torch.zeros(1, 2, 16, 0), "got 16x0"),
        (torch.zeros(1, 2, 4, 16), "got 4x16"),
    ],
    ids=["none", "numpy", "list", "rank3", "rank5", "channels", "uint8", "long", "bool", "complex", "h0", "w0", "small"],
)
def test_each_refusal_before_the_encoder_runs(model, x, fragment):
    calls = []
    model.encoder.register_forward_pre_hook(lambda *args: calls.append(1))
    with pytest.raises(InputShapeError) as info:
        model(x)
    assert fragment in str(info.value)
    with pytest.raises(InputShapeError):
        model.predict(x)
    assert calls == []


def test_a_valid_input_passes(model):
    assert model(torch.zeros(2, 2, 8, 24)).shape == (2, 3, 8, 24)
    assert model(torch.zeros(1, 2, 16, 16, dtype=torch.float64).float()).shape == (1, 3, 16, 16)


def test_no_graph_break_under_compile_fullgraph(model):
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="eager")  # a graph break raises
    # no size of the first input equals another (Dynamo's duck sizing would tie them) or is 1
    first, second = torch.randn(4, 2, 16, 24), torch.randn(3, 2, 24, 40)
    with torch.no_grad():
        torch.testing.assert_close(compiled(first), model(first))
        with torch._dynamo.config.patch(error_on_recompile=True):  # the checks pin no size
            torch.testing.assert_close(compiled(second), model(second))


def test_export_keeps_dynamic_height_and_width(model):
    x = torch.randn(2, 2, 16, 24)
    # from 16: the coarsest map (reduction 8) is never 1x1, which tracing would specialise
    program = torch.export.export(
        model, (x,), dynamic_shapes={"x": {2: Dim("height", min=16, max=512), 3: Dim("width", min=16, max=512)}}
    )
    shape = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == "x").meta["val"].shape
    assert all(isinstance(shape[i], torch.SymInt) for i in (2, 3)), shape
    other = torch.randn(2, 2, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(other), model(other))
