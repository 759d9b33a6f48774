"""The ``seghub`` command: inspect plugins, list names, print the schema, build a spec, demo.

Bad input ends with one message on stderr and exit code 2, never a traceback (``_cli_errors``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ._cli_errors import run_reporting_errors
from ._cli_schema import add_schema_command
from ._excerpt import excerpt
from .errors import SeghubError
from .plugins import get_hub

__all__ = ["main"]


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cmd_plugins(args: argparse.Namespace) -> int:
    rows = [
        (p.name, p.distribution or "(in-process)", p.version or "-", p.status, p.reason)
        for p in get_hub().plugins()
    ]
    print(_table(rows, ("plugin", "distribution", "version", "status", "reason")) if rows else "no plugins installed")
    return 0


def _cmd_encoders(args: argparse.Namespace) -> int:
    hub = get_hub()
    rows = [(e.name, e.plugin.label, ", ".join(sorted(e.weights_table())) or "-", e.description) for e in hub.encoders(args.pattern)]
    if args.pattern is None:
        rows += [
            (f"{f.prefix}<model>", f.plugin.label, "per model", f"{f.description} (`seghub encoders '{f.prefix}*'`)")
            for f in hub.families()
        ]
    if not rows:
        print(f"no encoder matches {args.pattern!r}" if args.pattern else "no encoders installed")
        return 0
    print(_table(rows, ("encoder", "plugin", "weights", "description")))
    return 0


def _cmd_decoders(args: argparse.Namespace) -> int:
    rows = [
        (d.name, d.constructor_name or "-", d.plugin.label, d.constraints.describe() or "any features", d.description)
        for d in get_hub().decoders(args.pattern)
    ]
    if not rows:
        print(f"no decoder matches {args.pattern!r}" if args.pattern else "no decoders installed")
        return 0
    print(_table(rows, ("decoder", "constructor", "plugin", "takes", "description")))
    return 0


def _cmd_necks(args: argparse.Namespace) -> int:
    rows = [(n.name, n.plugin.label, str(n.priority), n.description) for n in get_hub().necks(args.pattern)]
    if not rows:
        print(f"no neck matches {args.pattern!r}" if args.pattern else "no necks installed")
        return 0
    print(_table(rows, ("neck", "plugin", "priority", "description")))
    return 0


def _parse_shape(text: str) -> tuple[int, int, int, int]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected four positive integers N,C,H,W, got {excerpt(text)}")
    return shape  # type: ignore[return-value]


def _count(module: Any) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def _cmd_build(args: argparse.Namespace) -> int:
    import torch

    from ._model import build_model

    model = build_model(args.spec)
    spec = model.spec
    shape = args.input_shape or (1, spec.encoder.in_channels, 256, 256)
    if shape[1] != spec.encoder.in_channels:
        raise SeghubError(f"--input-shape has {shape[1]} channels but the spec's encoder.in_channels is {spec.encoder.in_channels}")
    parts = [
        ("encoder", spec.encoder.name, model.encoder),
        ("neck", "-" if spec.neck is None else spec.neck.name, model.neck),
        ("decoder", spec.decoder.name, model.decoder),
        ("segmentation_head", f"{spec.segmentation_head.classes} classes", model.segmentation_head),
        ("classification_head", "-" if spec.classification_head is None else f"{spec.classification_head.classes} classes", model.classification_head),
    ]
    print(_table([(p, what, f"{_count(m):,}") for p, what, m in parts] + [("total", "", f"{_count(model):,}")], ("part", "what", "parameters")))
    model.eval()
    with torch.no_grad():
        features = model.encoder(torch.zeros(shape))
        output = model(torch.zeros(shape))
    print(f"\ninput: {tuple(shape)}")
    print("encoder features: " + ", ".join(f"{tuple(f.shape)}@/{r}" for f, r in zip(features, model.encoder.reductions)))
    if isinstance(output, tuple):
        print(f"mask: {tuple(output[0].shape)}\nlabel: {tuple(output[1].shape)}")
    else:
        print(f"mask: {tuple(output.shape)}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import print_demo

    return print_demo(args.spec, seconds=args.seconds, steps=args.steps, size=args.size, batch=args.batch,
                      lr=args.lr, seed=args.seed, out=args.out)


def _positive(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:  # also refuses nan
            raise argparse.ArgumentTypeError(f"expected a positive number, got {excerpt(text)}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seghub", description="Segmentation models from plugin encoders and decoders.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("plugins", help="list plugins with their status").set_defaults(run=_cmd_plugins)
    enc = sub.add_parser("encoders", help="list encoder names (PATTERN: fnmatch, e.g. 'timm:*convnext*')")
    enc.add_argument("pattern", nargs="?")
    enc.set_defaults(run=_cmd_encoders)
    dec = sub.add_parser("decoders", help="list decoder names")
    dec.add_argument("pattern", nargs="?")
    dec.set_defaults(run=_cmd_decoders)
    necks = sub.add_parser("necks", help="list necks, in the order the builder tries them")
    necks.add_argument("pattern", nargs="?")
    necks.set_defaults(run=_cmd_necks)
    add_schema_command(sub)
    build = sub.add_parser("build", help="validate and build a spec, print a summary")
    build.add_argument("spec", help="path of a JSON spec file")
    build.add_argument("--input-shape", type=_parse_shape, metavar="N,C,H,W", help="input for the shape check (default 1,C,256,256)")
    build.set_defaults(run=_cmd_build)
    demo = sub.add_parser("demo", help="train a model on synthetic shapes for a few seconds; write a PNG, print the IoU")
    demo.add_argument("--spec", help="JSON spec to train (default: the small Unet shipped with seghub)")
    budget = demo.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=_positive(float), default=30.0, help="training time (default 30)")
    budget.add_argument("--steps", type=_positive(int), help="train exactly this many steps instead (reproducible)")
    demo.add_argument("--size", type=_positive(int), default=32, help="image height and width (default 32)")
    demo.add_argument("--batch", type=_positive(int), default=16, help="images per step (default 16)")
    demo.add_argument("--lr", type=_positive(float), default=3e-3, help="AdamW learning rate (default 0.003)")
    demo.add_argument("--seed", type=int, default=0, help="seed of weights and data (default 0)")
    demo.add_argument("--out", default="seghub-demo.png", help="where to write the PNG (default seghub-demo.png)")
    demo.set_defaults(run=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seghub`` console script."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run_reporting_errors(run, args)


if __name__ == "__main__":
    sys.exit(main())
