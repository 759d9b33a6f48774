"""Plugin discovery, isolation of broken plugins, strict mode, disabling, conflicts, suggestions."""

from __future__ import annotations

import pytest

import seghub
from seghub.errors import PluginConflictError, PluginError, UnknownNameError
from toy_plugins import ToyPlugin, toy_module

TOY_SPEC = {"encoder": {"name": "acme_enc", "depth": 3}, "decoder": {"name": "acme_head"}}


def _status(hub, name):
    return next(p for p in hub.plugins() if p.name == name)


def test_installed_distribution_is_discovered_and_usable(fake_dist, hub):
    fake_dist("acme-seghub", "acme", "acme_plugin", toy_module())
    info = _status(hub, "acme")
    assert (info.distribution, info.version, info.status) == ("acme-seghub", "1.2.3", "ok")
    model = seghub.build_model(TOY_SPEC)
    assert model.encoder.out_channels == (4, 8, 16)
    assert hub.encoder("acme_enc").plugin.distribution == "acme-seghub"


def test_discovery_is_lazy_and_cached(fake_dist, hub, monkeypatch):
    fake_dist("acme-seghub", "acme", "acme_plugin", toy_module())
    calls = []
    import importlib_metadata

    real = importlib_metadata.entry_points
    monkeypatch.setattr(importlib_metadata, "entry_points", lambda **kw: calls.append(kw) or real(**kw))
    hub.reload()
    assert calls == []
    hub.encoder("acme_enc")
    hub.decoder("acme_head")
    hub.plugins()
    assert calls == [{"group": "seghub"}]


def test_broken_plugin_is_reported_and_others_keep_working(fake_dist, hub):
    fake_dist("acme-seghub", "acme", "acme_plugin", toy_module())
    fake_dist("broken-seghub", "broken", "broken_plugin", "raise ImportError('needs libfoo')\n")
    broken = _status(hub, "broken")
    assert broken.status == "failed"
    assert "needs libfoo" in broken.reason and broken.distribution == "broken-seghub"
    assert seghub.build_model(TOY_SPEC).encoder.out_channels == (4, 8, 16)
    with pytest.raises(UnknownNameError, match="broken-seghub"):
        hub.encoder("nowhere")


def test_strict_mode_makes_a_broken_plugin_fatal(fake_dist, hub, monkeypatch):
    fake_dist("broken-seghub", "broken", "broken_plugin", "raise ImportError('needs libfoo')\n")
    monkeypatch.setenv("SEGHUB_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="broken-seghub.*needs libfoo"):
        hub.plugins()


def test_incompatible_plugin_api_is_skipped(fake_dist, hub):
    fake_dist("future-seghub", "future", "future_plugin", "SEGHUB_PLUGIN_API = 99\n" + toy_module("future_enc"))
    info = _status(hub, "future")
    assert info.status == "failed" and "plugin API 99" in info.reason
    with pytest.raises(UnknownNameError):
        hub.encoder("future_enc")


def test_hook_that_raises_is_isolated(fake_dist, hub):
    source = """
        import seghub

        @seghub.hookimpl
        def seghub_register_encoders(registry):
            registry.add_encoder("half_enc", factory="x:y")
            raise RuntimeError("boom")
    """
    fake_dist("raising-seghub", "raising", "raising_plugin", source)
    fake_dist("acme-seghub", "acme", "acme_plugin", toy_module())
    assert _status(hub, "raising").status == "failed"
    assert "boom" in _status(hub, "raising").reason
    with pytest.raises(UnknownNameError):
        hub.encoder("half_enc")
    assert hub.encoder("acme_enc")


@pytest.mark.parametrize("disabled", ["acme", "acme-seghub", "other,acme"])
def test_disabled_plugins_are_listed_but_not_used(fake_dist, hub, monkeypatch, disabled):
    fake_dist("acme-seghub", "acme", "acme_plugin", toy_module())
    monkeypatch.setenv("SEGHUB_DISABLE_PLUGINS", disabled)
    hub.reload()
    info = _status(hub, "acme")
    assert info.status == "disabled" and "SEGHUB_DISABLE_PLUGINS" in info.reason
    with pytest.raises(UnknownNameError):
        hub.encoder("acme_enc")


def test_same_name_from_two_plugins_conflicts_until_provider_picks(fake_dist, hub):
    fake_dist("acme-seghub", "acme", "acme_plugin", toy_module("shared_enc", "shared_head"))
    fake_dist("other-seghub", "other", "other_plugin", toy_module("shared_enc", "other_head"))
    with pytest.raises(PluginConflictError, match="acme-seghub.*other-seghub"):
        hub.encoder("shared_enc")
    spec = {"encoder": {"name": "shared_enc", "depth": 2}, "decoder": {"name": "shared_head"}}
    with pytest.raises(PluginConflictError, match="encoder.provider"):
        seghub.build_model(spec)
    spec["encoder"]["provider"] = "other-seghub"
    model = seghub.build_model(spec)
    assert model.spec.encoder.provider == "other-seghub"
    assert hub.encoder("shared_enc", provider="acme").plugin.distribution == "acme-seghub"
    with pytest.raises(UnknownNameError, match="not offered by provider 'nobody'"):
        hub.encoder("shared_enc", provider="nobody")


def test_unknown_names_get_suggestions(toy):
    with pytest.raises(UnknownNameError, match="Did you mean 'toy'"):
        toy.encoder("tyo")
    with pytest.raises(UnknownNameError, match="Did you mean 'toyhead'"):
        seghub.build_model({"encoder": {"name": "toy"}, "decoder": {"name": "toyheda"}})


def test_decoder_lookup_is_case_insensitive(toy):
    assert toy.decoder("ToyHead").name == "toyhead"
    model = seghub.build_model({"encoder": {"name": "toy", "depth": 2}, "decoder": {"name": "TOYHEAD"}})
    assert model.spec.decoder.name == "toyhead"


def test_in_process_registration_and_unregistration(hub):
    info = seghub.register_plugin(ToyPlugin(), "toy")
    assert info.in_process and info.status == "ok"
    assert "toy" in seghub.list_encoders("to*")
    with pytest.raises(PluginError, match="already registered"):
        seghub.register_plugin(ToyPlugin(), "toy")
    seghub.unregister_plugin("toy")
    with pytest.raises(UnknownNameError):
        hub.encoder("toy")


def test_registry_refuses_bad_names():
    registry = seghub.Registry()
    with pytest.raises(PluginError, match="non-empty"):
        registry.add_encoder(" x", factory="a:b")


def test_bad_factory_reference_is_reported(hub):
    class Bad:
        @seghub.hookimpl
        def seghub_register_encoders(self, registry):
            registry.add_encoder("bad_enc", factory="no_such_module_xyz:make")

    hub.register(Bad(), "bad")
    hub.register(ToyPlugin(), "toy")
    with pytest.raises(PluginError, match="no_such_module_xyz"):
        seghub.build_model({"encoder": {"name": "bad_enc"}, "decoder": {"name": "toyhead"}})


def test_encoder_family_prefix_and_alias(hub):
    class Family:
        @seghub.hookimpl
        def seghub_register_encoders(self, registry):
            registry.add_encoder_family(
                "fam:", aliases=("fa-",), factory="toy_plugins:ToyEncoder", list_names=lambda pattern: ["alpha", "beta"]
            )

    hub.register(Family(), "family")
    hub.register(ToyPlugin(), "toy")
    assert hub.encoder("fa-alpha").name == "fam:alpha"
    model = seghub.build_model({"encoder": {"name": "fa-alpha", "depth": 2}, "decoder": {"name": "toyhead"}})
    assert model.spec.encoder.name == "fam:alpha"
    assert seghub.list_encoders("fam:*") == ["fam:alpha", "fam:beta"]
    assert "fam:alpha" not in seghub.list_encoders()
