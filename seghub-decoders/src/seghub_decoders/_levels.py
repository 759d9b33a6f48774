"""Bookkeeping of encoder feature levels: checks of what a decoder receives, and the U-Net family's
walk from the coarsest feature up to the input."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["format_reductions", "is_power_of_two", "check_features", "SkipLevels"]


def format_reductions(reductions: Sequence[int]) -> str:
    return "(" + ", ".join(str(r) for r in reductions) + ")"


def is_power_of_two(value: int) -> bool:
    return value >= 1 and value & (value - 1) == 0


def check_features(
    name: str, encoder_channels: Sequence[int], encoder_reductions: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validate the encoder description a decoder receives; return both as int tuples."""
    channels = tuple(int(c) for c in encoder_channels)
    reductions = tuple(int(r) for r in encoder_reductions)
    if not channels:
        raise ValueError(f"{name} needs at least one encoder feature; encoder_channels is empty")
    if len(channels) != len(reductions):
        raise ValueError(
            f"{name}: encoder_channels {channels} and encoder_reductions {reductions} must have one entry per feature"
        )
    if any(c < 0 for c in channels) or any(r < 1 for r in reductions):
        raise ValueError(f"{name}: invalid encoder_channels {channels} / encoder_reductions {reductions}")
    if any(b < a for a, b in zip(reductions, reductions[1:])):
        raise ValueError(f"{name}: encoder_reductions {reductions} must be non-decreasing (fine to coarse)")
    return channels, reductions


class SkipLevels:
    """The resolutions a U-Net-style decoder walks from the coarsest feature up to the input.

    Levels are the encoder's feature maps (fine to coarse), preceded by 0-channel placeholders
    for the power-of-two reductions finer than the first feature but above 1 (smp's
    "transformer-style" dummy feature for encoders that start at reduction 4), and followed,
    going up, by the input resolution (reduction 1, no skip). Decoder block ``i`` (deepest first)
    produces the resolution of ``targets[i]`` and merges ``skip_channels[i]`` channels there.

    >>> levels = SkipLevels("unet", (96, 192, 384, 768), (4, 8, 16, 32))
    >>> levels.head_channels, levels.skip_channels, levels.target_reductions
    (768, (384, 192, 96, 0, 0), (16, 8, 4, 2, 1))
    """

    def __init__(
        self, name: str, encoder_channels: Sequence[int], encoder_reductions: Sequence[int],
        *, strict_doubling: bool = False,
    ) -> None:
        channels, reductions = check_features(name, encoder_channels, encoder_reductions)
        if not all(is_power_of_two(r) for r in reductions):
            raise ValueError(
                f"{name} needs encoder reductions that are powers of two; "
                f"the encoder's reductions are {format_reductions(reductions)}"
            )
        if strict_doubling:
            for a, b in zip(reductions, reductions[1:]):
                if b != 2 * a:
                    raise ValueError(
                        f"{name} upsamples by exactly 2 per block, so it needs each feature at twice the "
                        f"reduction of the one before; the encoder's reductions are {format_reductions(reductions)} "
                        f"(a dilated encoder with output_stride < 32 cannot be used)"
                    )
        self.name = name
        self.encoder_reductions = reductions
        # Placeholder levels between reduction 1 (exclusive) and the first feature.
        pads: list[int] = []
        r = reductions[0] // 2
        while r >= 2:
            pads.insert(0, r)
            r //= 2
        self.num_placeholders = len(pads)
        level_channels = (0,) * len(pads) + channels
        level_reductions = tuple(pads) + reductions
        self.head_channels: int = level_channels[-1]
        self.head_reduction: int = level_reductions[-1]
        # Going up: every level below the head, then the input resolution unless a feature is there.
        skips = list(level_channels[:-1][::-1])
        targets = list(level_reductions[:-1][::-1])
        if level_reductions[0] > 1:
            skips.append(0)
            targets.append(1)
        self.skip_channels: tuple[int, ...] = tuple(skips)
        self.target_reductions: tuple[int, ...] = tuple(targets)
        self.has_skip: tuple[bool, ...] = tuple(
            i < len(level_channels) - 1 for i in range(len(targets))
        )
        """Whether block ``i`` receives a skip tensor (possibly a 0-channel placeholder)."""
        self.output_reduction: int = targets[-1] if targets else level_reductions[-1]

    @property
    def num_blocks(self) -> int:
        return len(self.target_reductions)

    def check_channels(self, decoder_channels: Sequence[int], field: str = "decoder_channels") -> tuple[int, ...]:
        """``decoder_channels`` must give one width per block; raise a ``ValueError`` that says why."""
        values = tuple(decoder_channels)
        if len(values) != self.num_blocks:
            raise ValueError(
                f"{self.name}: {field} has {len(values)} entries {values} but this encoder needs "
                f"{self.num_blocks} decoder blocks (encoder reductions "
                f"{format_reductions(self.encoder_reductions)} -> block outputs at reductions "
                f"{format_reductions(self.target_reductions)}); give {self.num_blocks} values, deepest first"
            )
        return values

    def split(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor | None], list[tuple[int, int]]]:
        """Return ``(head, skips, sizes)`` for the blocks, deepest first.

        ``skips[i]`` is the skip tensor of block ``i`` (a 0-channel placeholder at missing levels,
        ``None`` at the input resolution); ``sizes[i]`` its output height and width.
        """
        first = features[0]
        r0 = self.encoder_reductions[0]
        batch, _, h0, w0 = first.shape
        pads = [
            first.new_empty(batch, 0, h0 * (r0 // r), w0 * (r0 // r))
            for r in self._placeholder_reductions()
        ]
        levels = pads + list(features)
        head = levels[-1]
        skips: list[torch.Tensor | None] = list(levels[:-1][::-1])
        sizes = [tuple(t.shape[-2:]) for t in skips]  # type: ignore[union-attr]
        if len(skips) < self.num_blocks:
            skips.append(None)
            sizes.append((h0 * r0, w0 * r0))
        return head, skips, sizes  # type: ignore[return-value]

    def _placeholder_reductions(self) -> list[int]:
        r0 = self.encoder_reductions[0]
        return [r0 >> k for k in range(self.num_placeholders, 0, -1)]
