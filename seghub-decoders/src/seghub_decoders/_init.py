"""Weight initialisation as smp's decoders get it."""

from __future__ import annotations

from torch import nn

__all__ = ["init_like_smp"]


def init_like_smp(module: nn.Module) -> None:
    """Initialise a decoder as smp's ``initialize_decoder`` does.

    Convolutions: Kaiming-uniform (fan-in, ReLU gain), zero bias; norm layers: weight 1, bias 0;
    linear layers: Xavier-uniform, zero bias.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
