"""Saving, loading and sharing whole models: save_pretrained / from_pretrained / push_to_hub,
offline loading from a hand-built Hugging Face cache, and importing smp checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

import seghub
from seghub.compat.smp import from_smp_pretrained, from_smp_state_dict
from seghub.testing import offline_hub_cache, write_hub_folder

REVISION = "0123456789abcdef0123456789abcdef01234567"
X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
SMALL_UNET = {"decoder_channels": [32, 16, 16, 8, 8]}


def _build(encoder: str, decoder: str, params: dict[str, Any] | None = None, aux: dict[str, Any] | None = None):
    torch.manual_seed(0)
    spec: dict[str, Any] = {
        "encoder": {"name": encoder},
        "decoder": {"name": decoder, "params": params or {}},
        "segmentation_head": {"classes": 3},
    }
    if aux is not None:
        spec["classification_head"] = aux
    model = seghub.build_model(spec).eval()
    with torch.no_grad():  # non-trivial running statistics, so a lost buffer would show
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.uniform_(-0.1, 0.1)
    return model


def _outputs(model: torch.nn.Module) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        out = model.eval()(X)
    return out if isinstance(out, tuple) else (out,)


def _edit_config(folder: Path, edit) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A resnet18 U-Net with a classification head, saved once for the error tests."""
    model = _build("resnet18", "unet", SMALL_UNET, {"classes": 2})
    folder = model.save_pretrained(tmp_path_factory.mktemp("saved") / "unet")
    return folder, model


@pytest.fixture
def copy(saved, tmp_path: Path) -> Path:
    """A private copy of the saved folder, free to damage."""
    return Path(shutil.copytree(saved[0], tmp_path / "copy"))


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache in offline mode (HF_HUB_OFFLINE=1): nothing downloads."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with offline_hub_cache(cache):
        yield cache


# -- round trips -------------------------------------------------------------------------------

CASES = [
    ("resnet18", "unet", SMALL_UNET, None),
    ("resnet34", "fpn", {"decoder_pyramid_channels": 32, "decoder_segmentation_channels": 32}, {"classes": 4, "pooling": "max"}),
    ("resnet18", "deeplabv3plus", {"decoder_channels": 32}, {"classes": 2, "dropout": 0.1, "activation": "sigmoid"}),
    ("timm:test_resnet", "unet", SMALL_UNET, {"classes": 2}),
    ("tu-test_convnext", "fpn", {"decoder_pyramid_channels": 32, "decoder_segmentation_channels": 32}, None),
]


@pytest.mark.parametrize(("encoder", "decoder", "params", "aux"), CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_round_trip_gives_identical_outputs_and_spec(tmp_path, encoder, decoder, params, aux):
    model = _build(encoder, decoder, params, aux)
    folder = model.save_pretrained(tmp_path / "model", dataset="toy-shapes", metrics={"miou": 0.5})
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]

    loaded = seghub.SegmentationModel.from_pretrained(folder)
    assert isinstance(loaded, seghub.SegmentationModel) and not loaded.training
    assert loaded.spec == model.spec and loaded.spec.model_dump() == model.spec.model_dump()
    for expected, actual in zip(_outputs(model), _outputs(loaded), strict=True):
        assert torch.equal(expected, actual)
    assert torch.equal(_outputs(seghub.from_pretrained(str(folder)))[0], _outputs(model)[0])


def test_config_records_spec_plugins_and_digest(saved):
    folder, model = saved
    config = json.loads((folder / "config.json").read_text())
    assert set(config) == {"format", "spec", "requires", "weights_sha256"}
    assert config["spec"] == json.loads(json.dumps(model.spec.model_dump()))
    needs = {r["distribution"]: r for r in config["requires"]}
    assert needs["seghub-core"]["version"] == seghub.__version__
    assert needs["seghub-encoders-resnet"]["provides"] == ["encoder resnet18"]
    assert needs["seghub-decoders"]["provides"] == ["decoder unet"]
    assert all(r["version"] for r in config["requires"])


def test_model_card(tmp_path):
    model = _build("resnet18", "unet", SMALL_UNET, {"classes": 2})
    folder = model.save_pretrained(
        tmp_path, description="Finds toy shapes.", dataset="toy-shapes", metrics={"miou": 0.71}, license="mit", tags=["toy"]
    )
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: seghub" in card and "license: mit" in card and "- toy" in card
    for text in ("# Unet with a resnet18 encoder", "Finds toy shapes.", "| Dataset | toy-shapes |", "| miou | 0.71 |",
                 f"| Parameters | {sum(p.numel() for p in model.parameters()):,} |", "2 classes, avg pooling",
                 "pip install seghub-core seghub-encoders-resnet seghub-decoders", "seghub.from_pretrained("):
        assert text in card, text
    with pytest.raises(TypeError, match="datasets"):
        model.save_pretrained(tmp_path / "x", datasets="typo")


def test_pretrained_weights_tag_is_kept_but_not_downloaded(tmp_path, hub_cache):
    from seghub.pretrained import with_weights_tag

    model = with_weights_tag(_build("resnet18", "unet", SMALL_UNET), "imagenet")
    folder = model.save_pretrained(tmp_path / "tagged")
    assert "initialised from `imagenet` weights" in (folder / "README.md").read_text()
    loaded = seghub.from_pretrained(folder)  # offline, empty cache: a download would fail
    assert loaded.spec.encoder.weights == "imagenet" and loaded.spec == model.spec
    assert torch.equal(_outputs(loaded)[0], _outputs(model)[0])


def test_callable_activation_is_refused_before_writing(tmp_path):
    model = seghub.build_model(
        {"encoder": {"name": "resnet18"}, "decoder": {"name": "unet", "params": SMALL_UNET},
         "segmentation_head": {"activation": torch.sigmoid}}
    )
    with pytest.raises(seghub.SpecError, match=r"segmentation_head\.activation: a Python callable \(sigmoid\)"):
        model.save_pretrained(tmp_path / "never")
    assert not (tmp_path / "never").exists()


# -- configs that must not load ------------------------------------------------------------------


def test_missing_plugin_distribution_is_one_message_with_the_pip_command(copy):
    def edit(config):
        config["spec"]["encoder"]["name"] = "fancy:backbone"
        config["requires"].append(
            {"distribution": "seghub-encoders-fancy", "version": "2.0", "plugin": "fancy", "provides": ["encoder fancy:backbone"]}
        )

    _edit_config(copy, edit)
    with pytest.raises(seghub.PluginError) as info:
        seghub.from_pretrained(copy)
    message = str(info.value)
    assert "seghub-encoders-fancy (for encoder fancy:backbone; saved with version 2.0)" in message
    assert message.endswith("Install with: pip install seghub-encoders-fancy")
    assert "\n" not in message and "Did you mean" not in message


def test_newer_spec_version_says_so(copy):
    _edit_config(copy, lambda c: c["spec"].update(version=2))
    with pytest.raises(seghub.SpecError, match=r"spec\.version: spec version 2 is newer .*upgrade seghub-core"):
        seghub.from_pretrained(copy)


def test_newer_config_format_says_so(copy):
    _edit_config(copy, lambda c: c.update(format=3))
    with pytest.raises(seghub.SpecError, match=r"format: config format 3 is newer .*upgrade seghub-core"):
        seghub.from_pretrained(copy)


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda c: c.update(comment="hi"), r"  comment: unknown key in config.json; allowed here: format, spec, requires, weights_sha256"),
        (lambda c: c["spec"]["encoder"].update(pretrained=True), r"spec\.encoder\.pretrained: unknown key"),
        (lambda c: c["spec"]["decoder"]["params"].update(decoder_chanels=[1]), r"spec\.decoder\.params\.decoder_chanels: unknown key"),
        (lambda c: c["requires"][0].update(optional=True), r"requires\[0\]\.optional: unknown key in config.json; allowed here: distribution, "),
    ],
    ids=["top-level", "spec", "plugin-params", "requires"],
)
def test_unknown_config_keys_fail_clearly(copy, edit, where):
    _edit_config(copy, edit)
    with pytest.raises(seghub.SpecError, match=where):
        seghub.from_pretrained(copy)


def test_smp_config_points_to_the_smp_import(copy):
    (copy / "config.json").write_text(json.dumps({"_model_class": "Unet", "encoder_name": "resnet18"}))
    with pytest.raises(seghub.SpecError, match="from_smp_pretrained"):
        seghub.from_pretrained(copy)


def test_missing_files_and_folders(tmp_path, copy):
    (copy / "model.safetensors").unlink()
    with pytest.raises(seghub.WeightsError, match="has no model.safetensors"):
        seghub.from_pretrained(copy)
    with pytest.raises(seghub.WeightsError, match="does not exist"):
        seghub.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="local folder"):
        seghub.from_pretrained(copy, revision="main")


# -- weights that must not load -------------------------------------------------------------------


@pytest.fixture
def no_loading(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every load_state_dict on a SegmentationModel: a refused file must load nothing."""
    calls: list[str] = []
    original = seghub.SegmentationModel.load_state_dict

    def spy(self, *args, **kwargs):
        calls.append("load_state_dict")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(seghub.SegmentationModel, "load_state_dict", spy)
    return calls


def test_truncated_weights(copy, no_loading):
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(seghub.WeightsError, match="does not match the sha256 recorded in config.json"):
        seghub.from_pretrained(copy)
    _edit_config(copy, lambda c: c.update(weights_sha256=None))  # without the digest safetensors notices
    with pytest.raises(seghub.WeightsError, match="corrupt or truncated"):
        seghub.from_pretrained(copy)
    assert no_loading == []


def test_tampered_weights(copy, no_loading):
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF  # one flipped bit pattern in the tensor data: only the digest can tell
    weights.write_bytes(bytes(data))
    with pytest.raises(seghub.WeightsError, match="modified, truncated or corrupted"):
        seghub.from_pretrained(copy)
    data[8:16] = b"{\"x\": 1}"  # a broken header
    weights.write_bytes(bytes(data))
    _edit_config(copy, lambda c: c.update(weights_sha256=None))
    with pytest.raises(seghub.WeightsError, match="corrupt or truncated"):
        seghub.from_pretrained(copy)
    assert no_loading == []


def test_weights_that_do_not_fit_list_every_problem(copy, no_loading):
    def edit(config):
        config["spec"]["segmentation_head"]["classes"] = 5  # mis-shaped head
        config["spec"]["classification_head"] = None  # unexpected classification-head keys
        config["weights_sha256"] = None

    _edit_config(copy, edit)
    with pytest.raises(seghub.WeightsError) as info:
        seghub.from_pretrained(copy)
    message = str(info.value)
    assert "2 unexpected keys: classification_head." in message
    assert "2 mis-shaped keys: segmentation_head.0.weight: file (3, 8, 3, 3), model (5, 8, 3, 3), " in message
    assert no_loading == []

    _edit_config(copy, lambda c: c["spec"].update(classification_head={"classes": 2}, segmentation_head={"classes": 3}))
    (copy / "model.safetensors").write_bytes(_without(copy / "model.safetensors", "decoder.blocks.0.conv1.0.weight"))
    with pytest.raises(seghub.WeightsError, match=r"1 missing keys: decoder\.blocks\.0\.conv1\.0\.weight"):
        seghub.from_pretrained(copy)
    assert no_loading == []


def _without(path: Path, key: str) -> bytes:
    from safetensors.torch import load_file, save

    state = load_file(str(path))
    del state[key]
    return save(state)


def test_no_unpickling_anywhere():
    root = Path(__file__).resolve().parents[2]
    sources = [p for pkg in root.glob("seghub-*/src") for p in pkg.rglob("*.py")]
    assert sources
    offenders = [str(p) for p in sources if any(bad in p.read_text() for bad in ("torch.load(", "pickle.load", "import pickle"))]
    assert offenders == []


# -- the Hub: offline cache and push ------------------------------------------------------------


def test_offline_loading_from_the_cache(saved, hub_cache):
    folder, model = saved
    write_hub_folder(hub_cache, "someone/unet-r18", REVISION, folder, ref="main")
    write_hub_folder(hub_cache, "someone/unet-r18", REVISION, folder, ref="v1")
    expected = _outputs(model)
    for revision in (None, "v1", REVISION):
        loaded = seghub.SegmentationModel.from_pretrained("someone/unet-r18", revision=revision)
        for e, a in zip(expected, _outputs(loaded), strict=True):
            assert torch.equal(e, a)
    with pytest.raises(seghub.WeightsError, match=r"'config.json' of Hugging Face repo 'someone/other'.*offline mode"):
        seghub.from_pretrained("someone/other")
    with pytest.raises(seghub.WeightsError, match="at revision 'v2'"):
        seghub.from_pretrained("someone/unet-r18", revision="v2")


def test_offline_cache_with_config_but_no_weights(saved, hub_cache, tmp_path):
    only_config = tmp_path / "only-config"
    only_config.mkdir()
    shutil.copy(saved[0] / "config.json", only_config)
    write_hub_folder(hub_cache, "someone/half", REVISION, only_config)
    with pytest.raises(seghub.WeightsError, match=r"'model.safetensors' of Hugging Face repo 'someone/half'"):
        seghub.from_pretrained("someone/half")


class FakeHub:
    """Stands in for the Hub API: records calls; an upload becomes a snapshot in the offline cache."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from huggingface_hub import HfApi
        from huggingface_hub.hf_api import RepoUrl

        def create_repo(api, repo_id, **kwargs):
            self.calls.append(("create_repo", (repo_id,), kwargs))
            return RepoUrl(f"https://huggingface.co/{repo_id}")

        def create_branch(api, repo_id, **kwargs):
            self.calls.append(("create_branch", (repo_id,), kwargs))

        def upload_folder(api, **kwargs):
            self.calls.append(("upload_folder", (), dict(kwargs)))
            folder = Path(kwargs["folder_path"])
            self.uploaded = sorted(p.name for p in folder.iterdir())
            write_hub_folder(self.cache, kwargs["repo_id"], REVISION, folder, ref=kwargs["revision"] or "main")
            return "commit-info"

        monkeypatch.setattr(HfApi, "create_repo", create_repo)
        monkeypatch.setattr(HfApi, "create_branch", create_branch)
        monkeypatch.setattr(HfApi, "upload_folder", upload_folder)


def test_push_to_hub_calls_and_round_trip(hub_cache, monkeypatch):
    hub = FakeHub(hub_cache)
    hub.install(monkeypatch)
    model = _build("resnet18", "unet", SMALL_UNET, {"classes": 2})
    result = model.push_to_hub(
        "someone/pushed", commit_message="first model", private=True, token="hf_token", revision="dev", dataset="toy"
    )
    assert result == "commit-info"
    assert [name for name, _, _ in hub.calls] == ["create_repo", "create_branch", "upload_folder"]
    assert hub.calls[0][1:] == (("someone/pushed",), {"token": "hf_token", "private": True, "repo_type": "model", "exist_ok": True})
    assert hub.calls[1][1:] == (("someone/pushed",), {"branch": "dev", "token": "hf_token", "repo_type": "model", "exist_ok": True})
    upload = hub.calls[2][2]
    assert {k: v for k, v in upload.items() if k != "folder_path"} == {
        "repo_id": "someone/pushed", "commit_message": "first model", "token": "hf_token", "repo_type": "model",
        "revision": "dev", "create_pr": False,
    }
    assert hub.uploaded == ["README.md", "config.json", "model.safetensors"]
    assert not Path(upload["folder_path"]).exists()  # the temporary folder is gone
    card = (hub_cache / "models--someone--pushed" / "snapshots" / REVISION / "README.md").read_text()
    assert 'seghub.from_pretrained("someone/pushed")' in card

    loaded = seghub.from_pretrained("someone/pushed", revision="dev")
    for e, a in zip(_outputs(model), _outputs(loaded), strict=True):
        assert torch.equal(e, a)


def test_push_to_main_and_as_pull_request_create_no_branch(hub_cache, monkeypatch):
    hub = FakeHub(hub_cache)
    hub.install(monkeypatch)
    model = _build("resnet18", "unet", SMALL_UNET)
    model.push_to_hub("someone/pushed")
    model.push_to_hub("someone/pushed", create_pr=True)
    names = [name for name, _, _ in hub.calls]
    assert names == ["create_repo", "upload_folder", "create_repo", "upload_folder"]
    assert hub.calls[1][2]["commit_message"] == "Upload seghub model" and hub.calls[1][2]["revision"] is None
    assert hub.calls[3][2]["create_pr"] is True


# -- importing smp checkpoints ------------------------------------------------------------------

smp_cases = [
    ("Unet", {}),
    ("FPN", {"aux_params": {"classes": 3, "dropout": 0.1}}),
    ("DeepLabV3Plus", {"decoder_atrous_rates": (6, 12, 18), "decoder_channels": 64}),
]


@pytest.mark.parametrize(("arch", "kwargs"), smp_cases, ids=[c[0] for c in smp_cases])
def test_smp_save_pretrained_folder_imports_with_the_same_outputs(tmp_path, arch, kwargs):
    smp = pytest.importorskip("segmentation_models_pytorch")
    torch.manual_seed(0)
    theirs = getattr(smp, arch)("resnet34", encoder_weights=None, classes=2, **kwargs).eval()
    theirs.save_pretrained(tmp_path / "smp", dataset="toy")
    ours = from_smp_pretrained(tmp_path / "smp")
    assert isinstance(ours, seghub.SegmentationModel) and not ours.training
    assert ours.spec.decoder.name == arch.lower() and ours.spec.encoder.name == "resnet34"
    with torch.no_grad():
        expected, actual = theirs(X), ours(X)
    expected, actual = (expected, actual) if isinstance(expected, tuple) else ((expected,), (actual,))
    for e, a in zip(expected, actual, strict=True):
        assert e.shape == a.shape
        torch.testing.assert_close(a, e, atol=1e-4, rtol=0)

    if arch == "Unet":  # and the imported model saves and loads as a seghub model
        again = seghub.from_pretrained(ours.save_pretrained(tmp_path / "seghub"))
        assert torch.equal(_outputs(ours)[0], _outputs(again)[0])


def test_smp_state_dict_and_offline_smp_repo(tmp_path, hub_cache):
    smp = pytest.importorskip("segmentation_models_pytorch")
    torch.manual_seed(0)
    theirs = smp.Unet("resnet34", encoder_weights=None, classes=2, decoder_channels=(32, 16, 16, 8, 8)).eval()
    with torch.no_grad():
        expected = theirs(X)
    ours = from_smp_state_dict("Unet", theirs.state_dict(), encoder_name="resnet34", classes=2,
                               decoder_channels=(32, 16, 16, 8, 8), encoder_weights="imagenet")
    assert ours.spec.encoder.weights == "imagenet"  # recorded, never downloaded (offline here)
    with torch.no_grad():
        torch.testing.assert_close(ours(X), expected, atol=1e-4, rtol=0)

    theirs.save_pretrained(tmp_path / "smp")
    write_hub_folder(hub_cache, "someone/smp-unet", REVISION, tmp_path / "smp")
    from_hub = from_smp_pretrained("someone/smp-unet")
    with torch.no_grad():
        torch.testing.assert_close(from_hub(X), expected, atol=1e-4, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(from_smp_state_dict("unet", tmp_path / "smp" / "model.safetensors",
                                                       classes=2, decoder_channels=[32, 16, 16, 8, 8])(X), expected,
                                   atol=1e-4, rtol=0)


def test_smp_state_dict_that_does_not_fit(no_loading):
    smp = pytest.importorskip("segmentation_models_pytorch")
    theirs = smp.Unet("resnet18", encoder_weights=None, classes=2, decoder_channels=(32, 16, 16, 8, 8))
    with pytest.raises(seghub.WeightsError, match=r"mis-shaped keys: segmentation_head\.0\.weight"):
        from_smp_state_dict("Unet", theirs.state_dict(), encoder_name="resnet18", classes=4,
                            decoder_channels=[32, 16, 16, 8, 8])
    with pytest.raises(seghub.WeightsError, match=r"96 missing keys: encoder\.layer1\.2\.conv1\.weight, .*\(88 more\)"):
        from_smp_state_dict("Unet", theirs.state_dict(), encoder_name="resnet34", classes=2,
                            decoder_channels=[32, 16, 16, 8, 8])
    assert no_loading == []


def test_not_an_smp_folder(saved):
    with pytest.raises(seghub.SpecError, match="not an smp config.*use seghub.from_pretrained"):
        from_smp_pretrained(saved[0])


def test_a_folder_saved_before_the_decoupling_loads_with_the_same_outputs(tmp_path):
    """data/saved-before-necks was written by seghub before decoders owned their constructors and
    specs had a neck section (commit bbbbabd); it loads, unchanged, into the same function."""
    from safetensors.torch import load_file

    data = Path(__file__).parent / "data"
    model = seghub.from_pretrained(data / "saved-before-necks")
    assert model.spec.neck is None and model.neck is None
    recorded = load_file(str(data / "saved-before-necks-io.safetensors"))
    with torch.no_grad():
        mask, label = model(recorded["input"])
    torch.testing.assert_close(mask, recorded["mask"])
    torch.testing.assert_close(label, recorded["label"])
    # saving it again records the neck choice, and that folder loads too
    again = seghub.from_pretrained(model.save_pretrained(tmp_path / "resaved"))
    assert json.loads((tmp_path / "resaved" / "config.json").read_text())["spec"]["neck"] is None
    torch.testing.assert_close(again(recorded["input"])[0], recorded["mask"])
