"""SegmentationModel: heads, activations, input-size rule, freezing, predict, protocol checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import seghub
from seghub._protocols import check_decoder_attributes, check_decoder_output, check_encoder_attributes, check_encoder_output
from seghub.errors import InputShapeError, ProtocolError
from toy_plugins import ToyEncoder

X = torch.randn(2, 3, 64, 64)


def _model(toy, head=None, cls=None, depth=3):
    spec = {"encoder": {"name": "toy", "depth": depth}, "decoder": {"name": "toyhead"}, "segmentation_head": {"classes": 3, **(head or {})}}
    if cls is not None:
        spec["classification_head"] = cls
    return seghub.build_model(spec)


def test_forward_returns_mask_or_mask_and_label(toy):
    model = _model(toy)
    assert model.classification_head is None
    assert model(X).shape == (2, 3, 64, 64)
    with_cls = _model(toy, cls={"classes": 5, "pooling": "max", "dropout": 0.5})
    mask, label = with_cls(X)
    assert mask.shape == (2, 3, 64, 64) and label.shape == (2, 5)
    assert isinstance(with_cls.classification_head[2], nn.Dropout)
    assert isinstance(with_cls.classification_head[0], nn.AdaptiveMaxPool2d)


def test_head_upsampling_defaults_to_decoder_reduction(toy):
    model = _model(toy, head={"upsampling": 1})
    assert model(X).shape == (2, 3, 32, 32)  # toyhead outputs at reduction 2
    assert _model(toy).spec.segmentation_head.upsampling == 2


@pytest.mark.parametrize("activation", [None, "identity", "sigmoid", "softmax", "softmax2d", "logsoftmax", "tanh", "argmax", "argmax2d"])
def test_every_activation(toy, activation):
    torch.manual_seed(0)
    raw = _model(toy).eval()
    model = _model(toy, head={"activation": activation}).eval()
    model.load_state_dict(raw.state_dict())
    logits, out = raw(X), model(X)
    expected = {
        None: logits,
        "identity": logits,
        "sigmoid": torch.sigmoid(logits),
        "softmax": logits.softmax(1),
        "softmax2d": logits.softmax(1),
        "logsoftmax": logits.log_softmax(1),
        "tanh": torch.tanh(logits),
        "argmax": logits.argmax(1),
        "argmax2d": logits.argmax(1),
    }[activation]
    assert out.shape == expected.shape
    assert torch.allclose(out.float(), expected.float(), atol=1e-6)


def test_callable_activation_and_classification_activation(toy):
    model = seghub.build_model(
        {
            "encoder": {"name": "toy", "depth": 2},
            "decoder": {"name": "toyhead"},
            "segmentation_head": {"activation": lambda t: t * 0 + 7},
            "classification_head": {"classes": 4, "activation": "softmax"},
        }
    )
    mask, label = model(X)
    assert torch.all(mask == 7)
    assert torch.allclose(label.sum(1), torch.ones(2))


def test_unknown_activation_name_is_refused_by_the_head():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        seghub.SegmentationHead(4, 2, activation="swish")


def test_input_size_error_names_sizes_before_any_convolution(toy):
    model = _model(toy, depth=3)
    calls = []
    model.encoder.register_forward_pre_hook(lambda *a: calls.append(1))
    with pytest.raises(InputShapeError, match=r"height 60 and width 64 .* divisible by 8.*56x64 or 64x64"):
        model(torch.randn(1, 3, 60, 64))
    assert calls == []
    assert model(torch.randn(1, 3, 72, 64)).shape == (1, 3, 72, 64)


def test_predict_is_eval_and_without_grad(toy):
    model = _model(toy).train()
    out = model.predict(X)
    assert not model.training and not out.requires_grad


def test_freeze_and_unfreeze_encoder(toy):
    model = _model(toy).train()
    frozen_before = next(model.encoder.parameters())
    frozen_before.requires_grad_(False)  # frozen by the user: unfreeze must leave it so
    model.freeze_encoder()
    bn = model.encoder.stages[1][1]
    stats = bn.running_mean.clone()
    model.train()
    assert not bn.training and model.decoder.training
    model(X).mean().backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.decoder.parameters())
    assert torch.equal(bn.running_mean, stats)
    model.unfreeze_encoder()
    assert bn.training
    assert [p.requires_grad for p in model.encoder.parameters()].count(False) == 1
    assert not frozen_before.requires_grad
    model(X)
    assert not torch.equal(bn.running_mean, stats)


def test_preprocessing_params(toy):
    expected = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "input_range": [0.0, 1.0], "input_space": "RGB"}
    assert seghub.preprocessing_params("toy", "toyset") == expected
    with pytest.raises(seghub.WeightsError, match="available: toyset"):
        seghub.preprocessing_params("toy", "imagenet")
    assert _model(toy).preprocessing_params is None


class _Declared(nn.Module):
    def __init__(self, out_channels, reductions, returns=None):
        super().__init__()
        self.in_channels, self.out_channels, self.reductions = 3, out_channels, reductions
        self.returns = returns


@pytest.mark.parametrize(
    ("encoder", "fragment"),
    [
        (_Declared((4, 8), (2,)), "2 out_channels (4, 8) but 1 reductions"),
        (_Declared((4, 8), (4, 2)), "decrease at index 1"),
        (_Declared((), ()), "out_channels is empty"),
        (_Declared((4, 0), (2, 4)), "positive ints"),
        (nn.ReLU(), "no attribute 'in_channels'"),
    ],
)
def test_encoder_protocol_errors(encoder, fragment):
    with pytest.raises(ProtocolError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        check_encoder_attributes(encoder)


def test_encoder_and_decoder_output_checks():
    encoder = ToyEncoder(name="toy", in_channels=3, depth=3, output_stride=32, weights=None)
    x = torch.randn(1, 3, 64, 64)
    features = encoder(x)
    check_encoder_output(encoder, x, features)
    with pytest.raises(ProtocolError, match="returned 2 feature maps but declares 3"):
        check_encoder_output(encoder, x, features[:2])
    with pytest.raises(ProtocolError, match="feature 1 has 8 channels, declared 16"):
        encoder.out_channels = (4, 16, 16)
        check_encoder_output(encoder, x, features)
    decoder = nn.Conv2d(4, 2, 1)
    with pytest.raises(ProtocolError, match="no attribute 'reduction'"):
        check_decoder_attributes(decoder)
    decoder.out_channels, decoder.reduction = 2, 4
    with pytest.raises(ProtocolError, match="reduction 4 means"):
        check_decoder_output(decoder, x, decoder(features[0]))
