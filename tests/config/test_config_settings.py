"""load_settings: defaults < preset < flags with provenance; presets are checked, never guessed."""

import dataclasses
import tomllib
from pathlib import Path

import pytest

from talkcli.config.settings import (
    DEFAULT_PRESET,
    SECTIONS,
    Settings,
    available_presets,
    load_preset,
    load_settings,
    presets_dir,
)
from talkcli.errors import ConfigError, ExitCode

PRESETS = Path(__file__).resolve().parents[2] / "presets"


def _config_error(match, *args, **kwargs):
    with pytest.raises(ConfigError, match=match) as info:
        load_settings(*args, **kwargs)
    assert info.value.exit_code == ExitCode.USAGE == 2
    return info.value


def _preset(tmp_path, text, name="custom.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_presets_folder_is_the_repository_one():
    assert presets_dir().resolve() == PRESETS
    assert set(available_presets()) == {p.stem for p in PRESETS.glob("*.toml")}
    assert {"balanced", "fast", "lecture", "quality", "smoke"} <= set(available_presets())


@pytest.mark.parametrize("name", sorted(p.stem for p in PRESETS.glob("*.toml")))
def test_every_preset_loads_and_applies_its_values(name):
    s = load_settings(name)
    assert s.preset == name
    data = tomllib.loads((PRESETS / f"{name}.toml").read_text())
    assert isinstance(data.pop("description"), str) and data  # documented and not empty
    for section, values in data.items():
        for key, value in values.items():
            assert getattr(getattr(s, section), key) == value
            assert s.sources[f"{section}.{key}"] == f"preset {name}"


def test_defaults_preset_and_flags_layer_with_sources():
    s = load_settings("smoke", {"face.size": 320, "motion.seed": 7, "render.device": None})
    src = dict((k, origin) for k, _, origin in s.items())
    values = dict((k, v) for k, v, _ in s.items())
    # flag beats preset
    assert values["face.size"] == 320 and src["face.size"] == "flag"
    assert values["motion.seed"] == 7 and src["motion.seed"] == "flag"
    # preset beats default
    assert values["mux.crf"] == 28 and src["mux.crf"] == "preset smoke"
    assert values["render.crop_only"] is True and src["render.crop_only"] == "preset smoke"
    # untouched values are defaults; a None flag means "not given"
    assert values["render.device"] == "cpu" and src["render.device"] == "preset smoke"  # a None flag is "not given"
    assert values["render.map_scale"] == 0.5 and src["render.map_scale"] == "default"
    assert values["motion.head_motion"] == 1.0 and src["motion.head_motion"] == "default"
    # items() lists every field of every section exactly once
    expected = [f"{n}.{f.name}" for n, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
    assert [k for k, _, _ in s.items()] == expected


def test_default_preset_is_balanced():
    assert DEFAULT_PRESET == "balanced"
    s = load_settings()
    assert s.preset == "balanced"
    assert s == load_settings("balanced")
    assert s.sources["face.size"] == "preset balanced"


def test_settings_are_frozen():
    s = load_settings("smoke")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.face.size = 128  # type: ignore[misc]
    assert isinstance(s, Settings)


def test_as_dict_round_trips_through_the_dataclasses():
    s = load_settings("quality", {"motion.seed": 3})
    d = s.as_dict()
    assert set(d) == set(SECTIONS)
    rebuilt = {name: SECTIONS[name](**values) for name, values in d.items()}
    assert Settings(**rebuilt, preset="quality") == s


def test_int_flag_for_a_float_setting_becomes_float():
    s = load_settings("smoke", {"motion.head_motion": 2})
    assert s.motion.head_motion == 2.0 and isinstance(s.motion.head_motion, float)


def test_face_index_may_be_none_or_an_int():
    assert load_settings("smoke").face.face_index is None
    assert load_settings("smoke", {"face.face_index": 1}).face.face_index == 1


def test_preset_given_as_a_toml_path(tmp_path):
    path = _preset(tmp_path, 'description = "mine"\n[face]\nsize = 320\n[motion]\nseed = 9\n')
    s = load_settings(path)
    assert s.face.size == 320 and s.motion.seed == 9
    assert s.sources["face.size"] == f"preset {path}"


def test_unknown_preset_is_a_usage_error():
    err = _config_error("unknown preset 'turbo'", "turbo")
    assert "smoke" in err.hint and "balanced" in err.hint


def test_missing_preset_file_is_a_usage_error(tmp_path):
    _config_error("unknown preset", str(tmp_path / "nope.toml"))


def test_unknown_section_in_a_preset_is_a_usage_error(tmp_path):
    err = _config_error(r"unknown section \[video\]", _preset(tmp_path, "[video]\nsize = 320\n"))
    assert "face" in err.hint


def test_scalar_where_a_section_belongs_is_a_usage_error(tmp_path):
    _config_error(r"unknown section \[face\]", _preset(tmp_path, "face = 3\n"))


def test_unknown_key_in_a_preset_is_a_usage_error(tmp_path):
    err = _config_error(r"unknown setting face\.sise", _preset(tmp_path, "[face]\nsise = 320\n"))
    assert "size" in err.hint


def test_unknown_flag_key_is_a_usage_error():
    _config_error(r"unknown setting motion\.speed \(flag\)", "smoke", {"motion.speed": 2})


def test_invalid_toml_is_a_usage_error(tmp_path):
    _config_error("not valid TOML", _preset(tmp_path, "[face\nsize = 3\n"))


@pytest.mark.parametrize("text,match", [
    ("[face]\nsize = 'big'\n", "face.size must be int"),
    ("[face]\nsize = 320.0\n", "face.size must be int"),
    ("[face]\nsize = true\n", "face.size must be int"),
    ("[motion]\nhead_motion = 'lots'\n", "motion.head_motion must be float"),
    ("[motion]\nhead_motion = true\n", "motion.head_motion must be float"),
    ("[render]\ncrop_only = 1\n", "render.crop_only must be bool"),
    ("[render]\ndevice = 0\n", "render.device must be str"),
    ("[face]\nface_index = 'first'\n", "face.face_index must be int | None"),
])
def test_wrong_type_in_a_preset_is_a_usage_error(tmp_path, text, match):
    _config_error(match, _preset(tmp_path, text))


@pytest.mark.parametrize("flags,match", [
    ({"face.size": 63}, "face.size must be an even number"),
    ({"face.size": 62}, "face.size must be an even number"),
    ({"face.size": 321}, "face.size must be an even number"),
    ({"face.size": 4096}, "face.size must be an even number"),
    ({"face.face_fraction": 0.95}, "face_fraction"),
    ({"face.face_index": -1}, "--face-index must be 0 or more"),
    ({"motion.head_motion": 3}, "--head-motion must be 0..2"),
    ({"motion.head_motion": -0.1}, "--head-motion must be 0..2"),
    ({"motion.blink_interval_s": 0.5}, "blink_interval_s"),
    ({"render.device": "tpu"}, "--device must be auto, cpu or cuda"),
    ({"render.map_scale": 0.1}, "map_scale"),
    ({"audio.frames_per_block": 0}, "frames_per_block"),
    ({"audio.max_chunk_s": 90.0}, "max_chunk_s"),
    ({"audio.fps": "0"}, "frame rate"),
    ({"audio.fps": "fast"}, "invalid frame rate"),
    ({"mux.crf": 52}, "crf"),
])
def test_out_of_range_values_are_usage_errors(flags, match):
    _config_error(match, "smoke", flags)


def test_out_of_range_in_a_preset_is_a_usage_error(tmp_path):
    _config_error("face.size must be an even number", _preset(tmp_path, "[face]\nsize = 63\n"))


@pytest.mark.parametrize("flags", [
    {"face.size": 64}, {"face.size": 2048}, {"motion.head_motion": 0}, {"motion.head_motion": 2.0},
    {"render.device": "cpu"}, {"render.device": "cuda"}, {"audio.fps": "30000/1001"}, {"mux.crf": 0},
])
def test_boundary_values_are_accepted(flags):
    s = load_settings("smoke", flags)
    (key, value), = flags.items()
    section, attr = key.split(".")
    assert getattr(getattr(s, section), attr) == value


def test_load_preset_returns_sections_without_description():
    data = load_preset("smoke")
    assert "description" not in data
    assert data["face"] == {"size": 256}


@pytest.mark.parametrize("value,expected", [(25, "25"), (29.97, "29.97"), ("30000/1001", "30000/1001")])
def test_fps_may_be_a_number_in_a_preset(tmp_path, value, expected):
    text = f"[audio]\nfps = {value!r}\n".replace("'", '"')
    s = load_settings(_preset(tmp_path, text))
    assert s.audio.fps == expected
    assert s.sources["audio.fps"].startswith("preset ")


@pytest.mark.parametrize("key", ["video.size", "size"])
def test_flag_with_an_unknown_section_is_a_usage_error(key):
    _config_error("unknown setting", "smoke", {key: 320})


def test_job_file_layers_between_preset_and_flags(tmp_path):
    job = tmp_path / "job.toml"
    job.write_text("[mux]\ncrf = 24\n[face]\nsize = 320\n")
    s = load_settings("smoke", {"face.size": 384}, job_file=job)
    assert (s.mux.crf, s.sources["mux.crf"]) == (24, "job file job.toml")
    assert (s.face.size, s.sources["face.size"]) == (384, "flag")
    assert (s.mux.x264_preset, s.sources["mux.x264_preset"]) == ("ultrafast", "preset smoke")


def test_job_file_with_unknown_key_is_an_error(tmp_path):
    job = tmp_path / "job.toml"
    job.write_text("[mux]\ncfr = 24\n")
    _config_error("unknown setting mux.cfr", "smoke", None, job_file=job)


def test_set_assignments_parse_toml_values():
    from talkcli.config.settings import parse_assignment

    assert parse_assignment("mux.crf=23") == ("mux.crf", 23)
    assert parse_assignment("render.crop_only=true") == ("render.crop_only", True)
    assert parse_assignment("audio.fps=30000/1001") == ("audio.fps", "30000/1001")
    with pytest.raises(ConfigError, match="--set expects"):
        parse_assignment("crf")


@pytest.mark.parametrize("value,ok", [("", True), ("mbtree=1:rc-lookahead=10", True), ("subme=1", True),
                                      ("mbtree", False), ("a=1;rm -rf", False), ("x=1::y=2", False)])
def test_x264_params_are_key_value_pairs(value, ok):
    if ok:
        assert load_settings(None, {"mux.x264_params": value}).mux.x264_params == value
    else:
        with pytest.raises(ConfigError, match="x264_params"):
            load_settings(None, {"mux.x264_params": value})
