"""``seghub-train``: LightningCLI with the shipped shapes config, shrunk to a few tiny steps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from seghub.errors import SpecError

from seghub_lightning.cli import main
from seghub_lightning.images import read_mask

CONFIG = Path(__file__).resolve().parents[2] / "seghub-lightning" / "configs" / "shapes.yaml"


def tiny(root: Path) -> list[str]:
    """Options shrinking the shipped config to a 0.7 M-parameter model and a few images."""
    return [
        "--config", str(CONFIG),
        # a spec section given on the command line replaces the config's section as a whole
        '--model.spec.encoder={"name": "resnet18", "weights": null, "depth": 3}',
        '--model.spec.decoder={"name": "unet", "params": {"decoder_channels": [16, 8, 8]}}',
        "--data.init_args.train_size=8", "--data.init_args.val_size=4", "--data.init_args.test_size=4",
        "--data.init_args.predict_size=4", "--data.init_args.batch_size=4",
        "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={root}",
    ]


def test_print_config_shows_the_whole_resolved_config() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seghub_lightning", "fit", "--config", str(CONFIG), "--print_config"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    config = yaml.safe_load(done.stdout)
    assert {"devices", "num_nodes", "strategy", "sync_batchnorm", "precision"} <= set(config["trainer"])
    # the spec as written (seghub, not the parser, fills in its defaults: see the checkpoint test)
    assert config["model"]["spec"] == yaml.safe_load(CONFIG.read_text())["model"]["spec"]
    assert config["model"]["optimizer"] == {"name": "AdamW", "params": {"lr": 0.003, "weight_decay": 0.0001}}
    assert config["data"]["class_path"] == "seghub_lightning.ShapesDataModule"
    assert config["data"]["init_args"]["seed"] == 0  # defaults filled in


def test_fit_validate_predict_and_resume_from_the_command_line(tmp_path: Path) -> None:
    main(["fit", *tiny(tmp_path), "--trainer.max_steps=2"])
    run = tmp_path / "lightning_logs" / "version_0"
    last = run / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    assert (run / "config.yaml").is_file() and checkpoint["global_step"] == 2
    spec = checkpoint["hyper_parameters"]["spec"]  # resolved by seghub: every field, neck included
    assert spec["encoder"] == {**spec["encoder"], "name": "resnet18", "depth": 3, "in_channels": 3, "weights": None}
    assert spec["segmentation_head"]["classes"] == 4 and "neck" in spec
    assert "val/miou" in (run / "metrics.csv").read_text().splitlines()[0].split(",")

    main(["validate", *tiny(tmp_path), "--ckpt_path", str(last)])

    out = tmp_path / "masks"
    main([
        "predict", *tiny(tmp_path), "--ckpt_path", str(last),
        "--trainer.callbacks+=seghub_lightning.MaskWriter", f"--trainer.callbacks.output_dir={out}",
    ])
    written = sorted(out.iterdir())
    assert [p.name for p in written] == ["0-0.png", "0-1.png", "0-2.png", "0-3.png"]
    assert all(read_mask(p).shape == (32, 32) and int(read_mask(p).max()) < 4 for p in written)

    main(["fit", *tiny(tmp_path), "--trainer.max_steps=4", "--ckpt_path", str(last)])
    resumed = tmp_path / "lightning_logs" / "version_3" / "checkpoints" / "last.ckpt"
    assert torch.load(resumed, weights_only=True)["global_step"] == 4


def test_a_bad_optimizer_argument_fails_with_its_location(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"optimizer\.params\.lrr: AdamW takes no argument 'lrr'"):
        main(["fit", *tiny(tmp_path), '--model.optimizer.params={"lrr": 0.1}'])
