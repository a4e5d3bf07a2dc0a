"""Typed, frozen configuration loaded from TOML, with errors that name the offending key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from broadcaster.core import opus
from broadcaster.core.activity import ActivityPolicy
from broadcaster.core.engine import EngineAddress, EngineError
from broadcaster.core.source_spec import SourceSpec, SourceSpecError

LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A config file, key or value that cannot be used; the message names the key."""


def _is_host(text: str) -> bool:
    """A DNS name or an IP address (no scheme, port or path)."""
    return re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?", text) is not None


def _check(ok: bool, key: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r} is invalid: expected {expected}")


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """Where the PCM comes from."""

    spec: str = "auto"
    tone_level_dbfs: float = -12.0
    max_backlog_ms: float = 100.0

    def __post_init__(self) -> None:
        try:
            SourceSpec.parse(self.spec)
        except SourceSpecError as exc:
            raise ConfigError(f"source.spec = {self.spec!r} is invalid: {exc}") from exc
        _check(-60.0 <= self.tone_level_dbfs <= 0.0, "source.tone_level_dbfs",
               self.tone_level_dbfs, "a level from -60 to 0 dBFS")
        _check(10.0 <= self.max_backlog_ms <= 2000.0, "source.max_backlog_ms",
               self.max_backlog_ms, "10 to 2000 ms")

    @property
    def source(self) -> SourceSpec:
        """The parsed source spec."""
        return SourceSpec.parse(self.spec)


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """How the audio is encoded."""

    channels: int = 1
    frame_ms: float = 20.0
    bitrate_bps: int = 64000
    application: str = "restricted_lowdelay"
    complexity: int = 5

    def __post_init__(self) -> None:
        _check(self.channels in (1, 2), "audio.channels", self.channels, "1 or 2")
        _check(self.frame_ms in opus.FRAME_MS, "audio.frame_ms", self.frame_ms,
               "one of " + ", ".join(f"{ms:g}" for ms in opus.FRAME_MS))
        _check(6000 <= self.bitrate_bps <= 510000, "audio.bitrate_bps", self.bitrate_bps,
               "6000 to 510000")
        _check(self.application in opus.APPLICATIONS, "audio.application", self.application,
               "one of " + ", ".join(opus.APPLICATIONS))
        _check(0 <= self.complexity <= 10, "audio.complexity", self.complexity, "0 to 10")


@dataclass(frozen=True, slots=True)
class RingConfig:
    """How much encoded audio the server keeps for resuming listeners."""

    capacity_s: float = 5.0

    def __post_init__(self) -> None:
        _check(0.5 <= self.capacity_s <= 600.0, "ring.capacity_s", self.capacity_s,
               "0.5 to 600 seconds")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The HTTP server."""

    host: str = "0.0.0.0"
    port: int = 8000
    autostart: bool = True
    heartbeat_s: float = 15.0
    retry_ms: int = 1000
    max_listeners: int = 500
    max_listeners_per_ip: int = 20
    stalled_listener_timeout_s: float = 30.0
    workers: int = 0
    max_bundle_ms: float = 40.0

    def __post_init__(self) -> None:
        _check(bool(self.host) and not any(c.isspace() for c in self.host), "server.host",
               self.host, "a host name or IP address")
        _check(1 <= self.port <= 65535, "server.port", self.port, "a port from 1 to 65535")
        _check(1.0 <= self.heartbeat_s <= 300.0, "server.heartbeat_s", self.heartbeat_s,
               "1 to 300 seconds")
        _check(100 <= self.retry_ms <= 60000, "server.retry_ms", self.retry_ms,
               "100 to 60000 ms")
        _check(1 <= self.max_listeners <= 100000, "server.max_listeners", self.max_listeners,
               "1 to 100000")
        _check(1 <= self.max_listeners_per_ip <= 100000, "server.max_listeners_per_ip",
               self.max_listeners_per_ip, "1 to 100000")
        _check(1.0 <= self.stalled_listener_timeout_s <= 3600.0,
               "server.stalled_listener_timeout_s", self.stalled_listener_timeout_s,
               "1 to 3600 seconds")
        _check(0 <= self.workers <= 64, "server.workers", self.workers, "0 to 64 processes")
        _check(0.0 <= self.max_bundle_ms <= 200.0, "server.max_bundle_ms", self.max_bundle_ms,
               "0 to 200 ms")


@dataclass(frozen=True, slots=True)
class AccessConfig:
    """Who may listen and who may control capture."""

    control_token: str = ""
    listen_key: str = ""
    cors_origin: str = ""

    def __post_init__(self) -> None:
        for key in ("control_token", "listen_key"):
            value = getattr(self, key)
            _check(value == "" or (len(value) >= 8 and value.isprintable()
                                   and not any(c.isspace() for c in value)),
                   f"access.{key}", "(hidden)", "empty, or 8 or more printable characters "
                   "without spaces")
        _check(self.cors_origin in ("", "*") or self.cors_origin.startswith(
            ("http://", "https://")), "access.cors_origin", self.cors_origin,
            'empty, "*" or an origin such as "https://example.org"')


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """HTTPS (with HTTP/2) on a second port, beside plain http."""

    port: int = 0
    cert_file: str = ""
    key_file: str = ""
    state_dir: str = ""

    def __post_init__(self) -> None:
        _check(0 <= self.port <= 65535, "tls.port", self.port,
               "0 (no https) or a port from 1 to 65535")
        for key in ("cert_file", "key_file", "state_dir"):
            value = getattr(self, key)
            _check(value == value.strip() and value.isprintable(), f"tls.{key}", value,
                   "a path without leading or trailing spaces, or empty")
        if bool(self.cert_file) != bool(self.key_file):
            given, missing = (("cert_file", "key_file") if self.cert_file
                              else ("key_file", "cert_file"))
            raise ConfigError(f"tls.{missing} is missing: tls.{given} is set, and a "
                              "certificate needs both (or neither: a self-signed pair is "
                              "then made)")

    @property
    def enabled(self) -> bool:
        """Whether https is served."""
        return self.port != 0


_POLICY = ActivityPolicy()


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """Sound activity: when a sound stands out enough to make an episode (and an alert)."""

    enabled: bool = True
    # The detector's own defaults (core/activity.py), not written twice.
    above_floor_db: float = _POLICY.above_floor_db
    min_level_dbfs: float = _POLICY.min_level_dbfs
    attack_ms: float = _POLICY.attack_ms
    hold_ms: float = _POLICY.hold_ms
    release_ms: float = _POLICY.release_ms
    cooldown_s: float = _POLICY.cooldown_s
    webhook_url: str = ""
    webhook_timeout_s: float = 5.0
    mqtt_host: str = ""
    mqtt_port: int = 1883
    mqtt_username: str = ""
    mqtt_password_file: str = ""
    mqtt_topic: str = "broadcaster"
    mqtt_discovery_prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        try:
            self.policy()
        except ValueError as exc:
            raise ConfigError(f"alerts.{exc}") from exc
        if self.webhook_url:
            url = urlsplit(self.webhook_url)
            _check(url.scheme in ("http", "https") and bool(url.hostname)
                   and self.webhook_url.isprintable() and " " not in self.webhook_url,
                   "alerts.webhook_url", self.webhook_url,
                   "empty, or an http:// or https:// URL with a host")
        _check(0.5 <= self.webhook_timeout_s <= 60.0, "alerts.webhook_timeout_s",
               self.webhook_timeout_s, "0.5 to 60 s")
        _check(self.mqtt_host == "" or _is_host(self.mqtt_host), "alerts.mqtt_host",
               self.mqtt_host, "empty, or a host name or address")
        _check(1 <= self.mqtt_port <= 65535, "alerts.mqtt_port", self.mqtt_port,
               "a port from 1 to 65535")
        for key in ("mqtt_username", "mqtt_password_file"):
            value = getattr(self, key)
            _check(value.isprintable() and value == value.strip(), f"alerts.{key}", value,
                   "printable text without surrounding spaces")
        for key in ("mqtt_topic", "mqtt_discovery_prefix"):
            value = getattr(self, key)
            _check(re.fullmatch(r"([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*)?", value) is not None
                   and (value != "" or key == "mqtt_discovery_prefix"), f"alerts.{key}",
                   value, "MQTT topic levels of letters, digits, '_', '.', '-', split by '/'")

    def policy(self) -> ActivityPolicy:
        """The detector's policy (core/activity.py)."""
        return ActivityPolicy(self.above_floor_db, self.min_level_dbfs, self.attack_ms,
                              self.hold_ms, self.release_ms, self.cooldown_s)


@dataclass(frozen=True, slots=True)
class ArchiveConfig:
    """The broadcast kept on disk: what listeners may rewind to and download."""

    enabled: bool = True
    dir: str = ""
    keep_hours: float = 24.0
    max_mb: int = 1024
    min_free_mb: int = 512
    file_minutes: float = 60.0

    def __post_init__(self) -> None:
        _check(self.dir == self.dir.strip() and self.dir.isprintable(), "archive.dir",
               self.dir, "a folder's path without surrounding spaces, or empty")
        _check(0.01 <= self.keep_hours <= 24 * 366, "archive.keep_hours", self.keep_hours,
               "0.01 to 8784 hours")
        _check(16 <= self.max_mb <= 16 * 1024 * 1024, "archive.max_mb", self.max_mb,
               "16 to 16777216 MB")
        _check(0 <= self.min_free_mb <= 1024 * 1024, "archive.min_free_mb", self.min_free_mb,
               "0 to 1048576 MB")
        _check(1.0 <= self.file_minutes <= 24 * 60 and (24 * 60) % self.file_minutes == 0,
               "archive.file_minutes", self.file_minutes,
               "1 to 1440 minutes, dividing a day (60: a file an hour)")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The engine between machines (NATS): where the capture node publishes, how nodes
    prove who they are, and how much the engine keeps for edges to backfill."""

    publish: str = ""  # nats://HOST:PORT/STATION: this capture node feeds edges through it
    creds_file: str = ""  # a NATS credentials file (JWT and seed)
    user: str = ""
    password_file: str = ""  # the user's password, alone in a file
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    stream_storage: str = "memory"
    stream_max_age_s: float = 30.0
    stream_max_msgs: int = 10000
    stream_replicas: int = 1
    buffer_frames: int = 250
    heartbeat_s: float = 1.0
    offline_after_s: float = 3.0

    def __post_init__(self) -> None:
        if self.publish:
            try:
                EngineAddress.parse(self.publish)
            except EngineError as exc:
                raise ConfigError(f"engine.publish is invalid: {exc}") from None
        for key in ("creds_file", "user", "password_file", "tls_ca_file", "tls_cert_file",
                    "tls_key_file"):
            value = getattr(self, key)
            _check(value == value.strip() and value.isprintable(), f"engine.{key}",
                   "(hidden)" if key == "user" else value,
                   "printable text without surrounding spaces, or empty")
        if bool(self.user) != bool(self.password_file):
            raise ConfigError("engine.user and engine.password_file go together")
        if self.creds_file and self.user:
            raise ConfigError("engine.creds_file and engine.user are two ways to log in: "
                              "use one")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("engine.tls_cert_file and engine.tls_key_file go together")
        _check(self.stream_storage in ("memory", "file"), "engine.stream_storage",
               self.stream_storage, '"memory" or "file"')
        _check(1.0 <= self.stream_max_age_s <= 3600.0, "engine.stream_max_age_s",
               self.stream_max_age_s, "1 to 3600 s")
        _check(100 <= self.stream_max_msgs <= 10_000_000, "engine.stream_max_msgs",
               self.stream_max_msgs, "100 to 10000000")
        _check(self.stream_replicas in (1, 3, 5), "engine.stream_replicas",
               self.stream_replicas, "1, 3 or 5")
        _check(10 <= self.buffer_frames <= 100_000, "engine.buffer_frames",
               self.buffer_frames, "10 to 100000")
        _check(0.1 <= self.heartbeat_s <= 30.0, "engine.heartbeat_s", self.heartbeat_s,
               "0.1 to 30 s")
        _check(2 * self.heartbeat_s <= self.offline_after_s <= 300.0,
               "engine.offline_after_s", self.offline_after_s,
               f"at least twice engine.heartbeat_s ({self.heartbeat_s:g}) and at most 300 s")


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """What the service logs."""

    level: str = "info"

    def __post_init__(self) -> None:
        _check(self.level in LOG_LEVELS, "logging.level", self.level,
               "one of " + ", ".join(LOG_LEVELS))


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    source: SourceConfig = field(default_factory=SourceConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    ring: RingConfig = field(default_factory=RingConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def __post_init__(self) -> None:
        _check(self.tls.port != self.server.port, "tls.port", self.tls.port,
               f"a port other than server.port ({self.server.port})")
        if self.engine.publish and self.source.source.kind == "engine":
            raise ConfigError("engine.publish is set, but source.spec is the engine: an "
                              "edge relays the engine, it does not publish to it")
        if self.source.source.kind == "engine" and self.server.workers:
            raise ConfigError("server.workers must be 0 on an edge (source.spec is the "
                              "engine): run more edges instead")
