"""Any encoder under any decoder: seven encoder families times the twelve decoders, as a new user
tries them, seghub next to smp; and the forward time of a ViT-S/16 under each decoder.

    python benchmarks/any_encoder.py [--smp] [--timing] [--threads 2]

Matrix: ``create_model(arch, encoder_name=E, encoder_weights=None, classes=3)`` with library
defaults, a training-mode forward of a batch of two at 224x224 (or the next size the model
takes), a backward pass; a pair counts when the mask has the input's size and every parameter
got a gradient. smp builds the same pairs with ``tu-<model>`` names and counts when its mask
has the input's size at 224 or 256. Timing: eval forward of one 512x512 image, median of five
after two warm-ups, for ``timm:vit_small_patch16_224`` under each decoder.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import torch

ARCHS = (
    "Unet", "UnetPlusPlus", "MAnet", "Linknet", "FPN", "PSPNet",
    "PAN", "DeepLabV3", "DeepLabV3Plus", "UPerNet", "Segformer", "DPT",
)
ENCODERS = (
    "resnet34", "timm:convnext_atto", "timm:efficientnet_b0", "timm:sam2_hiera_tiny",
    "timm:vit_small_patch16_dinov3", "timm:vit_small_patch14_reg4_dinov2", "timm:eva02_tiny_patch14_224",
)
VIT_S = "timm:vit_small_patch16_224"


def smp_name(encoder: str) -> str:
    return "tu-" + encoder.split(":", 1)[1] if encoder.startswith("timm:") else encoder


def seghub_pair(arch: str, encoder: str) -> str:
    """'ok', 'ok <neck>' (the neck the builder picked), or why it failed."""
    import seghub

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = seghub.create_model(arch, encoder_name=encoder, encoder_weights=None, classes=3).train()
        step = model.input_divisor
        side = step * -(-max(224, model.capabilities.min_input_size) // step)
        x = torch.randn(2, 3, side, side)
        mask = model(x)
        if mask.shape != (2, 3, side, side):
            return f"mask {tuple(mask.shape)}"
        mask.square().mean().backward()
        dead = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
        if dead:
            return f"{len(dead)} parameters without gradient"
    except Exception as exc:  # a benchmark reports every failure and goes on
        return f"{type(exc).__name__}: {str(exc).splitlines()[-1][:80]}"
    notes = [model.spec.neck.name] if model.spec.neck is not None else []
    if any("native stride" in str(w.message) for w in caught):
        notes.append(f"os {model.spec.encoder.output_stride}")
    return " ".join(["ok", *notes])


def smp_pair(arch: str, encoder: str) -> str:
    import segmentation_models_pytorch as smp

    try:
        model = smp.create_model(arch, encoder_name=smp_name(encoder), encoder_weights=None, classes=3).train()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}"
    for side in (224, 256):
        try:
            mask = model(torch.randn(2, 3, side, side))
        except Exception:  # noqa: BLE001
            continue
        if tuple(mask.shape) == (2, 3, side, side):
            return "ok"
    return "no input-sized mask"


def matrix(with_smp: bool) -> None:
    results: dict[tuple[str, str], dict[str, str]] = {}
    for encoder in ENCODERS:
        for arch in ARCHS:
            torch.manual_seed(0)
            row = {"seghub": seghub_pair(arch, encoder)}
            if with_smp:
                row["smp"] = smp_pair(arch, encoder)
            results[(encoder, arch)] = row
            print(f"  {encoder} {arch}: " + ", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    for lib in ("seghub", "smp") if with_smp else ("seghub",):
        good = sum(row[lib].startswith("ok") for row in results.values())
        print(f"\n{lib}: {good} of {len(results)} pairs give an input-sized mask")
    print("\n| encoder | " + " | ".join(ARCHS) + " |")
    print("|---|" + "---|" * len(ARCHS))
    for encoder in ENCODERS:
        cells = []
        for arch in ARCHS:
            text = results[(encoder, arch)]["seghub"]
            cells.append(text.replace("ok", "✓", 1) if text.startswith("ok") else "✗")
        print(f"| `{encoder}` | " + " | ".join(cells) + " |")


def timing() -> None:
    import seghub

    print(f"\nforward of one 512x512 image, eval, {torch.get_num_threads()} threads: {VIT_S} under each decoder")
    x = torch.randn(1, 3, 512, 512)
    for arch in ARCHS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model: Any = seghub.create_model(arch, encoder_name=VIT_S, encoder_weights=None, classes=3).eval()
        times = []
        with torch.inference_mode():
            for i in range(7):
                start = time.perf_counter()
                model(x)
                if i >= 2:
                    times.append(time.perf_counter() - start)
        neck = model.spec.neck.name if model.spec.neck else "-"
        print(f"  {arch:<14} {statistics.median(times) * 1e3:7.0f} ms  (neck: {neck})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smp", action="store_true", help="also try every pair with smp")
    parser.add_argument("--timing", action="store_true", help="also time ViT-S/16 under each decoder at 512x512")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    matrix(args.smp)
    if args.timing:
        timing()


if __name__ == "__main__":
    main()
