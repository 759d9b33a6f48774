"""seghub next to segmentation_models_pytorch (smp): cold start, build, forward, training.

    python benchmarks/compare_smp.py [--quick] [--archs Unet,FPN] [--json out.json]

Every seghub/smp pair is measured in the same run and interleaved (seghub, smp, seghub, ...),
so load from other processes on the machine hits both sides alike; each number is a median.
Without smp installed only seghub's column is filled. All encoders are built with weights
None: resnet34 for every architecture, timm's tiny ``test_vit`` for DPT, and a ViT-S/16
(``vit_small_patch16_224``) for the row ``DPT-ViT-S``, the plain-ViT pair smp builds too.

cold start
    wall time of a fresh ``python -c "import LIB; LIB.Unet('resnet34', encoder_weights=None)"``,
    from spawn to exit (interpreter start-up included, the same for both).
build
    in-process time to construct an architecture once both libraries are imported and one
    model of that architecture was built already (so plugin discovery is not counted).
forward
    eval forward under ``torch.inference_mode()`` with ``torch.set_num_threads(2)``, at
    1x3x256x256 and 4x3x256x256, after warm-up.
train step
    4x3x256x256, cross-entropy over 3 classes, forward + backward + plain SGD step (no momentum,
    so no optimizer state), in a fresh subprocess per model (2 threads); the time is the median of
    the steps after the first.
train memory
    the peak resident memory of that subprocess during its training steps, minus its resident
    memory just before the first step (model, optimizer and batch already allocated): the
    activations kept for backward, the gradients and temporaries. Peak resident
    memory is the kernel's high-water mark (``VmHWM``), reset to the current size right before
    the first step by writing 5 to ``/proc/self/clear_refs``; where that is not allowed,
    ``ru_maxrss`` is used (then an earlier, higher peak would hide the training peak and the
    number is marked ``~``). glibc is told to serve every allocation above 64 KiB with mmap
    (``MALLOC_MMAP_THRESHOLD_``), so freed tensors go back to the kernel and the resident size
    follows live memory instead of the allocator's cache. tracemalloc sees none of this
    (torch allocates outside Python's allocator), and torch keeps no peak statistics on CPU.
    ``checkpointing`` rows rebuild seghub's spec with ``checkpointing: true`` in the encoder
    and decoder sections, when this seghub has that option ('n/a' otherwise). The row under
    each, "less gradients", subtracts from each peak the size of the parameter gradients that
    model's training step allocates, which checkpointing cannot touch.

On a shared or small machine expect a few percent of noise in the timings, more on cold start.
A ratio within 1% over its target reads 'tie': below what these measurements resolve.
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

SIZE = 256
ARCHS = (
    "Unet", "UnetPlusPlus", "MAnet", "Linknet", "FPN", "PSPNet", "PAN",
    "DeepLabV3", "DeepLabV3Plus", "UPerNet", "Segformer", "DPT", "DPT-ViT-S",
)
ENCODERS = {"DPT": "tu-test_vit", "DPT-ViT-S": "tu-vit_small_patch16_224"}
"""Rows whose encoder is not resnet34; a row named ``<arch>-<what>`` builds ``<arch>``."""
ENCODER_ARGUMENTS = {"DPT-ViT-S": {"img_size": SIZE}}
"""Extra encoder arguments of a row, given to both libraries: smp's ViT checks the input size
against the one it was built for, so ViT-S/16 is built for the benchmark's size."""
QUICK_ARCHS = ("Unet", "FPN", "DeepLabV3Plus", "Segformer")
CLASSES = 3
DEFAULT_THREADS = 2
TARGETS = {"cold start": 0.6, "forward": 1.0, "train memory": 1.0, "train memory, checkpointing": 0.6}


def threads() -> int:
    """The torch thread count measurements run with (``--threads``)."""
    return int(os.environ.get("SEGHUB_BENCH_THREADS", DEFAULT_THREADS))


def encoder_for(arch: str) -> str:
    """The encoder a benchmark model of row ``arch`` uses."""
    return ENCODERS.get(arch, "resnet34")


def constructor(arch: str) -> str:
    """The constructor a benchmark row builds (``DPT-ViT-S`` is a ``DPT``)."""
    return arch.split("-", 1)[0]


def have_smp() -> bool:
    """Whether segmentation_models_pytorch can be imported."""
    try:
        import segmentation_models_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


def build(lib: str, arch: str, checkpointing: bool = False) -> Any:
    """A model of ``arch`` from ``lib`` ('seghub' or 'smp'), encoder weights None."""
    if lib == "smp":
        import segmentation_models_pytorch as smp

        return getattr(smp, constructor(arch))(
            encoder_name=encoder_for(arch), encoder_weights=None, classes=CLASSES, **ENCODER_ARGUMENTS.get(arch, {}))
    import seghub

    model = getattr(seghub, constructor(arch))(
        encoder_name=encoder_for(arch), encoder_weights=None, classes=CLASSES, **ENCODER_ARGUMENTS.get(arch, {}))
    if not checkpointing:
        return model
    spec = model.spec.model_dump()
    spec["encoder"]["checkpointing"] = True
    spec["decoder"]["checkpointing"] = True
    return seghub.build_model(spec)


def checkpointing_supported() -> bool:
    """Whether this seghub's spec has the ``checkpointing`` option in encoder and decoder."""
    from seghub._spec import DecoderSpec, EncoderSpec

    return "checkpointing" in EncoderSpec.model_fields and "checkpointing" in DecoderSpec.model_fields


def median_interleaved(jobs: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Run each job ``repeats`` times, taking turns, and give each one's median."""
    samples: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(repeats):
        for name, job in jobs.items():
            samples[name].append(job())
    return {name: statistics.median(values) for name, values in samples.items()}


def timed(call: Callable[[], Any]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


# -- cold start -----------------------------------------------------------------------------

COLD = {
    "seghub": "import seghub; seghub.Unet('resnet34', encoder_weights=None)",
    "smp": "import segmentation_models_pytorch as smp; smp.Unet('resnet34', encoder_weights=None)",
}


def cold_start(libs: Sequence[str], repeats: int) -> dict[str, float]:
    """Median wall time of a fresh interpreter that imports the library and builds a Unet."""
    def job(lib: str) -> Callable[[], float]:
        return lambda: timed(lambda: subprocess.run([sys.executable, "-c", COLD[lib]], check=True))

    return median_interleaved({lib: job(lib) for lib in libs}, repeats)


# -- in-process: build and forward ----------------------------------------------------------

def build_and_forward(libs: Sequence[str], archs: Sequence[str], repeats: int) -> dict[str, dict[str, dict[str, float]]]:
    """Per architecture and library: build seconds and forward seconds at batch 1 and 4."""
    import torch

    torch.set_num_threads(threads())
    results: dict[str, dict[str, dict[str, float]]] = {}
    for arch in archs:
        torch.manual_seed(0)
        models = {lib: build(lib, arch).eval() for lib in libs}  # also the warm-up build
        builds = median_interleaved({lib: (lambda lib=lib: timed(lambda: build(lib, arch))) for lib in libs}, max(3, repeats // 4))
        row = {lib: {"build": builds[lib]} for lib in libs}
        for batch in (1, 4):
            x = torch.randn(batch, 3, SIZE, SIZE)

            def forward(lib: str, x: torch.Tensor = x) -> float:
                with torch.inference_mode():
                    return timed(lambda: models[lib](x))

            for _ in range(2):  # warm-up
                for lib in libs:
                    forward(lib)
            times = median_interleaved({lib: (lambda lib=lib: forward(lib)) for lib in libs}, repeats)
            for lib in libs:
                row[lib][f"forward b{batch}"] = times[lib]
        results[arch] = row
        print(f"  {arch}: " + ", ".join(f"{lib} {row[lib]['forward b1'] * 1e3:.0f}/{row[lib]['forward b4'] * 1e3:.0f} ms" for lib in libs), flush=True)
    return results


# -- training, one fresh subprocess per model -----------------------------------------------

def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def train_child(lib: str, arch: str, checkpointing: bool, steps: int) -> dict[str, Any]:
    """Build one model, train it ``steps`` steps; step time and training memory (see module doc)."""
    import torch

    torch.set_num_threads(threads())
    torch.manual_seed(0)
    model = build(lib, arch, checkpointing).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(4, 3, SIZE, SIZE)
    y = torch.randint(0, CLASSES, (4, SIZE, SIZE))
    loss_fn = torch.nn.CrossEntropyLoss()
    before = _status_kib("VmRSS") or 0
    exact = _reset_peak()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    peak = _status_kib("VmHWM") if exact else None
    if peak is None:
        exact, peak = False, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # the gradients the last step allocated (smp builds stages a shallow encoder never runs)
    gradients = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    return {
        "step": statistics.median(times[1:] or times),
        "memory_mib": (peak - before) / 1024,
        "gradients_mib": gradients / 2**20,
        "exact": exact,
    }


def train(lib: str, arch: str, checkpointing: bool, steps: int) -> dict[str, Any]:
    """Run :func:`train_child` in a fresh interpreter and return what it reports."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    command = [sys.executable, __file__, "--_train", json.dumps([lib, arch, checkpointing, steps])]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def training(libs: Sequence[str], archs: Sequence[str], steps: int, checkpointing: bool) -> dict[str, dict[str, dict[str, Any]]]:
    """Per architecture: train step time and memory per library (+ seghub with checkpointing)."""
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for arch in archs:
        row = {lib: train(lib, arch, False, steps) for lib in libs}
        if checkpointing:
            row["seghub+ckpt"] = train("seghub", arch, True, steps)
        results[arch] = row
        print(f"  {arch}: " + ", ".join(f"{k} {v['step']:.2f} s {v['memory_mib']:.0f} MiB" for k, v in row.items()), flush=True)
    return results


# -- report ---------------------------------------------------------------------------------

def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}x" if ours is not None and theirs else "-"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _verdict(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "-"
    if ratio <= target:
        return "ok"
    return "tie" if ratio <= target * 1.01 else "MISSED"


def report(results: dict[str, Any]) -> str:
    """The results as a text table: seghub, smp, ratio and the target per measurement."""
    rows: list[list[str]] = []

    def add(what: str, unit: str, scale: float, ours: float | None, theirs: float | None, target: str | None, mark: str = "") -> None:
        ratio = ours / theirs if ours is not None and theirs else None
        rows.append([
            what,
            "n/a" if ours is None else f"{mark}{ours * scale:.1f} {unit}",
            "-" if theirs is None else f"{theirs * scale:.1f} {unit}",
            _ratio(ours, theirs),
            "" if target is None else f"<= {TARGETS[target]}x {_verdict(ratio, TARGETS[target])}",
        ])

    cold = results["cold_start"]
    if cold:
        add("cold start (import + Unet/resnet34)", "s", 1, cold["seghub"], cold.get("smp"), "cold start")
    for arch, row in results["build_forward"].items():
        add(f"{arch}: build", "ms", 1e3, row["seghub"]["build"], row.get("smp", {}).get("build"), None)
        for batch in ("b1", "b4"):
            add(f"{arch}: forward {batch[1]}x3x{SIZE}x{SIZE}", "ms", 1e3, row["seghub"][f"forward {batch}"],
                row.get("smp", {}).get(f"forward {batch}"), "forward")
    for arch, row in results["training"].items():
        smp_row = row.get("smp", {})
        add(f"{arch}: train step 4x3x{SIZE}x{SIZE}", "s", 1, row["seghub"]["step"], smp_row.get("step"), None)
        add(f"{arch}: train memory", "MiB", 1, row["seghub"]["memory_mib"], smp_row.get("memory_mib"), "train memory",
            "" if row["seghub"]["exact"] else "~")
        ckpt = row.get("seghub+ckpt")
        add(f"{arch}: train memory, checkpointing", "MiB", 1, None if ckpt is None else ckpt["memory_mib"],
            smp_row.get("memory_mib"), "train memory, checkpointing")
        if ckpt is not None and smp_row:  # the part checkpointing can cut: all but the parameter gradients
            add(f"{arch}:   the same less gradients", "MiB", 1, ckpt["memory_mib"] - ckpt["gradients_mib"],
                smp_row["memory_mib"] - smp_row["gradients_mib"], None)
    machine = results["machine"]
    head = (f"torch {machine['torch']}, {machine['threads']} threads, {machine['cpus']} CPUs, "
            f"repeats {machine['repeats']}, train steps {machine['steps']}")
    return head + "\n" + _table(rows, ["measurement", "seghub", "smp", "seghub/smp", "target"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{', '.join(QUICK_ARCHS)} only, fewer repeats")
    parser.add_argument("--archs", help=f"comma-separated subset of {','.join(ARCHS)}")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--parts", default="cold,forward,train", help="which measurements (default: cold,forward,train)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"torch threads (default {DEFAULT_THREADS}; 1 is steadier on a busy machine)")
    parser.add_argument("--_train", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ["SEGHUB_BENCH_THREADS"] = str(args.threads)  # here and in the training subprocesses
    if args._train:
        print(json.dumps(train_child(*json.loads(args._train))))
        return 0

    archs = [a.strip() for a in args.archs.split(",")] if args.archs else list(QUICK_ARCHS if args.quick else ARCHS)
    unknown = sorted(set(archs) - set(ARCHS))
    if unknown:
        parser.error(f"unknown architectures {unknown}; choose from {', '.join(ARCHS)}")
    libs = ["seghub", "smp"] if have_smp() else ["seghub"]
    if libs == ["seghub"]:
        print("segmentation_models_pytorch is not installed: measuring seghub alone")
    repeats, cold_repeats, steps = (5, 3, 2) if args.quick else (10, 7, 3)
    ckpt = checkpointing_supported()
    if not ckpt:
        print("this seghub has no 'checkpointing' spec option: those rows read n/a")

    import torch

    results: dict[str, Any] = {"machine": {
        "torch": torch.__version__, "threads": threads(), "cpus": os.cpu_count(), "repeats": repeats, "steps": steps,
        "python": sys.version.split()[0], "load_average": os.getloadavg(),
    }}
    parts = set(args.parts.split(","))
    results["cold_start"], results["build_forward"], results["training"] = {}, {}, {}
    if "cold" in parts:
        print("cold start ...", flush=True)
        results["cold_start"] = cold_start(libs, cold_repeats)
    if "forward" in parts:
        print("build and forward ...", flush=True)
        results["build_forward"] = build_and_forward(libs, archs, repeats)
    if "train" in parts:
        print("training (a fresh process per model) ...", flush=True)
        results["training"] = training(libs, archs, steps, ckpt)
    print()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nraw results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
