"""Presets and the model registry are found in a checkout and in a wheel install."""

import tomllib
from pathlib import Path

import talkcli.data as data
from talkcli.config.settings import available_presets
from talkcli.models.registry import registry_path

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_uses_its_own_presets_and_registry():
    assert data.data_path("presets") == ROOT / "presets"
    assert registry_path() == ROOT / "models" / "registry.toml"
    assert {"smoke", "fast", "balanced", "quality", "lecture"} <= set(available_presets())


def test_without_a_checkout_the_installed_copies_are_used(tmp_path, monkeypatch):
    prefix = tmp_path / "prefix"
    (prefix / "share" / "talkcli" / "presets").mkdir(parents=True)
    (prefix / "share" / "talkcli" / "presets" / "smoke.toml").write_text("[render]\nsize = 256\n")
    monkeypatch.setattr(data, "_CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setattr(data.sysconfig, "get_path", lambda name: str(prefix) if name == "data" else None)
    monkeypatch.delenv("TALK_PRESETS", raising=False)
    assert available_presets() == ["smoke"]
    assert registry_path() == prefix / "share" / "talkcli" / "models" / "registry.toml"


def test_the_wheel_ships_every_preset_and_the_registry():
    """pyproject's data-files must name every file the checkout looks up."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    shipped = {f for pattern in cfg["share/talkcli/presets"] for f in ROOT.glob(pattern)}
    assert shipped == set((ROOT / "presets").glob("*.toml"))
    assert cfg["share/talkcli/models"] == ["models/registry.toml"]
