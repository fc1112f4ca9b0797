"""The dependency probe names the install command instead of failing on import."""

from __future__ import annotations

import importlib.util

import pytest

from talkcli.enhance import probe
from talkcli.errors import EnvironmentProblem, ExitCode


def test_missing_torch_is_an_environment_problem_naming_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(probe.importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert not probe.torch_available()
    with pytest.raises(EnvironmentProblem) as info:
        probe.require_torch("--enhance gfpgan")
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert "--enhance gfpgan needs torch" in info.value.message
    assert 'pip install "torch==2.13.0"' in info.value.hint


def test_installed_torch_passes():
    probe.require_torch()
    assert probe.torch_available()
