"""seghub-decoders' necks: ViTDet's simple feature pyramid and the token-grid resampler."""

from __future__ import annotations

import pytest
import torch
from seghub.testing import check_neck

from seghub_decoders.dpt.decoder import fit_intermediate_channels
from seghub_decoders.necks.grid_resample import GridResample
from seghub_decoders.necks.simple_pyramid import SimpleFeaturePyramid

torch.set_num_threads(1)


def _grid(side: int, reduction: int, channels: int = 8, count: int = 1) -> list[torch.Tensor]:
    return [torch.randn(2, channels, side // reduction, side // reduction) for _ in range(count)]


@pytest.mark.parametrize(("reduction", "side"), [(16, 64), (16, 96), (14, 224), (8, 64)])
def test_simple_pyramid_gives_quarter_half_same_double(reduction: int, side: int) -> None:
    neck = SimpleFeaturePyramid(encoder_channels=(8,) * 4, encoder_reductions=(reduction,) * 4, channels=12)
    base = 16 if reduction == 14 else reduction  # a patch-14 grid is first put at reduction 16
    assert neck.reductions == (base // 4, base // 2, base, base * 2)
    assert neck.out_channels == (12, 12, 12, 12)
    out = neck(_grid(side, reduction, count=4))
    assert [tuple(o.shape[-2:]) for o in out] == [(side // r, side // r) for r in neck.reductions]
    assert all(o.shape[:2] == (2, 12) for o in out)


def test_simple_pyramid_uses_the_last_map_only() -> None:
    neck = SimpleFeaturePyramid(encoder_channels=(8, 8), encoder_reductions=(16, 16), channels=8).eval()
    first, last = _grid(64, 16, count=2)
    with torch.no_grad():
        a = neck([first, last])
        b = neck([torch.zeros_like(first), last])
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_simple_pyramid_refuses_maps_too_fine_to_quarter() -> None:
    with pytest.raises(ValueError, match="which must be 4 or more; the encoder's last map is at reduction 2"):
        SimpleFeaturePyramid(encoder_channels=(8,), encoder_reductions=(2,), channels=8)


def test_grid_resample_moves_patch_14_grids_to_16_exactly() -> None:
    neck = GridResample(encoder_channels=(8, 8), encoder_reductions=(14, 14), mode="bilinear")
    assert neck.reductions == (16, 16) and neck.out_channels == (8, 8)
    assert list(neck.parameters()) == []
    out = neck(_grid(224, 14, count=2))
    assert [tuple(o.shape[-2:]) for o in out] == [(14, 14), (14, 14)]  # 224 / 16
    constant = torch.full((1, 8, 16, 16), 3.0)
    assert torch.allclose(neck([constant, constant])[0], torch.full((1, 8, 14, 14), 3.0))


def test_grid_resample_refuses_power_of_two_layouts() -> None:
    with pytest.raises(ValueError, match="nothing to do"):
        GridResample(encoder_channels=(8,), encoder_reductions=(16,), mode="bilinear")


@pytest.mark.parametrize("name", ["simple_pyramid", "grid_resample"])
def test_necks_pass_the_conformance_kit(name: str) -> None:
    report = check_neck(name, params={"channels": 16} if name == "simple_pyramid" else {}, export=True,
                        compile="aot_eager", import_light=False)
    assert report.checked and not report.problems


def test_dpt_intermediate_channels_adapt_to_the_feature_count() -> None:
    assert fit_intermediate_channels((256, 512, 1024, 1024), 4) == (256, 512, 1024, 1024)
    assert fit_intermediate_channels((256, 512, 1024, 1024), 5) == (256, 512, 1024, 1024, 1024)
    assert fit_intermediate_channels((256, 512, 1024, 1024), 3) == (256, 512, 1024)
    assert fit_intermediate_channels((32, 64), 5) == (32, 64)  # given values are never changed
