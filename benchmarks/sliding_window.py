"""seghub.inference.sliding_window next to MONAI's sliding_window_inference: time and memory.

    python benchmarks/sliding_window.py [--quick] [--repeats 3] [--threads 2] [--no-large] [--json out.json]

The model is a resnet34 U-Net built with ``seghub.build_model`` (no pretrained weights, two
classes), in eval mode, without autograd; both libraries predict the same random image with
the same window (512), overlap (0.25) and window batch (4), each with its defaults otherwise
(constant blending). The outputs are checked to agree.

time
    one process (``--threads`` torch threads, default 2) builds the model and the image, warms
    the model up, then calls seghub and MONAI in turns (ABBA order) ``--repeats`` times each;
    each figure is a median. Taking turns inside one process gives both the same model, memory
    layout and machine load; separate processes differ by a few percent from one to the next.
    Also shown: the CPU time (all threads) and the time spent outside the model's forward
    (timed by forward hooks): both libraries make the same model calls on the same batches, so
    this is what the sliding-window code itself costs.
peak memory
    a fresh process per library predicts once and reports its peak resident memory
    (``VmHWM``, the kernel's high-water mark, or ``ru_maxrss``): interpreter, libraries,
    model, image, output and everything the prediction allocates. The increase over the
    resident memory just before the call is shown too. glibc serves every allocation above
    64 KiB with mmap there (``MALLOC_MMAP_THRESHOLD_``), so freed tensors go back to the kernel
    and the resident size follows live memory.

A second set of rows repeats the comparison with a 1x1-convolution model, whose cost is
negligible: there the time is the sliding-window machinery itself (cutting, blending,
normalising), timed over at least 15 turns since each call takes only a second or two. The large run (default 8192 x 8192, seghub only, fresh process) checks that
memory stays at the output plus one batch of windows: it reports the increase during the call
next to the output's size and to the increase one batch of windows through the model alone
causes.

``--quick`` uses 1024 x 1024 (large run 2048 x 2048) for development; the targets (seghub /
MONAI <= 1.0 in time and peak memory) are about the full 4096 x 4096 run. A ratio within 1% of
its target reads 'tie': below what these measurements resolve on a shared machine.
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

WINDOW = 512
OVERLAP = 0.25
BATCH = 4
CLASSES = 2
TARGET = 1.0
POINTWISE_REPEATS = 15
SPEC = {"encoder": {"name": "resnet34", "weights": None}, "decoder": {"name": "unet"}, "segmentation_head": {"classes": CLASSES}}


# -- in the child processes --------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _setup(task: dict[str, Any]) -> tuple[Any, Any]:
    """The model (warmed up) and the image of ``task``."""
    import torch

    torch.set_num_threads(task["threads"])
    torch.manual_seed(0)
    if task["model"] == "unet":
        import seghub

        model = seghub.build_model(SPEC).eval()
    else:
        model = torch.nn.Conv2d(3, CLASSES, 1).eval()
    image = torch.rand((1, 3, task["size"], task["size"]), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # first-call set-up of the convolution kernels, for both alike
        model(torch.rand(1, 3, 64, 64))
    return model, image


def _caller(impl: str, model: Any, image: Any) -> Callable[[], Any]:
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


def memory_child(task: dict[str, Any]) -> dict[str, Any]:
    """Predict once with ``task["impl"]``: peak and increase of resident memory."""
    import torch

    model, image = _setup(task)
    call = _caller(task["impl"], model, image)
    before = _status_kib("VmRSS") or 0
    with torch.no_grad():
        start = time.perf_counter()
        output = call()
        seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "single_call_seconds": seconds,  # not "seconds": the timing child's medians keep that key
        "peak_mib": peak / 1024,
        "increase_mib": (peak - before) / 1024,
        "output_mib": output.numel() * output.element_size() / 2**20,
    }


def timing_child(task: dict[str, Any]) -> dict[str, Any]:
    """seghub and MONAI in turns (ABBA) in this one process: medians, and whether they agree."""
    import torch

    model, image = _setup(task)
    in_model = _time_in(model)
    calls = {impl: _caller(impl, model, image) for impl in ("seghub", "monai")}
    samples: dict[str, list[dict[str, float]]] = {impl: [] for impl in calls}
    outputs: dict[str, Any] = {}
    for turn in range(task["repeats"]):
        for impl in ("seghub", "monai") if turn % 2 == 0 else ("monai", "seghub"):
            in_model[0] = 0.0
            outputs.pop(impl, None)  # the previous output is freed before the next call
            with torch.no_grad():
                start, start_cpu = time.perf_counter(), time.process_time()
                outputs[impl] = calls[impl]()
                seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
            samples[impl].append({"seconds": seconds, "cpu_seconds": cpu, "outside_model_seconds": seconds - in_model[0]})
            print(f"  {task['model']} {task['size']}: {impl} {seconds:.2f} s", file=sys.stderr, flush=True)
    result: dict[str, Any] = {
        impl: {key: statistics.median(s[key] for s in runs) for key in runs[0]} for impl, runs in samples.items()
    }
    result["max_difference"] = float((outputs["seghub"] - outputs["monai"]).abs().max())
    return result


def _child(kind: str, task: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``kind``_child in a fresh interpreter and return what it reports."""
    done = subprocess.run(
        [sys.executable, __file__, f"--_{kind}", json.dumps(task)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} child {task} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory(task: dict[str, Any]) -> dict[str, Any]:
    return _child("memory", task, {"MALLOC_MMAP_THRESHOLD_": "65536"})


# -- the driver --------------------------------------------------------------------------------


def compare(model: str, size: int, repeats: int, threads: int) -> dict[str, Any]:
    """Time (one process, in turns) and peak memory (a fresh process each) of both libraries."""
    task = {"model": model, "size": size, "threads": threads}
    result = _child("timing", {**task, "repeats": repeats})
    if result["max_difference"] > 1e-5:
        raise SystemExit(f"seghub and MONAI disagree on {model} {size}: max difference {result['max_difference']}")
    for impl in ("seghub", "monai"):
        result[impl].update(memory({**task, "impl": impl}))
    return result


def _verdict(ratio: float) -> str:
    return "ok" if ratio <= TARGET else "tie" if ratio <= TARGET * 1.01 else "MISSED"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


ROWS = (
    ("seconds", "time", "s", True),
    ("cpu_seconds", "  cpu time", "s", False),
    ("outside_model_seconds", "  time outside the model", "s", False),
    ("peak_mib", "peak memory", "MiB", True),
    ("increase_mib", "  increase in call", "MiB", False),
)


def report(results: dict[str, Any], size: int, repeats: int) -> str:
    rows = []
    for model, label in (("unet", "resnet34 U-Net"), ("pointwise", "1x1 conv (machinery)")):
        if model not in results:
            continue
        ours, theirs = results[model]["seghub"], results[model]["monai"]
        for key, what, unit, has_target in ROWS:
            ratio = ours[key] / theirs[key]
            target, verdict = (f"<= {TARGET}", _verdict(ratio)) if has_target else ("", "")
            rows.append([f"{label}: {what}", f"{ours[key]:.2f} {unit}", f"{theirs[key]:.2f} {unit}", f"{ratio:.3f}", target, verdict])
    text = f"image {size}x{size}, window {WINDOW}, overlap {OVERLAP}, batch {BATCH}, {CLASSES} classes; times: medians of {repeats} (1x1 conv: {max(repeats, POINTWISE_REPEATS)})\n"
    text += _table(rows, ["measurement", "seghub", "MONAI", "ratio", "target", ""])
    if "large" in results:
        large, batch = results["large"], results["batch"]
        text += (
            f"\n\nlarge image {results['large_size']}x{results['large_size']} (seghub only): {large['single_call_seconds']:.1f} s, "
            f"peak resident {large['peak_mib']:.0f} MiB, of which {large['increase_mib']:.0f} MiB during the call; "
            f"the output is {large['output_mib']:.0f} MiB and one batch of {BATCH} windows through the model alone "
            f"adds {batch['increase_mib']:.0f} MiB (sum {large['output_mib'] + batch['increase_mib']:.0f} MiB)"
        )
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1024x1024 (large run 2048x2048), for development")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per library (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--no-large", action="store_true", help="skip the large seghub-only run")
    parser.add_argument("--no-pointwise", action="store_true", help="skip the 1x1-convolution comparison")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--_timing", help=argparse.SUPPRESS)
    parser.add_argument("--_memory", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._timing or args._memory:
        child = timing_child if args._timing else memory_child
        print(json.dumps(child(json.loads(args._timing or args._memory))))
        return 0
    size, large_size = (1024, 2048) if args.quick else (4096, 8192)
    results: dict[str, Any] = {"unet": compare("unet", size, args.repeats, args.threads)}
    if not args.no_pointwise:
        # its calls take a second or two, so more turns are cheap and steady the median
        results["pointwise"] = compare("pointwise", size, max(args.repeats, POINTWISE_REPEATS), args.threads)
    if not args.no_large:
        results["large_size"] = large_size
        results["large"] = memory({"impl": "seghub", "model": "unet", "size": large_size, "threads": args.threads})
        results["batch"] = memory({"impl": "batch", "model": "unet", "size": 64, "threads": args.threads})
    print(report(results, size, args.repeats))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
