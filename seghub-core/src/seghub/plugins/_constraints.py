"""What a decoder can take, declared as data when it registers and checked by the builder.

A decoder states which encoder output strides it accepts, which feature maps it needs (how
many, at which reductions, in which pattern) and how small its coarsest map may get. The
builder checks these before it builds the decoder, and the model checks the input size before
any convolution runs, so the spec path and the smp-style constructors follow one rule, and
``seghub decoders`` can show it. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = ["FeatureRule", "DecoderConstraints", "ReductionPattern", "format_reductions"]

ReductionPattern = Literal["any", "power_of_two", "power_of_two_ratios", "doubling"]
_PATTERNS: tuple[str, ...] = ("any", "power_of_two", "power_of_two_ratios", "doubling")


def format_reductions(reductions: Sequence[int]) -> str:
    """``(2, 4, 8)``: reductions as users see them in messages."""
    return "(" + ", ".join(str(r) for r in reductions) + ")"


def _power_of_two(value: int) -> bool:
    return value >= 1 and value & (value - 1) == 0


@dataclass(frozen=True)
class FeatureRule:
    """Which encoder feature maps a decoder uses, and what it needs of them.

    The decoder uses the features at reduction ``from_reduction`` or more; of those, the last
    ``last`` when given, else all. It needs at least ``min_features`` of them, every reduction in
    ``needs_reductions`` among them, a coarsest one at ``min_coarsest_reduction`` or more, and
    their reductions to follow ``pattern``:

    * ``"any"``: no rule;
    * ``"power_of_two"``: each a power of two (2, 4, 8, ...);
    * ``"power_of_two_ratios"``: each a power-of-two multiple of the finest one used;
    * ``"doubling"``: powers of two, each twice the one before (no dilated encoders).

    ``reads_needed_only``: of those, the decoder reads only the ones at ``needs_reductions``
    and the coarsest (DeepLabV3+: the skip at 4 and the map for ASPP). The builder then asks a
    neck that can for just those, so no neck branch goes unused.
    """

    min_features: int = 1
    from_reduction: int = 1
    last: int | None = None
    pattern: ReductionPattern = "any"
    needs_reductions: tuple[int, ...] = ()
    min_coarsest_reduction: int = 1
    reads_needed_only: bool = False

    def __post_init__(self) -> None:
        for name in ("min_features", "from_reduction", "min_coarsest_reduction"):
            _check_positive(name, getattr(self, name))
        if self.last is not None:
            _check_positive("last", self.last)
        if self.pattern not in _PATTERNS:
            raise ValueError(f"pattern must be one of {', '.join(_PATTERNS)}; got {self.pattern!r}")
        object.__setattr__(self, "needs_reductions", tuple(self.needs_reductions))
        for value in self.needs_reductions:
            _check_positive("needs_reductions", value)

    def used(self, reductions: Sequence[int]) -> tuple[int, ...]:
        """The reductions of the features the decoder uses, fine to coarse."""
        kept = tuple(r for r in reductions if r >= self.from_reduction)
        return kept if self.last is None else kept[-self.last:]

    def read(self, reductions: Sequence[int]) -> tuple[int, ...]:
        """The reductions of the features the decoder actually reads, fine to coarse."""
        used = self.used(reductions)
        if not self.reads_needed_only or not used:
            return used
        return tuple(sorted({*(r for r in self.needs_reductions if r in used), used[-1]}))

    def problem(self, reductions: Sequence[int]) -> str | None:
        """Why features at ``reductions`` cannot be used, or None when they can."""
        used = self.used(reductions)
        where = f"the encoder's reductions are {format_reductions(tuple(reductions))}"
        at = f" at reduction {self.from_reduction} or more" if self.from_reduction > 1 else ""
        if len(used) < self.min_features:
            plural = "s" if self.min_features != 1 else ""
            return f"needs at least {self.min_features} encoder feature{plural}{at}; {where}"
        missing = [r for r in self.needs_reductions if r not in used]
        if missing:
            return f"needs a feature map at reduction {' and '.join(map(str, missing))}; {where}"
        if used[-1] < self.min_coarsest_reduction:
            return f"needs a coarsest feature map at reduction {self.min_coarsest_reduction} or more; {where}"
        return self._pattern_problem(used, where)

    def _pattern_problem(self, used: tuple[int, ...], where: str) -> str | None:
        if self.pattern == "power_of_two" and not all(_power_of_two(r) for r in used):
            return f"needs reductions that are powers of two; {where}"
        if self.pattern == "power_of_two_ratios":
            finest = used[0]
            if any(r % finest or not _power_of_two(r // finest) for r in used):
                return f"needs each reduction to be a power-of-two multiple of the finest one used; {where}"
        if self.pattern == "doubling":
            if not all(_power_of_two(r) for r in used) or any(b != 2 * a for a, b in zip(used, used[1:])):
                return (
                    f"needs reductions that are powers of two, each twice the one before (an encoder that "
                    f"dilates, with output_stride below 32, cannot be used); {where}"
                )
        return None

    def describe(self) -> str:
        """One line for listings, or an empty string when anything goes."""
        parts = []
        at = f" at reduction >= {self.from_reduction}" if self.from_reduction > 1 else ""
        if self.last is not None:
            what = "last feature" if self.last == 1 else f"last {self.last} features"
            parts.append(what + at + (f" (needs {self.min_features})" if self.min_features > 1 else ""))
        elif self.min_features > 1:
            parts.append(f">= {self.min_features} features{at}")
        elif at:
            parts.append(f"features{at}")
        if self.needs_reductions:
            parts.append("a feature at reduction " + " and ".join(map(str, self.needs_reductions)))
        if self.min_coarsest_reduction > 1:
            parts.append(f"coarsest at reduction >= {self.min_coarsest_reduction}")
        if self.pattern != "any":
            parts.append({
                "power_of_two": "power-of-two reductions",
                "power_of_two_ratios": "power-of-two reduction ratios",
                "doubling": "each reduction twice the one before",
            }[self.pattern])
        return ", ".join(parts)


@dataclass(frozen=True)
class DecoderConstraints:
    """Everything a decoder declares about what it can take.

    ``output_strides``: the encoder output strides it accepts (None: any). ``min_feature_size``:
    the smallest height and width its coarsest feature map may have, so the smallest input is
    that many times the coarsest reduction it uses (PAN's pyramid attention halves its map three
    times: 8). ``features``: the :class:`FeatureRule` for the encoder's feature maps.
    """

    output_strides: tuple[int, ...] | None = None
    min_feature_size: int = 1
    features: FeatureRule = field(default_factory=FeatureRule)

    def __post_init__(self) -> None:
        if self.output_strides is not None:
            object.__setattr__(self, "output_strides", tuple(self.output_strides))
            if not self.output_strides:
                raise ValueError("output_strides must name at least one stride, or be None for any")
            for stride in self.output_strides:
                _check_positive("output_strides", stride)
        _check_positive("min_feature_size", self.min_feature_size)
        if isinstance(self.features, Mapping):
            object.__setattr__(self, "features", FeatureRule(**self.features))
        if not isinstance(self.features, FeatureRule):
            raise TypeError(f"features must be a FeatureRule or a mapping of its fields; got {self.features!r}")

    @classmethod
    def coerce(cls, value: DecoderConstraints | Mapping[str, Any] | None) -> DecoderConstraints:
        """Constraints from a :class:`DecoderConstraints`, a mapping of its fields, or None (none)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {f.name for f in fields(cls)})
            if unknown:
                raise ValueError(f"unknown constraint(s) {', '.join(unknown)}; allowed: {', '.join(f.name for f in fields(cls))}")
            return cls(**value)
        raise TypeError(f"constraints must be DecoderConstraints, a mapping or None; got {type(value).__name__}")

    def output_stride_problem(self, output_stride: int) -> str | None:
        """Why the encoder's ``output_stride`` is not accepted, or None."""
        if self.output_strides is None or output_stride in self.output_strides:
            return None
        allowed = " or ".join(map(str, self.output_strides))
        return f"accepts encoder output_stride {allowed}; got {output_stride}"

    def min_input_size(self, reductions: Sequence[int]) -> int:
        """The smallest input height and width for features at ``reductions``."""
        used = self.features.used(reductions) or tuple(reductions)
        return self.min_feature_size * max(used, default=1)

    def describe(self) -> str:
        """One line for ``seghub decoders``; empty when the decoder takes anything."""
        parts = []
        if self.output_strides is not None:
            parts.append("output stride " + "|".join(map(str, self.output_strides)))
        rule = self.features.describe()
        if rule:
            parts.append(rule)
        if self.min_feature_size > 1:
            parts.append(f"coarsest map >= {self.min_feature_size}x{self.min_feature_size}")
        return "; ".join(parts)


def _check_positive(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
