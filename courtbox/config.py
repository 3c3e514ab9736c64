"""The agent's configuration: a TOML file validated into typed, documented settings.

Where the file comes from, first match wins: ``--config PATH``, ``$COURTBOX_CONFIG``,
``/etc/courtbox/agent.toml`` if it exists, else no file at all (the defaults form a valid
config). Unknown keys are errors, so a typo never silently falls back to a default.
Every field carries a description and bounds; ``courtbox config check`` prints them
resolved, or one line per problem naming the key (``seats[1].role: ...``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from courtbox.config_arrays import ArrayConfig, check_arrays
from courtbox.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/courtbox/agent.toml")
CONFIG_ENV = "COURTBOX_CONFIG"

Role = Literal[
    "presiding_judge",
    "judge",
    "clerk",
    "plaintiff",
    "defendant",
    "prosecutor",
    "defense",
    "witness",
    "other",
]

ROLE_NAMES: dict[str, str] = {
    "presiding_judge": "审判长",
    "judge": "审判员",
    "clerk": "书记员",
    "plaintiff": "原告",
    "defendant": "被告",
    "prosecutor": "公诉人",
    "defense": "辩护人",
    "witness": "证人",
    "other": "其他",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class CourtSection(_Section):
    court: str = Field("示例人民法院", min_length=1, max_length=100,
                       description="Name of the court this box belongs to.")
    room: str = Field("第一科技法庭", min_length=1, max_length=100,
                      description="Name of the courtroom the box records.")
    timezone: str = Field("Asia/Shanghai", min_length=1, max_length=64,
                          description="The court's time zone (IANA name): the local time "
                          "of the pages and the exports.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Asia/Shanghai)") from None
        return value


class StorageSection(_Section):
    data_dir: Path = Field(Path("/var/lib/courtbox"),
                           description="Where the database and the audio archive live.")
    reserve_mb: int = Field(
        256, ge=1, le=1_000_000, description="Free space (MB) the archive never writes into; "
        "below it recording is held in memory until space returns.")
    warn_hours: float = Field(8.0, ge=0, le=10_000, description="Warn when fewer hours of "
                              "recording fit on the disk.")
    cache_dir: Path | None = Field(
        None,
        description="Where the assembled speech model is kept; default "
        "$XDG_CACHE_HOME/courtbox (~/.cache/courtbox).",
    )


class AudioSection(_Section):
    backend: Literal["sounddevice", "pyaudio"] = Field(
        "sounddevice", description="PortAudio binding used for capture.")
    device: str | int | None = Field(
        None, description="Input device: index, or a substring of its name; default device "
        "if unset.")
    @field_validator("device", mode="before")
    @classmethod
    def _device_kind(cls, value: object) -> object:
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise ValueError("must be a device index or a substring of the device name")
        return value

    sample_rate: Literal[16000, 44100, 48000] = Field(
        16000, description="Capture rate in Hz; the archive keeps it, speech is resampled "
        "to 16 kHz.")
    block_ms: int = Field(100, ge=10, le=1000,
                          description="Length of one capture block in milliseconds.")
    segment_seconds: int = Field(60, ge=5, le=3600,
                                 description="Length of one archived FLAC segment in seconds.")
    dead_mic_minutes: float = Field(
        2.0, ge=0.1, le=60, description="Alarm when a channel is flat or silent this long "
        "while others carry speech.")


class Seat(_Section):
    channel: int | None = Field(None, ge=0, le=63, description="Input channel (0-based) of "
                                "the seat's mic; at an array: its reference capsule.")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$",
                    description="Stable seat id, e.g. presiding_judge, plaintiff_2.")
    role: Role = Field(description="The seat's role in the hearing.")
    name: str = Field("", max_length=40,
                      description="Display name such as 审判长; default from the role.")
    array: str | None = Field(None, description="The [[arrays]] id that hears this seat.")
    azimuth_deg: float | None = Field(None, ge=-360, le=360, description="Direction seen "
                                      "from the array, degrees.")
    elevation_deg: float = Field(0.0, ge=-90, le=90, description="Elevation, degrees.")
    sector_deg: float = Field(40.0, ge=5, le=180, description="Sector width, degrees.")

    @model_validator(mode="after")
    def _default_name(self) -> Seat:
        if not self.name:
            self.name = ROLE_NAMES[self.role]
        return self


def default_seats() -> list[Seat]:
    return [
        Seat(channel=0, id="presiding_judge", role="presiding_judge", name="审判长"),
        Seat(channel=1, id="clerk", role="clerk", name="书记员"),
        Seat(channel=2, id="plaintiff", role="plaintiff", name="原告"),
        Seat(channel=3, id="defendant", role="defendant", name="被告"),
    ]


class ModelSection(_Section):
    path: Path | None = Field(
        None, description="A CTranslate2 Whisper model directory; default: the bundled "
        "Whisper base.")
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="Where inference runs.")
    compute_type: Literal[
        "default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16",
        "int16", "float16", "bfloat16", "float32",
    ] = Field("int8", description="CTranslate2 compute type.")
    cpu_threads: int = Field(0, ge=0, le=256,
                             description="Inference threads on the CPU; 0 means all cores.")
    language: Literal["zh", "en", "auto"] = Field(
        "zh", description="Spoken language; auto detects it per utterance.")
    beam_size: int = Field(5, ge=1, le=20, description="Beam width of the decoder.")
    hotwords: list[str] = Field(
        default_factory=lambda: ["审判长", "书记员", "原告", "被告", "诉讼请求", "举证", "质证"],
        max_length=200,
        description="Legal terms and names favoured where a line sounds like one of them.",
    )
    prompt: str = Field("以下是普通话的庭审记录。", max_length=200, description="Text that "
                        "primes the recogniser with the style of the record (empty: none).")
    window_s: int = Field(
        15, ge=4, le=30, description="Shortest encoder window of a final line in seconds (at "
        "least the utterance plus 2 s); 30 is Whisper's own window: slower.")
    partials: bool = Field(True, description="Show partial lines while a seat speaks.")
    partial_interval_s: float = Field(
        1.0, ge=0.3, le=10, description="Seconds between partial refreshes of one utterance, "
        "as the CPU allows.")


class VadSection(_Section):
    threshold: float = Field(0.5, ge=0.05, le=0.95, description="Silero VAD speech "
                             "probability at which speech starts.")
    neg_threshold: float = Field(0.35, ge=0.01, le=0.95, description="Probability below "
                                 "which speech, once started, stops.")
    hangover_ms: int = Field(500, ge=100, le=5000, description="Silence that ends an "
                             "utterance (and lets its final line be written).")
    padding_ms: int = Field(500, ge=0, le=1000, description="Audio kept before the first "
                            "and after the last speech of an utterance.")
    min_speech_ms: int = Field(150, ge=30, le=2000, description="Shorter bursts of speech "
                               "are ignored.")
    max_utterance_s: float = Field(20.0, ge=5, le=28, description="Longer speech is cut, "
                                   "at a pause where there is one.")

    @model_validator(mode="after")
    def _thresholds(self) -> VadSection:
        if self.neg_threshold > self.threshold:
            raise ValueError("neg_threshold must not exceed threshold")
        return self


class ApiSection(_Section):
    host: str = Field("127.0.0.1", min_length=1, description="Address the HTTP API binds to.")
    port: int = Field(8750, ge=0, le=65535, description="TCP port of the HTTP API (0: any).")
    tls: bool = Field(True, description="Serve HTTPS (the box's own certificate, pinned by "
                      "the collector; or tls_cert and tls_key). Off only behind a court's "
                      "own TLS proxy.")
    tls_cert: str = Field("", description="PEM certificate (chain) from the court's CA to "
                          "serve instead of the box's self-signed one; with tls_key.")
    tls_key: str = Field("", description="PEM private key of tls_cert (readable by the "
                         "courtbox user only).")
    trusted_proxies: list[IPvAnyNetwork] = Field([], max_length=32, description="The court's TLS "
                                       "proxies: only their X-Forwarded-For is believed.")
    max_connections: int = Field(1000, ge=16, le=100_000, description="Open connections "
                                 "at most (lowered to fit the process's file limit).")
    handshake_timeout_s: float = Field(10.0, ge=1, le=120, description="TLS handshake time.")
    header_timeout_s: float = Field(10.0, ge=1, le=120, description="First request time.")
    keep_alive_s: float = Field(5.0, ge=1, le=300, description="Idle time between requests.")
    login_failures_max: int = Field(5, ge=1, le=100, description="Failed logins of one "
                                    "account from one address within login_window_s.")
    login_source_failures_max: int = Field(20, ge=1, le=10_000, description="Failed "
                                           "logins from one address, any account.")
    login_window_s: float = Field(300.0, ge=10, le=86_400, description="Login limit window.")
    login_audit_per_minute: int = Field(60, ge=1, le=10_000, description="Failed logins "
                                        "audit-logged one by one per minute, box-wide.")

    @model_validator(mode="after")
    def _cert_and_key(self) -> ApiSection:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: set both or neither")
        return self


class SyncSection(_Section):
    advertise: bool = Field(True, description="Announce the box over mDNS as "
                            "_courtbox._tcp (box id, court, room, key fingerprint, URL scheme).")
    retention_days: float = Field(
        90.0, ge=0, le=36500, description="Days an audio segment stays on the box after "
        "the centre acknowledged it (never while its hearing is open; never before the "
        "acknowledgement).")


class HealthSection(_Section):
    interval_s: float = Field(30.0, ge=1, le=3600, description="Seconds between health "
                              "checks; an alarm is audit-logged when it starts and clears.")
    disk_hours_min: float = Field(8.0, ge=0, le=10_000, description="Alarm when fewer "
                                  "hours of recording fit on the data disk.")
    load_per_core_max: float = Field(2.0, gt=0, le=100, description="Alarm above this "
                                     "5-minute CPU load per core.")
    temperature_max_c: float = Field(85.0, ge=20, le=150, description="Alarm above this "
                                     "temperature of the hottest thermal zone (°C).")
    memory_available_min_pct: float = Field(10.0, ge=0, le=100, description="Alarm below "
                                            "this share of memory available (%).")
    archive_lag_max_s: float = Field(10.0, gt=0, le=3600, description="Alarm when the "
                                     "archive is this many seconds behind capture.")
    transcription_lag_max_s: float = Field(60.0, gt=0, le=86_400, description="Alarm "
                                           "when transcription is this far behind speech.")


class Config(_Section):
    court: CourtSection = Field(default_factory=CourtSection)
    storage: StorageSection = Field(default_factory=StorageSection)
    audio: AudioSection = Field(default_factory=AudioSection)
    seats: list[Seat] = Field(default_factory=default_seats, min_length=1, max_length=64)
    model: ModelSection = Field(default_factory=ModelSection)
    vad: VadSection = Field(default_factory=VadSection)
    api: ApiSection = Field(default_factory=ApiSection)
    sync: SyncSection = Field(default_factory=SyncSection)
    health: HealthSection = Field(default_factory=HealthSection)
    arrays: list[ArrayConfig] = Field([], max_length=8, description="Microphone arrays.")

    _source: str = PrivateAttr("(defaults)")

    @field_validator("seats")
    @classmethod
    def _unique_seats(cls, seats: list[Seat]) -> list[Seat]:
        for attr in ("channel", "id"):
            seen: set[object] = set()
            for seat in seats:
                value = getattr(seat, attr)
                if value in seen and value is not None:
                    raise ValueError(f"{attr} {value!r} is used by more than one seat")
                seen.add(value)
        return seats

    @model_validator(mode="after")
    def _seats_and_arrays(self) -> Config:  # one line per problem, each naming its key
        return check_arrays(self.seats, self.arrays) and self

    @property
    def source(self) -> str:
        """The file this config was read from, or ``(defaults)``."""
        return self._source

    @property
    def channels(self) -> int:
        """Channels to capture: enough to reach the highest seat or capsule channel."""
        return max([s.channel for s in self.seats] + sum((a.channels for a in self.arrays), [])) + 1

    def cache_dir(self) -> Path:
        if self.storage.cache_dir is not None:
            return self.storage.cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "courtbox"


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def format_validation_error(err: ValidationError) -> list[str]:
    """One line per problem: the dotted key, then what was wrong with it."""
    lines = []
    for e in err.errors():
        key = _key(tuple(p for p in e["loc"] if not (isinstance(p, str) and "[" in p)))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines += msg.splitlines() if key == "(top level)" else [f"{key}: {msg}"]
    return lines


def parse_config(data: dict, source: str = "") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e), source) from e


def resolve_config_path(path: Path | str | None) -> Path | None:
    """The file to read, or None when no file is configured and the default is absent."""
    if path:
        return Path(path)
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def load_config(path: Path | str | None = None, data_dir: Path | str | None = None) -> Config:
    """Read and validate the config; ``data_dir`` overrides ``storage.data_dir``."""
    file = resolve_config_path(path)
    data: dict = {}
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError([f"{file}: no such config file"], str(file)) from e
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError([f"{file}: cannot read: {e}"], str(file)) from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError([f"{file}: not valid TOML: {e}"], str(file)) from e
    config = parse_config(data, str(file or "(defaults)"))
    config._source = str(file or "(defaults)")
    if data_dir is not None:
        config.storage.data_dir = Path(data_dir)
    return config


def describe_fields(model: type[BaseModel] = Config, prefix: str = "") -> list[tuple[str, str]]:
    """(key, description) for every leaf setting, for docs and the README test."""
    rows: list[tuple[str, str]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = field.annotation
        sub = getattr(ann, "__args__", (ann,))
        nested = [a for a in sub if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested:
            rows += describe_fields(nested[0], f"{key}." if model is Config and name not in
                                    ("seats", "arrays") else f"{key}[].")
        else:
            rows.append((key, field.description or ""))
    return rows


def seats_from_spec(spec: str) -> list[Seat]:
    """Seats from ``ROLE[:NAME],...`` in channel order, e.g. ``presiding_judge:审判长,clerk``.

    The seat id is the role, numbered from the second seat of the same role on
    (``plaintiff``, ``plaintiff_2``)."""
    seats: list[Seat] = []
    counts: dict[str, int] = {}
    for channel, item in enumerate(p.strip() for p in spec.split(",")):
        role, _, name = item.partition(":")
        counts[role] = counts.get(role, 0) + 1
        seat_id = role if counts[role] == 1 else f"{role}_{counts[role]}"
        try:
            seats.append(Seat(channel=channel, id=seat_id, role=role, name=name))
        except ValidationError as e:
            problems = [f"--seats item {channel + 1} ({item!r}): {line}"
                        for line in format_validation_error(e)]
            raise ConfigError(problems, "--seats") from e
    return seats
