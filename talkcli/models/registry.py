"""Every model file talk can use, found offline and checked against models/registry.toml.

Lookup order for a file, first hit wins (the README documents the same):

1. ``--models-dir DIR`` (``models_dir=``), for user-supplied files;
2. the ``TALK_MODELS`` folder, for user-supplied files;
3. the install folder of the PyPI package that ships it, for package files
   (MediaPipe and pocketsphinx load their models from their own folder, so a
   copy anywhere else would never be used and is not looked for);
4. the user cache, ``$XDG_CACHE_HOME/talkcli`` (default ``~/.cache/talkcli``),
   for user-supplied files.

Nothing is downloaded. A missing file raises ``EnvironmentProblem`` (exit 6)
whose message names the file and the exact folder to put it in. A file that
is found but fails its size or sha256 check is an error too: the lookup does
not fall through to a later location, because silently using another copy
would hide that the file the user pointed at is wrong.

Verification cache: hashing the 349 MB GFPGAN file costs seconds of disk
reading and hashing on every run. So once a large file has been hashed, its
identity is recorded in ``<user cache>/verified.json``: real path, device,
inode, size, mtime and ctime (nanoseconds), with the digest computed. A
later run that finds all of those unchanged reuses the digest, and still
compares it with the registry (the cache says what the digest is, never
that it is right, so a registry update is not vouched for by an old entry).
ctime is the field that makes this safe against ordinary accidents: the
kernel sets it on every write, truncate, rename, chmod or ``touch``, and it
cannot be set back from user space, so copying a different file over the
old one, finishing a download in place, or restoring an old mtime with
``touch -d`` or ``cp -p`` all invalidate the entry. A file that changes
while it is being hashed is not recorded. The cache guards against
accidents, not against someone with write access to the file and the
system clock, who could as well edit the registry. Files under
``CACHE_MIN_BYTES`` (all the wheel-shipped ones) are simply hashed, since
that costs milliseconds, so ``talk doctor`` never writes the cache. An
unreadable, corrupt or unwritable cache is ignored: the file is hashed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from talkcli.errors import ConfigError, EnvironmentProblem
from talkcli.files import sha256_file, write_json_atomic

ENV_MODELS = "TALK_MODELS"
VERIFIED_CACHE_NAME = "verified.json"
CACHE_MIN_BYTES = 16 * 1024 * 1024  # smaller files are hashed every time (milliseconds)
SOURCES = ("package", "user")


def registry_path() -> Path:
    """``models/registry.toml`` of the checkout or the install (``talkcli.data``)."""
    from talkcli.data import data_path

    return data_path("models", "registry.toml")


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/talkcli``, or ``~/.cache/talkcli`` when it is unset or not absolute (XDG spec)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "talkcli"


@dataclass(frozen=True)
class ModelEntry:
    """One ``[models.NAME]`` table of the registry."""

    name: str
    file: str
    sha256: str
    size: int
    licence: str
    source: str  # "package" | "user"
    stage: str
    package: str = ""  # source = "package": the PyPI package that ships it
    path: str = ""  # source = "package": path inside the package folder
    obtain: str = ""  # source = "user": where the user gets it
    config: str = ""  # the named architecture configuration these weights belong to, if any


_REQUIRED = ("sha256", "size", "licence", "source", "stage")


def load_registry(path: Path | None = None) -> dict[str, ModelEntry]:
    """The registry's entries by name; a malformed entry is a ``ConfigError``."""
    path = path or registry_path()
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    known = {f for f in ModelEntry.__dataclass_fields__} - {"name"}
    entries = {}
    for name, raw in data.get("models", {}).items():
        missing = [k for k in _REQUIRED if k not in raw]
        unknown = sorted(set(raw) - known)
        if missing or unknown:
            raise ConfigError(f"{path}: [models.{name}] " + (f"lacks {', '.join(missing)}" if missing else f"has unknown keys {', '.join(unknown)}"))
        raw = dict(raw)
        if raw["source"] not in SOURCES:
            raise ConfigError(f"{path}: [models.{name}] source must be one of {', '.join(SOURCES)}")
        if raw["source"] == "package" and not (raw.get("package") and raw.get("path")):
            raise ConfigError(f"{path}: [models.{name}] is shipped in a package but names no package and path")
        raw.setdefault("file", Path(raw.get("path", "")).name)
        entries[name] = ModelEntry(name=name, **raw)
    return entries


def get_entry(name: str, registry: Path | None = None) -> ModelEntry:
    entries = load_registry(registry)
    if name not in entries:
        raise ConfigError(f"unknown model {name!r}", hint=f"registered: {', '.join(entries)}")
    return entries[name]


# --------------------------------------------------------------------------
# Where files are looked for.


@dataclass(frozen=True)
class Location:
    """A place a model file may be: ``label`` says which rule of the lookup order (e.g. "--models-dir")."""

    label: str
    path: Path  # the candidate file


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _check_models_dir(models_dir: Path | str | None) -> Path | None:
    if models_dir is None:
        return None
    folder = Path(models_dir).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"--models-dir {folder} is not a folder", hint="create it, or point --models-dir at the folder that holds the model files")
    return folder


def search_locations(entry: ModelEntry, models_dir: Path | str | None = None) -> list[Location]:
    """Candidate paths for ``entry``, in lookup order."""
    out = []
    if entry.source == "user":
        if models_dir is not None:
            out.append(Location("--models-dir", Path(models_dir).expanduser() / entry.file))
        env = os.environ.get(ENV_MODELS)
        if env:
            out.append(Location(ENV_MODELS, Path(env).expanduser() / entry.file))
        out.append(Location("user cache", user_cache_dir() / entry.file))
    else:
        root = _package_dir(entry.package)
        if root is not None:
            out.append(Location(f"package {entry.package}", root / entry.path))
    return out


def target_folder(models_dir: Path | str | None = None) -> tuple[Path, str]:
    """Where a user should put a missing file: the first user folder in the lookup order, and its label."""
    if models_dir is not None:
        return Path(models_dir).expanduser(), "--models-dir"
    env = os.environ.get(ENV_MODELS)
    if env:
        return Path(env).expanduser(), ENV_MODELS
    return user_cache_dir(), "user cache"


def locate(entry: ModelEntry, models_dir: Path | str | None = None) -> Location | None:
    """The first location holding ``entry``'s file, or None."""
    for loc in search_locations(entry, models_dir):
        if loc.path.is_file():
            return loc
    return None


def missing_message(entry: ModelEntry, models_dir: Path | str | None = None) -> tuple[str, str]:
    """(message, hint) for a missing file: which file to put where, and where it was looked for."""
    looked = "; ".join(f"{loc.path} ({loc.label})" for loc in search_locations(entry, models_dir)) or "nowhere (package not installed)"
    if entry.source == "package":
        return (
            f"model file {entry.file} ({entry.name}, {entry.stage}) is missing from package {entry.package}",
            f"reinstall it: pip install --force-reinstall {entry.package}; looked in: {looked}",
        )
    folder, label = target_folder(models_dir)
    create = "" if folder.is_dir() else " (create the folder)"
    where = f" Get it from {entry.obtain}." if entry.obtain else ""
    return (
        f"model file {entry.file} ({entry.name}, used by {entry.stage}) not found",
        (
            f"put {entry.file} in {folder}{os.sep}{create}, i.e. {folder / entry.file}, the {label} folder.{where} "
            f"Nothing is downloaded automatically. Looked in: {looked}"
        ),
    )


# --------------------------------------------------------------------------
# Checksums, with a cache of verified files.


def _identity(path: Path) -> tuple[str, dict]:
    real = os.path.realpath(path)
    st = os.stat(real)
    return real, {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def _cache_file() -> Path:
    return user_cache_dir() / VERIFIED_CACHE_NAME


def _read_cache() -> dict:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(key: str, record: dict) -> None:
    """Record one verified file; never raises (a cache that cannot be written only costs a rehash)."""
    target = _cache_file()
    try:
        data = _read_cache()
        data = {k: v for k, v in data.items() if os.path.exists(k)}  # forget files that are gone
        data[key] = record
        # Atomic: a concurrent reader sees the old or the new file, never half.
        write_json_atomic(target, data)
    except OSError:
        pass


def file_digest(path: Path, use_cache: bool = True) -> str:
    """sha256 of ``path``, reused from the verification cache when the file is provably unchanged.

    The cache records what a file's digest is, not whether it is right: the
    caller compares it with the registry every time.
    """
    real, ident = _identity(path)
    cacheable = use_cache and ident["size"] >= CACHE_MIN_BYTES
    if cacheable:
        record = _read_cache().get(real)
        if isinstance(record, dict) and all(record.get(k) == v for k, v in ident.items()) and isinstance(record.get("sha256"), str):
            return record["sha256"]
    digest = sha256_file(Path(real))
    if cacheable and _identity(path) == (real, ident):  # not changed while hashing (a download still running)
        _write_cache(real, {**ident, "sha256": digest})
    return digest


def verify_file(path: Path, entry: ModelEntry, use_cache: bool = True) -> str:
    """"" when ``path`` has ``entry``'s size and sha256, else what is wrong (one line)."""
    try:
        size = os.stat(path).st_size
        if size != entry.size:
            return f"wrong size: {size} bytes, expected {entry.size} (a partial download or a different file)"
        digest = file_digest(path, use_cache)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    if digest != entry.sha256:
        return f"wrong sha256 {digest[:12]}..., expected {entry.sha256[:12]}... (a different release or a damaged file)"
    return ""


def resolve_model(name: str, models_dir: Path | str | None = None, *, verify: bool = True,
                  registry: Path | None = None, use_cache: bool = True) -> Path:
    """The verified path of model ``name``, following the lookup order.

    Raises ``EnvironmentProblem`` (exit 6) when the file is missing (the
    message says which file to put in which folder) or fails its size or
    sha256 check; ``ConfigError`` (exit 2) for an unknown name or a
    ``models_dir`` that is not a folder.
    """
    entry = get_entry(name, registry)
    models_dir = _check_models_dir(models_dir)
    loc = locate(entry, models_dir)
    if loc is None:
        message, hint = missing_message(entry, models_dir)
        raise EnvironmentProblem(message, hint=hint)
    if verify:
        problem = verify_file(loc.path, entry, use_cache)
        if problem:
            fix = f"replace it with the official {entry.file}" + (f" from {entry.obtain}" if entry.obtain else "")
            if entry.source == "package":
                fix = f"reinstall it: pip install --force-reinstall {entry.package}"
            raise EnvironmentProblem(f"{loc.path} (found via {loc.label}) is not the expected {entry.file}: {problem}", hint=fix)
    return loc.path


# --------------------------------------------------------------------------
# Status of every file, for `talk models` and `talk doctor`.


@dataclass(frozen=True)
class ModelStatus:
    name: str
    package: str  # "" for user-supplied files
    stage: str
    path: Path | None  # where it was found, None if missing
    ok: bool  # found and (if checked) size and sha256 match
    problem: str  # "" when ok
    file: str = ""
    source: str = "package"
    found_in: str = ""  # label of the lookup rule that found it
    licence: str = ""
    state: str = ""  # "ok" | "missing" | "bad" | "unchecked"


def check_models(verify_checksums: bool = True, *, include_user: bool = False, models_dir: Path | str | None = None,
                 registry: Path | None = None, use_cache: bool = True) -> list[ModelStatus]:
    """Status of the registered model files.

    By default only the wheel-shipped files (what every render needs; ``talk
    doctor``); ``include_user=True`` adds the optional user-supplied ones
    (``talk models``). A user file that is absent is "missing" but not a
    failure of the check by itself; one that is present and wrong is.
    """
    models_dir = _check_models_dir(models_dir)
    out = []
    for entry in load_registry(registry).values():
        if entry.source == "user" and not include_user:
            continue
        loc = locate(entry, models_dir)
        if loc is None:
            _, hint = missing_message(entry, models_dir)
            problem = f"missing: {hint}" if entry.source == "user" else f"missing: reinstall {entry.package} (pip install --force-reinstall {entry.package})"
            state, path, found_in = "missing", None, ""
        else:
            path, found_in = loc.path, loc.label
            if verify_checksums:
                problem = verify_file(loc.path, entry, use_cache)
            else:
                size = loc.path.stat().st_size
                problem = "" if size == entry.size else f"wrong size: {size} bytes, expected {entry.size}"
            state = "bad" if problem else ("ok" if verify_checksums else "unchecked")
        out.append(ModelStatus(entry.name, entry.package, entry.stage, path, not problem, problem,
                               file=entry.file, source=entry.source, found_in=found_in, licence=entry.licence, state=state))
    return out
