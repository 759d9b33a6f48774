"""seghub.losses next to segmentation_models_pytorch.losses: forward + backward time per loss.

    python benchmarks/losses.py [--quick] [--losses dice,lovasz] [--repeats 5] [--threads 1]

Each loss computes its value on a batch of logits and the gradient w.r.t. them: multiclass on
8x19x512x512 logits with class-index targets, binary on 8x1x512x512 logits with 0/1 targets
(``--quick``: 2x19x256x256 and 2x1x256x256). seghub and smp run in the same process with the
same inputs, interleaved (seghub, smp, smp, seghub, ...), after one warm-up call each; each
number is the median of ``--repeats`` calls and the ratio is seghub / smp (target: <= 1.0).
SoftCrossEntropyLoss runs with ``smooth_factor=0.1`` (smp 0.6 fails on its default None), and
MCCLoss on sigmoid probabilities (it takes no logits) with the sigmoid inside the timing.
It measures the installed seghub (``PYTHONPATH=seghub-core/src`` for a checkout's).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import torch

import seghub.losses as ours

FULL = {"multiclass": (8, 19, 512, 512), "binary": (8, 1, 512, 512)}
QUICK = {"multiclass": (2, 19, 256, 256), "binary": (2, 1, 256, 256)}
# (key, mode, class name, keyword arguments, takes probabilities)
CASES = (
    ("dice", "multiclass", "DiceLoss", {"mode": "multiclass"}, False),
    ("jaccard", "multiclass", "JaccardLoss", {"mode": "multiclass"}, False),
    ("tversky", "multiclass", "TverskyLoss", {"mode": "multiclass", "alpha": 0.3, "beta": 0.7}, False),
    ("focal", "multiclass", "FocalLoss", {"mode": "multiclass"}, False),
    ("lovasz", "multiclass", "LovaszLoss", {"mode": "multiclass"}, False),
    ("soft_ce", "multiclass", "SoftCrossEntropyLoss", {"smooth_factor": 0.1}, False),
    ("dice", "binary", "DiceLoss", {"mode": "binary"}, False),
    ("jaccard", "binary", "JaccardLoss", {"mode": "binary"}, False),
    ("tversky", "binary", "TverskyLoss", {"mode": "binary", "alpha": 0.3, "beta": 0.7}, False),
    ("focal", "binary", "FocalLoss", {"mode": "binary"}, False),
    ("lovasz", "binary", "LovaszLoss", {"mode": "binary"}, False),
    ("soft_bce", "binary", "SoftBCEWithLogitsLoss", {}, False),
    ("mcc", "binary", "MCCLoss", {}, True),
)


def batch(mode: str, shape: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and a target for ``mode`` (seeded, so every run measures the same data)."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(*shape, generator=generator)
    n, c, h, w = shape
    if mode == "multiclass":
        target = torch.randint(0, c, (n, h, w), generator=generator)
    else:
        target = torch.randint(0, 2, (n, 1, h, w), generator=generator).float()
    return logits, target


def step(loss: torch.nn.Module, logits: torch.Tensor, target: torch.Tensor, probabilities: bool) -> float:
    """Seconds for one forward + backward."""
    x = logits.detach().requires_grad_(True)
    start = time.perf_counter()
    value = loss(x.sigmoid() if probabilities else x, target)
    value.backward()
    return time.perf_counter() - start


def measure(
    pair: dict[str, torch.nn.Module], logits: torch.Tensor, target: torch.Tensor, probabilities: bool, repeats: int
) -> dict[str, float]:
    times: dict[str, list[float]] = {lib: [] for lib in pair}
    order = list(pair)
    for lib in order:  # warm-up
        step(pair[lib], logits, target, probabilities)
    for repeat in range(repeats):
        for lib in order if repeat % 2 == 0 else order[::-1]:
            times[lib].append(step(pair[lib], logits, target, probabilities))
    return {lib: statistics.median(values) for lib, values in times.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2x19x256x256 and 2x1x256x256 instead of 8x19x512x512 and 8x1x512x512")
    parser.add_argument("--losses", help="comma-separated subset of " + ",".join(dict.fromkeys(case[0] for case in CASES)))
    parser.add_argument("--modes", default="multiclass,binary", help="comma-separated subset of multiclass,binary")
    parser.add_argument("--repeats", type=int, help="timed calls per loss and library (default 5, --quick 9)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import segmentation_models_pytorch.losses as smp  # a benchmark-only reference

    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (9 if args.quick else 5)
    wanted = set(args.losses.split(",")) if args.losses else None
    modes = args.modes.split(",")
    rows = []
    print(f"torch {torch.__version__}, {args.threads} thread(s), {repeats} repeats, median milliseconds of forward + backward")
    for key, mode, name, kwargs, probabilities in CASES:
        if (wanted and key not in wanted) or mode not in modes:
            continue
        logits, target = batch(mode, sizes[mode])
        pair = {"seghub": getattr(ours, name)(**kwargs), "smp": getattr(smp, name)(**kwargs)}
        result = measure(pair, logits, target, probabilities, repeats)
        ratio = result["seghub"] / result["smp"]
        row = (name, f"{mode} {'x'.join(map(str, sizes[mode]))}", f"{result['seghub'] * 1e3:.1f}", f"{result['smp'] * 1e3:.1f}", f"{ratio:.2f}")
        rows.append(row)
        print("  ".join(row), flush=True)
    header = ("loss", "batch", "seghub ms", "smp ms", "seghub/smp")
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    print()
    for line in (header, tuple("-" * w for w in widths), *rows):
        print("| " + " | ".join(str(cell).ljust(w) for cell, w in zip(line, widths)) + " |")
    worst = max((float(row[-1]) for row in rows), default=0.0)
    print(f"\nworst ratio {worst:.2f} (target <= 1.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
