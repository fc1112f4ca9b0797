"""The model files talk uses, found inside their wheels and checked against models/registry.toml."""

from __future__ import annotations

import hashlib
import importlib.util
import tomllib
from dataclasses import dataclass
from pathlib import Path


def registry_path() -> Path:
    return Path(__file__).resolve().parents[2] / "models" / "registry.toml"


@dataclass(frozen=True)
class ModelStatus:
    name: str
    package: str
    stage: str
    path: Path | None  # where it was found, None if missing
    ok: bool
    problem: str  # "" when ok


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def check_models(verify_checksums: bool = True) -> list[ModelStatus]:
    """Status of every registered model file."""
    data = tomllib.loads(registry_path().read_text(encoding="utf-8"))
    out = []
    for name, entry in data["models"].items():
        root = _package_dir(entry["package"])
        path = root / entry["path"] if root else None
        problem = ""
        if path is None or not path.is_file():
            problem = f"missing: reinstall {entry['package']} (pip install --force-reinstall {entry['package']})"
            path = None
        elif path.stat().st_size != entry["size"]:
            problem = f"size {path.stat().st_size} != {entry['size']}"
        elif verify_checksums:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != entry["sha256"]:
                problem = "sha256 mismatch: the wheel is not the pinned release"
        out.append(ModelStatus(name, entry["package"], entry["stage"], path, not problem, problem))
    return out
