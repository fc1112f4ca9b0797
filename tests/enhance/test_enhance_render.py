"""--enhance gfpgan through a whole render, with a tiny checkpoint of the official layout."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from talkcli.api import RenderJob, render
from talkcli.config.settings import load_settings
from talkcli.errors import EnvironmentProblem, ExitCode
from talkcli.events import StageProgress
from talkcli.mux.ffmpeg import probe, read_frames

pytestmark = pytest.mark.slow


@pytest.fixture()
def tiny_registry(tmp_path, tiny_weights, monkeypatch):
    """The project's registry with the gfpgan entry pointing at the tiny checkpoint."""
    import talkcli.models.registry as registry

    real = registry.registry_path().read_text()
    digest = hashlib.sha256(tiny_weights.read_bytes()).hexdigest()
    text = real.replace('file = "GFPGANv1.4.pth"', f'file = "{tiny_weights.name}"')
    start = text.index("[models.gfpgan]")
    block = text[start:]
    block = block.replace(block[block.index("sha256 = "):].split("\n", 1)[0], f'sha256 = "{digest}"', 1)
    block = block.replace(block[block.index("size = "):].split("\n", 1)[0], f"size = {tiny_weights.stat().st_size}", 1)
    block = block.replace('config = "official"', 'config = "tiny"')
    path = tmp_path / "registry.toml"
    path.write_text(text[:start] + block)
    monkeypatch.setattr(registry, "registry_path", lambda: path)
    return tiny_weights.parent


def _speech(tmp_path, example_face):
    import soundfile as sf

    x, sr = sf.read(example_face.parent / "speech.wav", dtype="float32")
    path = tmp_path / "speech.wav"
    sf.write(path, x[: int(1.2 * sr)], sr)
    return path


def test_short_render_is_enhanced(tmp_path, example_face, tiny_registry):
    speech = _speech(tmp_path, example_face)
    plain, enhanced = tmp_path / "plain.mp4", tmp_path / "enhanced.mp4"
    base = {"render.device": "cpu", "models.models_dir": str(tiny_registry)}
    render(RenderJob(example_face, speech, plain), load_settings("smoke", base))
    events = []
    result = render(RenderJob(example_face, speech, enhanced), load_settings("smoke", {**base, "enhance.method": "gfpgan", "enhance.strength": 1.0}), events.append)
    assert probe(enhanced).video.n_frames == probe(plain).video.n_frames == result.n_frames == 30
    a = np.stack(list(read_frames(plain))).astype(np.int16)
    b = np.stack(list(read_frames(enhanced))).astype(np.int16)
    assert np.abs(a - b).mean() > 1.0  # the network changed the face
    progress = [e for e in events if isinstance(e, StageProgress) and e.stage == "enhance"]
    assert progress and progress[-1].done == progress[-1].total == 30
    assert result.stage_ms_per_frame["enhance"] > 0
    # Strength 0 is the plain render, frame for frame.
    zero = tmp_path / "zero.mp4"
    render(RenderJob(example_face, speech, zero), load_settings("smoke", {**base, "enhance.method": "gfpgan", "enhance.strength": 0.0}))
    assert np.array_equal(np.stack(list(read_frames(zero))), np.stack(list(read_frames(plain))))


def test_missing_weights_fail_before_any_work(tmp_path, example_face, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TALK_MODELS", raising=False)
    out = tmp_path / "o.mp4"
    with pytest.raises(EnvironmentProblem) as info:
        render(RenderJob(example_face, _speech(tmp_path, example_face), out), load_settings("smoke", {"enhance.method": "gfpgan"}))
    assert info.value.exit_code == ExitCode.ENVIRONMENT
    assert "GFPGANv1.4.pth" in info.value.message and str(tmp_path / "cache" / "talkcli") in info.value.hint
    assert not out.exists() and not list(tmp_path.glob(".talk-*"))


def test_identity_enhancer_gives_the_frames_of_a_render_without_enhancement(tmp_path, example_face, tiny_registry, monkeypatch):
    """Regression: with enhancement and full-frame output, every crop of a block was pasted back
    with the LAST crop's paste data (the renderer's side channel), so frames 0-2 of each block
    showed the still photo or another frame's head. Each crop now carries its own paste data:
    an enhancer that changes nothing must give exactly the frames of a plain render."""
    from talkcli.enhance.enhancer import GfpganEnhancer

    def identity(self, crops, progress=None):
        self.frames_done += len(crops)
        if progress is not None:
            progress(len(crops))
        return np.array(crops, copy=True)

    monkeypatch.setattr(GfpganEnhancer, "enhance", identity)
    speech = _speech(tmp_path, example_face)
    base = {"render.device": "cpu", "models.models_dir": str(tiny_registry), "render.crop_only": False,
            "motion.head_motion": 1.0, "audio.frames_per_block": 4}  # fmt: skip
    plain, enhanced = tmp_path / "plain.mp4", tmp_path / "enhanced.mp4"
    render(RenderJob(example_face, speech, plain), load_settings("smoke", base))
    render(RenderJob(example_face, speech, enhanced), load_settings("smoke", {**base, "enhance.method": "gfpgan"}))
    a, b = np.stack(list(read_frames(plain))), np.stack(list(read_frames(enhanced)))
    assert a.shape == b.shape and a.shape[1:3] != (256, 256)  # full frame, not the crop
    assert len({hashlib.md5(f.tobytes()).hexdigest() for f in a}) > 10  # the mouth and head moved
    bad = [i for i in range(len(a)) if not np.array_equal(a[i], b[i])]
    assert not bad, f"frames {bad[:12]} differ"
