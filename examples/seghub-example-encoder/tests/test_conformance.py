"""The example plugin passes seghub's conformance kit."""

from __future__ import annotations

from seghub.testing import check_decoder, check_encoder


def test_mobilenet_lite_conforms():
    report = check_encoder("mobilenet_lite", params={"width_multiplier": 0.5}, export=True)
    assert not report.refused  # every depth, in_channels and output stride works


def test_mobilenet_lite_compiles_in_one_graph():
    check_encoder("mobilenet_lite", depths=(5,), in_channels=(), output_strides=(), compile="aot_eager")


def test_skipadd_conforms_on_the_synthetic_encoder():
    check_decoder("skipadd", params={"decoder_channels": 16}, compile="aot_eager", export=True)


def test_skipadd_conforms_on_mobilenet_lite():
    check_decoder("skipadd", encoder={"name": "mobilenet_lite", "params": {"width_multiplier": 0.5}}, input_size=(64, 96))
