"""The agent's TOML config (courtbox.config) and ``courtbox config check``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from courtbox import config as config_module
from courtbox.config import ROLE_NAMES, Config, load_config, seats_from_spec
from courtbox.errors import ConfigError
from tests.conftest import run_courtbox

FULL_TOML = """
[court]
court = "北京互联网法院"
room = "第三科技法庭"

[storage]
data_dir = "/srv/courtbox"

[audio]
device = "USB Audio"
sample_rate = 48000

[[seats]]
channel = 0
id = "presiding_judge"
role = "presiding_judge"
name = "审判长"

[[seats]]
channel = 2
id = "witness"
role = "witness"

[model]
path = "/opt/models/whisper-small"
device = "cuda"
compute_type = "float16"
language = "auto"
beam_size = 3
hotwords = ["质证", "管辖权异议"]

[api]
host = "0.0.0.0"
port = 9000
"""

TWO_SEATS = """
[[seats]]
channel = 0
id = "clerk"
role = "clerk"
"""


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither the caller's $COURTBOX_CONFIG nor a real /etc/courtbox/agent.toml leaks in."""
    monkeypatch.delenv(config_module.CONFIG_ENV, raising=False)
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG_PATH", tmp_path / "etc" / "agent.toml")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path / "agent.toml", text))
    return info.value.problems


def assert_defaults(config: Config) -> None:
    assert len(config.seats) == 4
    assert [s.id for s in config.seats] == ["presiding_judge", "clerk", "plaintiff", "defendant"]
    assert config.api.port == 8750
    assert config.model.language == "zh"
    assert config.audio.sample_rate == 16000
    assert config.model.path is None
    assert config.channels == 4


# -- loading ---------------------------------------------------------------------------

def test_no_file_gives_the_documented_defaults() -> None:
    """Without --config, $COURTBOX_CONFIG or /etc/courtbox/agent.toml the defaults apply."""
    assert_defaults(load_config())


def test_empty_file_gives_the_documented_defaults(tmp_path: Path) -> None:
    """An empty TOML file is a valid config with every default filled in."""
    assert_defaults(load_config(write(tmp_path / "agent.toml", "")))


def test_full_file_loads_every_value(tmp_path: Path) -> None:
    """Every documented section and key is read into the typed config."""
    config = load_config(write(tmp_path / "agent.toml", FULL_TOML))
    assert (config.court.court, config.court.room) == ("北京互联网法院", "第三科技法庭")
    assert config.storage.data_dir == Path("/srv/courtbox")
    assert (config.audio.device, config.audio.sample_rate) == ("USB Audio", 48000)
    assert [(s.channel, s.id, s.role, s.name) for s in config.seats] == [
        (0, "presiding_judge", "presiding_judge", "审判长"),
        (2, "witness", "witness", ROLE_NAMES["witness"]),
    ]
    assert config.channels == 3
    m = config.model
    assert m.path == Path("/opt/models/whisper-small")
    assert (m.device, m.compute_type, m.language, m.beam_size) == ("cuda", "float16", "auto", 3)
    assert m.hotwords == ["质证", "管辖权异议"]
    assert (config.api.host, config.api.port) == ("0.0.0.0", 9000)


def test_integer_audio_device_is_kept_as_an_index(tmp_path: Path) -> None:
    """``audio.device = 2`` selects device index 2, not the name "2"."""
    config = load_config(write(tmp_path / "agent.toml", "[audio]\ndevice = 2\n"))
    assert config.audio.device == 2


@pytest.mark.parametrize(("text", "key"), [
    ('[court]\nromo = "x"\n', "court.romo: unknown key"),
    ('[courtroom]\nroom = "x"\n', "courtroom: unknown key"),
    ("[audio]\nsample_rate = 22050\n", "audio.sample_rate: "),
    (TWO_SEATS + '[[seats]]\nchannel = 1\nid = "judge"\nrole = "judgee"\n', "seats[1].role: "),
    ("[model]\nbeam_size = 0\n", "model.beam_size: "),
    ("[audio]\ndevice = 1.5\n", "audio.device: "),
    ("[audio]\ndevice = [1]\n", "audio.device: "),
    ('[api]\nport = "http"\n', "api.port: "),
    ('[api]\ntls_cert = "/etc/court.crt"\n', "api: tls_cert and tls_key go together"),
])
def test_each_mistake_gives_one_line_naming_the_key(tmp_path: Path, text: str, key: str
                                                    ) -> None:
    """A single mistake yields exactly one problem line, starting with its dotted key."""
    lines = problems(tmp_path, text)
    assert len(lines) == 1, lines
    assert lines[0].startswith(key), lines


def test_boolean_audio_device_is_rejected(tmp_path: Path) -> None:
    """``audio.device = true`` is a type error, not silently device index 1."""
    lines = problems(tmp_path, "[audio]\ndevice = true\n")
    assert len(lines) == 1 and lines[0].startswith("audio.device: "), lines


@pytest.mark.parametrize("attr", ["channel", "id"])
def test_duplicate_seat_gives_one_line_naming_seats(tmp_path: Path, attr: str) -> None:
    """Two seats on one channel (or with one id) give one line keyed by ``seats``."""
    second = {"channel": '[[seats]]\nchannel = 0\nid = "judge"\nrole = "judge"\n',
              "id": '[[seats]]\nchannel = 1\nid = "clerk"\nrole = "judge"\n'}[attr]
    lines = problems(tmp_path, TWO_SEATS + second)
    assert len(lines) == 1, lines
    assert attr in lines[0] and "more than one seat" in lines[0]
    assert lines[0].startswith("seats"), lines


def test_several_mistakes_give_one_line_each(tmp_path: Path) -> None:
    """Problems are all reported at once, not only the first."""
    lines = problems(tmp_path, '[court]\nromo = "x"\n[model]\nbeam_size = 0\n')
    assert sorted(line.split(":")[0] for line in lines) == ["court.romo", "model.beam_size"]


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    """A TOML syntax error is one line naming the file."""
    path = tmp_path / "agent.toml"
    lines = problems(tmp_path, "[court\nroom = 1\n")
    assert len(lines) == 1 and lines[0].startswith(f"{path}: not valid TOML"), lines


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    """A configured file that does not exist is an error naming it, not the defaults."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}: no such config file"]


def test_env_var_is_honoured_and_config_argument_beats_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$COURTBOX_CONFIG is read when no path is given; an explicit path wins over it."""
    env_file = write(tmp_path / "env.toml", "[api]\nport = 9001\n")
    arg_file = write(tmp_path / "arg.toml", "[api]\nport = 9002\n")
    monkeypatch.setenv(config_module.CONFIG_ENV, str(env_file))
    assert load_config().api.port == 9001
    assert load_config(arg_file).api.port == 9002


def test_data_dir_overrides_storage_data_dir(tmp_path: Path) -> None:
    """``data_dir=`` (the --data-dir option) replaces storage.data_dir from the file."""
    path = write(tmp_path / "agent.toml", '[storage]\ndata_dir = "/srv/courtbox"\n')
    assert load_config(path).storage.data_dir == Path("/srv/courtbox")
    assert load_config(path, data_dir=tmp_path / "d").storage.data_dir == tmp_path / "d"


# -- seats_from_spec -------------------------------------------------------------------

def test_seats_from_spec_numbers_repeated_roles_and_names_by_role() -> None:
    """Channels follow the order; ids repeat as role_2; names default from ROLE_NAMES."""
    seats = seats_from_spec("presiding_judge:审判长,clerk,plaintiff,plaintiff")
    assert [(s.channel, s.id, s.role, s.name) for s in seats] == [
        (0, "presiding_judge", "presiding_judge", "审判长"),
        (1, "clerk", "clerk", ROLE_NAMES["clerk"]),
        (2, "plaintiff", "plaintiff", ROLE_NAMES["plaintiff"]),
        (3, "plaintiff_2", "plaintiff", ROLE_NAMES["plaintiff"]),
    ]


def test_seats_from_spec_rejects_a_bad_role_naming_the_item() -> None:
    """An unknown role is a ConfigError naming the item's position and text."""
    with pytest.raises(ConfigError) as info:
        seats_from_spec("clerk,judgee")
    assert len(info.value.problems) == 1
    line = info.value.problems[0]
    assert line.startswith("--seats item 2 ('judgee'): role: "), line


# -- courtbox config check -------------------------------------------------------------

def test_cli_check_bad_file_exits_2_with_one_error_line_per_problem(tmp_path: Path) -> None:
    """Errors go to stderr as ``courtbox: error: <key>: ...`` lines; stdout stays empty."""
    path = write(tmp_path / "bad.toml", '[court]\nromo = "x"\n[model]\nbeam_size = 0\n')
    result = run_courtbox("config", "check", "--config", str(path), check=False)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert sorted(lines) == ["courtbox: error: court.romo: unknown key",
                             "courtbox: error: model.beam_size: Input should be greater than "
                             "or equal to 1"]


def test_cli_check_reads_the_configured_tls_certificate(tmp_path: Path) -> None:
    """A court certificate that is not one, or whose key is another's: one line naming
    ``api.tls_cert``; a good pair passes."""
    from courtbox.sync.tls import box_certificate

    good, other = box_certificate(tmp_path / "a", "a"), box_certificate(tmp_path / "b", "b")
    (tmp_path / "bad.crt").write_text("not a certificate")
    for cert, key, said in ((tmp_path / "bad.crt", good.key_path, "cannot read the TLS "
                             "certificate"),
                            (good.cert_path, other.key_path, "is not the key of")):
        path = write(tmp_path / "tls.toml", f'[api]\ntls_cert = "{cert}"\n'
                     f'tls_key = "{key}"\n')
        result = run_courtbox("config", "check", "--config", str(path), check=False)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith("courtbox: error: api.tls_cert: ") and said in line, line
    path = write(tmp_path / "tls.toml", f'[api]\ntls_cert = "{good.cert_path}"\n'
                 f'tls_key = "{good.key_path}"\n')
    run_courtbox("config", "check", "--config", str(path))


def test_cli_check_missing_file_exits_2(tmp_path: Path) -> None:
    """A --config that does not exist is a config error naming the file."""
    path = tmp_path / "nope.toml"
    result = run_courtbox("config", "check", "--config", str(path), check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"courtbox: error: {path}: no such config file"]


def test_cli_check_json_round_trips_the_values(tmp_path: Path) -> None:
    """A good file exits 0 and --json prints the resolved config, equal to load_config's."""
    path = write(tmp_path / "agent.toml", FULL_TOML)
    result = run_courtbox("config", "check", "--config", str(path), "--json")
    printed = json.loads(result.stdout)
    assert printed == load_config(path).model_dump(mode="json")
    assert Config.model_validate(printed).model_dump() == load_config(path).model_dump()
    assert printed["court"]["room"] == "第三科技法庭"
    assert printed["seats"][1] == {"channel": 2, "id": "witness", "role": "witness",
                                   "name": "证人", "array": None, "azimuth_deg": None,
                                   "elevation_deg": 0.0, "sector_deg": 40.0}
    assert printed["api"]["port"] == 9000


def test_cli_check_honours_env_and_config_option_beats_it(tmp_path: Path) -> None:
    """The CLI reads $COURTBOX_CONFIG, and --config overrides it."""
    env_file = write(tmp_path / "env.toml", "[api]\nport = 9001\n")
    arg_file = write(tmp_path / "arg.toml", "[api]\nport = 9002\n")
    env = {config_module.CONFIG_ENV: str(env_file)}
    from_env = run_courtbox("config", "check", "--json", env=env)
    from_arg = run_courtbox("config", "check", "--json", "--config", str(arg_file), env=env)
    assert json.loads(from_env.stdout)["api"]["port"] == 9001
    assert json.loads(from_arg.stdout)["api"]["port"] == 9002


def test_cli_check_data_dir_overrides_the_file(tmp_path: Path) -> None:
    """--data-dir replaces storage.data_dir in the resolved config."""
    path = write(tmp_path / "agent.toml", '[storage]\ndata_dir = "/srv/courtbox"\n')
    result = run_courtbox("config", "check", "--json", "--config", str(path),
                          "--data-dir", str(tmp_path / "d"))
    assert json.loads(result.stdout)["storage"]["data_dir"] == str(tmp_path / "d")


def test_cli_check_text_output_names_the_file_it_read(tmp_path: Path) -> None:
    """The ``# config OK (...)`` header names the --config file, not 'defaults only'."""
    path = write(tmp_path / "agent.toml", "[api]\nport = 9003\n")
    result = run_courtbox("config", "check", "--config", str(path))
    lines = result.stdout.splitlines()
    assert lines[0] == f"# config OK ({path})", lines[0]
    assert "port = 9003" in lines
