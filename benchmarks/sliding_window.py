"""seghub.inference.sliding_window next to MONAI's sliding_window_inference: time and memory.

    python benchmarks/sliding_window.py [--quick] [--repeats 3] [--threads 2] [--no-large] [--json out.json]

The model is a resnet34 U-Net built with ``seghub.build_model`` (no pretrained weights, two
classes), in eval mode; both libraries predict the same random image with the same window
(512), overlap (0.25) and window batch (4), each with its defaults otherwise (constant
blending). Every measurement is a fresh Python process (``--_worker``) that builds the model,
makes the image, warms the model up on one small input, then runs one prediction:

time
    wall time of the prediction call; seghub and MONAI take turns (ABBA order), each figure
    is the median over ``--repeats`` processes, with ``--threads`` torch threads (default 2).
    The process's CPU time (all threads) is shown too: on a machine other jobs load, it
    follows the work done more closely than the wall time does. So is the time spent outside
    the model's forward (forward hooks time it): both libraries make the same model calls on
    the same batches, so this is what the sliding-window code itself costs.
peak memory
    the process's peak resident memory (``VmHWM``, the kernel's high-water mark, or
    ``ru_maxrss``): model, image, output and everything the prediction allocates. The increase
    over the resident memory just before the call is shown too. glibc serves every allocation
    above 64 KiB with mmap (``MALLOC_MMAP_THRESHOLD_``), so freed tensors go back to the kernel.

A second pair of rows repeats the comparison with a 1x1-convolution model, whose cost is
negligible: there the time is the sliding-window machinery itself (cutting, blending,
normalising). The large run (default 8192 x 8192, seghub only) checks that memory stays at
the output plus one batch of windows: it reports the increase during the call next to the
output's size and to the increase one batch of windows through the model alone causes.

``--quick`` uses 1024 x 1024 (large run 2048 x 2048) for development; the targets (seghub /
MONAI <= 1.0 in time and peak memory) are about the full 4096 x 4096 run. On a shared machine
expect a few percent of noise in the times: a ratio within 1% of its target reads 'tie'.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WINDOW = 512
OVERLAP = 0.25
BATCH = 4
CLASSES = 2
TARGET = 1.0
SPEC = {"encoder": {"name": "resnet34", "weights": None}, "decoder": {"name": "unet"}, "segmentation_head": {"classes": CLASSES}}


# -- the worker: one fresh process per measurement ---------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _build(kind: str) -> Any:
    import torch

    torch.manual_seed(0)
    if kind == "unet":
        import seghub

        return seghub.build_model(SPEC).eval()
    return torch.nn.Conv2d(3, CLASSES, 1).eval()


def _caller(impl: str, model: Any, image: Any) -> Any:
    import torch

    if impl == "batch":  # one batch of windows through the model alone
        batch = torch.rand(BATCH, 3, WINDOW, WINDOW)
        return lambda: model(batch)
    if impl == "seghub":
        from seghub.inference import sliding_window

        return lambda: sliding_window(model, image, window=WINDOW, overlap=OVERLAP, batch_size=BATCH)
    from monai.inferers import sliding_window_inference

    return lambda: sliding_window_inference(image, (WINDOW, WINDOW), BATCH, model, overlap=OVERLAP)


def _time_in(model: Any) -> list[float]:
    """A one-item list that forward hooks keep at the seconds spent inside ``model``."""
    spent, started = [0.0], [0.0]

    def start(module: Any, args: Any) -> None:
        started[0] = time.perf_counter()

    def stop(module: Any, args: Any, output: Any) -> None:
        spent[0] += time.perf_counter() - started[0]

    model.register_forward_pre_hook(start)
    model.register_forward_hook(stop)
    return spent


def worker(task: dict[str, Any]) -> dict[str, Any]:
    """Build, warm up, predict once with ``task["impl"]``; time, memory and a checksum."""
    import torch

    torch.set_num_threads(task["threads"])
    model = _build(task["model"])
    image = torch.rand((1, 3, task["size"], task["size"]), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # first-call set-up of the convolution kernels, for both alike
        model(torch.rand(1, 3, 64, 64))
    call = _caller(task["impl"], model, image)
    in_model = _time_in(model)
    before = _status_kib("VmRSS") or 0
    with torch.no_grad():
        start, start_cpu = time.perf_counter(), time.process_time()
        output = call()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    peak = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "outside_model_seconds": seconds - in_model[0],
        "peak_mib": peak / 1024,
        "increase_mib": (peak - before) / 1024,
        "output_mib": output.numel() * output.element_size() / 2**20,
        "checksum": float(output.double().abs().sum()),
    }


def measure(task: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`worker` in a fresh interpreter."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    done = subprocess.run(
        [sys.executable, __file__, "--_worker", json.dumps(task)], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"worker {task} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the driver --------------------------------------------------------------------------------


def compare(model: str, size: int, repeats: int, threads: int) -> dict[str, dict[str, float]]:
    """seghub and MONAI in ABBA order; medians of each figure."""
    samples: dict[str, list[dict[str, Any]]] = {"seghub": [], "monai": []}
    for turn in range(repeats):
        for impl in ("seghub", "monai") if turn % 2 == 0 else ("monai", "seghub"):
            samples[impl].append(measure({"impl": impl, "model": model, "size": size, "threads": threads}))
            print(f"  {model} {size}: {impl} {samples[impl][-1]['seconds']:.2f} s", file=sys.stderr)
    result = {impl: {key: statistics.median(s[key] for s in runs) for key in runs[0]} for impl, runs in samples.items()}
    ours, theirs = result["seghub"]["checksum"], result["monai"]["checksum"]
    if abs(ours - theirs) > 1e-5 * abs(theirs):
        raise SystemExit(f"seghub and MONAI disagree on {model} {size}: checksums {ours} and {theirs}")
    return result


def _verdict(ratio: float) -> str:
    return "ok" if ratio <= TARGET else "tie" if ratio <= TARGET * 1.01 else "MISSED"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(results: dict[str, Any], size: int) -> str:
    rows = []
    for model, label in (("unet", "resnet34 U-Net"), ("pointwise", "1x1 conv (machinery)")):
        if model not in results:
            continue
        ours, theirs = results[model]["seghub"], results[model]["monai"]
        for key, what, unit in (
            ("seconds", "time", "s"),
            ("cpu_seconds", "  cpu time", "s"),
            ("outside_model_seconds", "  time outside the model", "s"),
            ("peak_mib", "peak memory", "MiB"),
            ("increase_mib", "  increase in call", "MiB"),
        ):
            ratio = ours[key] / theirs[key]
            target = f"<= {TARGET}" if key in ("seconds", "peak_mib") else ""
            verdict = _verdict(ratio) if target else ""
            rows.append([f"{label}: {what}", f"{ours[key]:.2f} {unit}", f"{theirs[key]:.2f} {unit}", f"{ratio:.3f}", target, verdict])
    text = f"image {size}x{size}, window {WINDOW}, overlap {OVERLAP}, batch {BATCH}, {CLASSES} classes\n"
    text += _table(rows, ["measurement", "seghub", "MONAI", "ratio", "target", ""])
    if "large" in results:
        large, batch = results["large"], results["batch"]
        text += (
            f"\n\nlarge image {results['large_size']}x{results['large_size']} (seghub only): {large['seconds']:.1f} s, "
            f"peak resident {large['peak_mib']:.0f} MiB, of which {large['increase_mib']:.0f} MiB during the call; "
            f"the output is {large['output_mib']:.0f} MiB and one batch of {BATCH} windows through the model alone "
            f"adds {batch['increase_mib']:.0f} MiB (sum {large['output_mib'] + batch['increase_mib']:.0f} MiB)"
        )
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1024x1024 (large run 2048x2048), for development")
    parser.add_argument("--repeats", type=int, default=3, help="processes per library and model (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--no-large", action="store_true", help="skip the large seghub-only run")
    parser.add_argument("--no-pointwise", action="store_true", help="skip the 1x1-convolution comparison")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--_worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._worker:
        print(json.dumps(worker(json.loads(args._worker))))
        return 0
    size, large_size = (1024, 2048) if args.quick else (4096, 8192)
    results: dict[str, Any] = {"unet": compare("unet", size, args.repeats, args.threads)}
    if not args.no_pointwise:
        results["pointwise"] = compare("pointwise", size, args.repeats, args.threads)
    if not args.no_large:
        results["large_size"] = large_size
        results["large"] = measure({"impl": "seghub", "model": "unet", "size": large_size, "threads": args.threads})
        results["batch"] = measure({"impl": "batch", "model": "unet", "size": 64, "threads": args.threads})
    print(report(results, size))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
