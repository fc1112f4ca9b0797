"""Model registry: lookup order, errors that say what to put where, checksums and the verification cache."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from talkcli.errors import ConfigError, EnvironmentProblem, ExitCode
from talkcli.models import registry as reg

CONTENT = b"tiny model bytes\n" * 64
OTHER = b"tiny model BYTES\n" * 64  # same length, different content


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test sees the real TALK_MODELS or writes the real ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TALK_MODELS", raising=False)


@pytest.fixture()
def fake_registry(tmp_path) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(
        f"""
[models.tiny]
source = "user"
file = "tiny.bin"
sha256 = "{hashlib.sha256(CONTENT).hexdigest()}"
size = {len(CONTENT)}
licence = "CC0-1.0"
obtain = "the test fixture"
stage = "tests"
""",
        encoding="utf-8",
    )
    return path


def _put(folder: Path, data: bytes = CONTENT, name: str = "tiny.bin") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def test_lookup_order_models_dir_then_env_then_user_cache(tmp_path, monkeypatch, fake_registry):
    flag_dir, env_dir = tmp_path / "flag", tmp_path / "env"
    cache_dir = tmp_path / "xdg" / "talkcli"
    for folder in (flag_dir, env_dir, cache_dir):
        _put(folder)
    monkeypatch.setenv("TALK_MODELS", str(env_dir))
    resolve = lambda md=None: reg.resolve_model("tiny", md, registry=fake_registry)
    assert resolve(flag_dir) == flag_dir / "tiny.bin"
    assert resolve() == env_dir / "tiny.bin"
    (env_dir / "tiny.bin").unlink()
    assert resolve() == cache_dir / "tiny.bin"
    # An empty --models-dir is searched and skipped, not an error.
    (flag_dir / "tiny.bin").unlink()
    assert resolve(flag_dir) == cache_dir / "tiny.bin"


def test_xdg_cache_home_default_and_relative_value_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert reg.user_cache_dir() == tmp_path / "home" / ".cache" / "talkcli"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec says: ignore it
    assert reg.user_cache_dir() == tmp_path / "home" / ".cache" / "talkcli"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "abs"))
    assert reg.user_cache_dir() == tmp_path / "abs" / "talkcli"


def test_missing_file_names_the_file_and_the_folder_to_put_it_in(tmp_path, monkeypatch):
    # The real registry entry, so the documented text is what is tested.
    with pytest.raises(EnvironmentProblem) as info:
        reg.resolve_model("gfpgan")
    err = info.value
    assert err.exit_code == ExitCode.ENVIRONMENT == 6
    cache = tmp_path / "xdg" / "talkcli"
    assert "GFPGANv1.4.pth" in err.message and "not found" in err.message
    assert f"put GFPGANv1.4.pth in {cache}{os.sep}" in err.hint
    assert str(cache / "GFPGANv1.4.pth") in err.hint
    assert "https://github.com/TencentARC/GFPGAN/releases/tag/v1.3.0" in err.hint
    assert "Nothing is downloaded" in err.hint

    env = tmp_path / "env"
    env.mkdir()
    monkeypatch.setenv("TALK_MODELS", str(env))
    with pytest.raises(EnvironmentProblem) as info:
        reg.resolve_model("gfpgan")
    assert f"put GFPGANv1.4.pth in {env}{os.sep}" in info.value.hint and "TALK_MODELS" in info.value.hint

    flag = tmp_path / "flag"
    flag.mkdir()
    with pytest.raises(EnvironmentProblem) as info:
        reg.resolve_model("gfpgan", flag)
    hint = info.value.hint
    assert f"put GFPGANv1.4.pth in {flag}{os.sep}" in hint and "--models-dir" in hint
    # Every place looked in is listed, in order.
    assert hint.index(str(flag / "GFPGANv1.4.pth")) < hint.index(str(env / "GFPGANv1.4.pth")) < hint.index(str(cache / "GFPGANv1.4.pth"))


def test_models_dir_that_is_not_a_folder_is_a_usage_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        reg.resolve_model("gfpgan", tmp_path / "nope")
    assert info.value.exit_code == ExitCode.USAGE


def test_unknown_model_name(fake_registry):
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        reg.resolve_model("nope", registry=fake_registry)


def test_wrong_checksum_is_reported_and_not_skipped_over(tmp_path, fake_registry):
    flag = tmp_path / "flag"
    bad = _put(flag, OTHER)
    _put(tmp_path / "xdg" / "talkcli")  # a good copy later in the order must not be used silently
    with pytest.raises(EnvironmentProblem) as info:
        reg.resolve_model("tiny", flag, registry=fake_registry)
    assert str(bad) in info.value.message and "--models-dir" in info.value.message
    assert "wrong sha256" in info.value.message
    assert "replace it with the official tiny.bin" in info.value.hint


def test_wrong_size_is_reported_without_hashing(tmp_path, monkeypatch, fake_registry):
    monkeypatch.setattr(reg, "sha256_file", lambda p: pytest.fail("hashed a file of the wrong size"))
    flag = tmp_path / "flag"
    _put(flag, CONTENT[:-1])
    with pytest.raises(EnvironmentProblem, match="wrong size"):
        reg.resolve_model("tiny", flag, registry=fake_registry)


def test_gfpgan_entry_wrong_checksum_at_full_size(tmp_path, monkeypatch):
    """A file of GFPGANv1.4.pth's exact size but other content (sparse: no disk used) fails its sha256."""
    flag = tmp_path / "flag"
    flag.mkdir()
    entry = reg.get_entry("gfpgan")
    with open(flag / "GFPGANv1.4.pth", "wb") as f:
        f.truncate(entry.size)
    calls = []
    real_hash = reg.sha256_file
    monkeypatch.setattr(reg, "sha256_file", lambda p: calls.append(p) or real_hash(p))
    for _ in range(2):
        with pytest.raises(EnvironmentProblem) as info:
            reg.resolve_model("gfpgan", flag)
        assert "wrong sha256" in info.value.message and "GFPGANv1.4.pth" in info.value.message
        assert "TencentARC/GFPGAN/releases" in info.value.hint
    assert len(calls) == 1  # the second run reused the recorded digest (and still refused the file)


def test_real_registry_entries():
    entries = reg.load_registry()
    g = entries["gfpgan"]
    assert (g.file, g.source, g.size) == ("GFPGANv1.4.pth", "user", 348632874)
    assert g.sha256 == "e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad"
    assert {"face_detection", "face_landmarks", "acoustic_model", "phone_lm", "dictionary"} <= set(entries)
    assert all(e.source == "package" and e.package for n, e in entries.items() if n != "gfpgan")


def test_check_models_default_is_the_wheel_files_for_doctor():
    statuses = reg.check_models()
    assert [s.source for s in statuses] == ["package"] * len(statuses)
    assert all(s.ok and s.state == "ok" for s in statuses), [s.problem for s in statuses]


def test_check_models_with_user_files(tmp_path):
    statuses = {s.name: s for s in reg.check_models(include_user=True, models_dir=tmp_path)}
    g = statuses["gfpgan"]
    assert (g.state, g.ok, g.path) == ("missing", False, None)
    assert str(tmp_path / "GFPGANv1.4.pth") in g.problem


# --- the verification cache -------------------------------------------------


@pytest.fixture()
def counting_hash(monkeypatch):
    monkeypatch.setattr(reg, "CACHE_MIN_BYTES", 0)  # cache even the tiny test file
    calls = []
    real = reg.sha256_file
    monkeypatch.setattr(reg, "sha256_file", lambda p: calls.append(Path(p)) or real(p))
    return calls


def test_verified_file_is_not_rehashed_while_unchanged(tmp_path, fake_registry, counting_hash):
    flag = tmp_path / "flag"
    _put(flag)
    for _ in range(3):
        reg.resolve_model("tiny", flag, registry=fake_registry)
    assert len(counting_hash) == 1
    record = json.loads((tmp_path / "xdg" / "talkcli" / "verified.json").read_text())
    assert set(record[str((flag / "tiny.bin").resolve())]) == {"dev", "ino", "size", "mtime_ns", "ctime_ns", "sha256"}
    # --rehash / use_cache=False always hashes.
    reg.resolve_model("tiny", flag, registry=fake_registry, use_cache=False)
    assert len(counting_hash) == 2


def test_same_size_replacement_with_old_mtime_restored_is_rehashed(tmp_path, fake_registry, counting_hash):
    flag = tmp_path / "flag"
    path = _put(flag)
    reg.resolve_model("tiny", flag, registry=fake_registry)
    st = path.stat()
    path.write_bytes(OTHER)  # same size, different content...
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # ...and the old mtime put back (cp -p, touch -r)
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size
    with pytest.raises(EnvironmentProblem, match="wrong sha256"):
        reg.resolve_model("tiny", flag, registry=fake_registry)
    assert len(counting_hash) == 2  # ctime changed, so the record no longer vouched for it


def test_a_changed_registry_is_not_vouched_for_by_the_cache(tmp_path, fake_registry, counting_hash):
    flag = tmp_path / "flag"
    _put(flag)
    reg.resolve_model("tiny", flag, registry=fake_registry)
    text = fake_registry.read_text().replace(hashlib.sha256(CONTENT).hexdigest(), hashlib.sha256(OTHER).hexdigest())
    fake_registry.write_text(text)
    with pytest.raises(EnvironmentProblem, match="wrong sha256"):
        reg.resolve_model("tiny", flag, registry=fake_registry)


@pytest.mark.parametrize("damage", ["corrupt", "directory"])
def test_unreadable_or_unwritable_cache_only_costs_a_rehash(tmp_path, fake_registry, counting_hash, damage):
    cache_file = tmp_path / "xdg" / "talkcli" / "verified.json"
    cache_file.parent.mkdir(parents=True)
    if damage == "corrupt":
        cache_file.write_text("{not json")
    else:
        cache_file.mkdir()  # reading and replacing it both fail
    flag = tmp_path / "flag"
    _put(flag)
    assert reg.resolve_model("tiny", flag, registry=fake_registry) == flag / "tiny.bin"
    assert reg.resolve_model("tiny", flag, registry=fake_registry) == flag / "tiny.bin"
    assert len(counting_hash) == (1 if damage == "corrupt" else 2)


def test_small_files_are_hashed_every_time_and_never_cached(tmp_path, fake_registry, monkeypatch):
    calls = []
    real = reg.sha256_file
    monkeypatch.setattr(reg, "sha256_file", lambda p: calls.append(p) or real(p))
    flag = tmp_path / "flag"
    _put(flag)
    reg.resolve_model("tiny", flag, registry=fake_registry)
    reg.resolve_model("tiny", flag, registry=fake_registry)
    assert len(calls) == 2
    assert not (tmp_path / "xdg" / "talkcli" / "verified.json").exists()


@pytest.mark.parametrize(
    "body,complaint",
    [
        ('source = "user"\nfile = "a"\nsize = 1\nlicence = "x"\nstage = "s"', "lacks sha256"),
        ('source = "user"\nfile = "a"\nsha256 = "0"\nsize = 1\nlicence = "x"\nstage = "s"\nurl = "u"', "unknown keys url"),
        ('source = "web"\nfile = "a"\nsha256 = "0"\nsize = 1\nlicence = "x"\nstage = "s"', "source must be"),
        ('source = "package"\nfile = "a"\nsha256 = "0"\nsize = 1\nlicence = "x"\nstage = "s"', "names no package"),
    ],
)
def test_malformed_registry_entries_are_errors(tmp_path, body, complaint):
    path = tmp_path / "r.toml"
    path.write_text(f"[models.m]\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=complaint):
        reg.load_registry(path)
