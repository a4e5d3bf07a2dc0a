from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from broadcaster.config import Config, ConfigError
from broadcaster.config_file import config_from_dict, load_config, with_overrides

CONFIG_FILE = Path(__file__).resolve().parent.parent / "configs" / "broadcaster.toml"


def test_shipped_config_lists_every_key_with_its_default() -> None:
    assert load_config(CONFIG_FILE) == Config()
    text = CONFIG_FILE.read_text()
    for section in fields(Config()):
        table = text.split(f"[{section.name}]\n")[1].split("\n[")[0]
        for key in fields(getattr(Config(), section.name)):
            assert f"\n{key.name} = " in table, f"{section.name}.{key.name} is not listed"


def test_no_file_means_defaults() -> None:
    assert load_config(None) == Config()


def test_values_are_read() -> None:
    config = config_from_dict({"audio": {"frame_ms": 10, "channels": 2},
                               "server": {"port": 9000}, "source": {"spec": "tone:1000"}})
    assert config.audio.frame_ms == 10.0
    assert isinstance(config.audio.frame_ms, float)
    assert (config.audio.channels, config.server.port) == (2, 9000)
    assert config.source.source.tone_hz == 1000.0


@pytest.mark.parametrize(("data", "message"), [
    ({"audio": {"frame_size": 20}}, "unknown key audio.frame_size (did you mean 'frame_ms'?)"),
    ({"sever": {"port": 1}}, "unknown section [sever] (did you mean 'server'?)"),
    ({"audio": {"frame_ms": 15}}, "audio.frame_ms = 15.0 is invalid"),
    ({"audio": {"channels": 3}}, "audio.channels = 3 is invalid"),
    ({"audio": {"channels": "1"}}, "audio.channels = '1' is invalid: expected a int"),
    ({"audio": {"channels": True}}, "audio.channels = True is invalid"),
    ({"audio": {"application": "music"}}, "audio.application = 'music' is invalid"),
    ({"audio": {"bitrate_bps": 1000}}, "audio.bitrate_bps = 1000 is invalid"),
    ({"audio": {"complexity": 11}}, "audio.complexity = 11 is invalid"),
    ({"server": {"port": 70000}}, "server.port = 70000 is invalid"),
    ({"server": {"host": ""}}, "server.host = '' is invalid"),
    ({"server": {"autostart": "yes"}}, "server.autostart = 'yes' is invalid: expected a bool"),
    ({"source": {"spec": "radio"}}, "source.spec = 'radio' is invalid: unknown source"),
    ({"source": {"spec": "tone:5"}}, "source.spec = 'tone:5' is invalid"),
    ({"ring": {"capacity_s": 0}}, "ring.capacity_s = 0.0 is invalid"),
    ({"logging": {"level": "loud"}}, "logging.level = 'loud' is invalid"),
    ({"alerts": {"attack_ms": -5}}, "alerts.attack_ms = -5.0 is invalid"),
    ({"alerts": {"above_floor_db": 90}}, "alerts.above_floor_db = 90.0 is invalid"),
    ({"alerts": {"webhook_url": "ftp://x/"}}, "alerts.webhook_url = 'ftp://x/' is invalid"),
    ({"alerts": {"webhook_url": "http:///nohost"}}, "alerts.webhook_url"),
    ({"alerts": {"webhook_timeout_s": 0}}, "alerts.webhook_timeout_s = 0.0 is invalid"),
    ({"alerts": {"mqtt_host": "mqtt://broker"}}, "alerts.mqtt_host = 'mqtt://broker'"),
    ({"alerts": {"mqtt_port": 0}}, "alerts.mqtt_port = 0 is invalid"),
    ({"alerts": {"mqtt_topic": "a/+/b"}}, "alerts.mqtt_topic = 'a/+/b' is invalid"),
    ({"alerts": {"mqtt_topic": ""}}, "alerts.mqtt_topic = '' is invalid"),
    ({"alerts": {"mqtt_password_file": " /x"}}, "alerts.mqtt_password_file"),
    ({"audio": 5}, "[audio] must be a table"),
    ({"tls": {"port": 70000}}, "tls.port = 70000 is invalid"),
    ({"tls": {"port": "8443"}}, "tls.port = '8443' is invalid: expected a int"),
    ({"tls": {"port": 8000}}, "tls.port = 8000 is invalid: expected a port other than "
                              "server.port (8000)"),
    ({"tls": {"cert_file": "cert.pem"}}, "tls.key_file is missing: tls.cert_file is set"),
    ({"tls": {"key_file": "key.pem"}}, "tls.cert_file is missing: tls.key_file is set"),
    ({"tls": {"state_dir": " /srv"}}, "tls.state_dir = ' /srv' is invalid"),
    ({"tls": {"certfile": "a"}}, "unknown key tls.certfile (did you mean 'cert_file'?)"),
])
def test_bad_values_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[audio\nframe_ms = 20")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(binary)


def test_overrides_are_validated_like_the_file() -> None:
    config = with_overrides(Config(), {"server.port": 9000, "source.spec": "tone:300"})
    assert (config.server.port, config.source.spec) == (9000, "tone:300")
    with pytest.raises(ConfigError, match=r"server\.port = -1"):
        with_overrides(Config(), {"server.port": -1})
    with_https = config_from_dict({"tls": {"port": 8443}})
    with pytest.raises(ConfigError, match=r"tls\.port = 8443 is invalid: expected a port "
                                          r"other than server\.port \(8443\)"):
        with_overrides(with_https, {"server.port": 8443})  # --port clashing with the file


def test_https_is_off_unless_a_port_is_set() -> None:
    assert Config().tls.enabled is False
    config = config_from_dict({"tls": {"port": 8443, "cert_file": "/c.pem",
                                       "key_file": "/k.pem", "state_dir": "~/tls"}})
    assert config.tls.enabled is True
    assert (config.tls.cert_file, config.tls.key_file) == ("/c.pem", "/k.pem")


@pytest.mark.parametrize(("table", "key"), [
    ({"engine": {"publish": "nats://host:4222"}}, "engine.publish"),
    ({"engine": {"user": "edge"}}, "engine.password_file"),
    ({"engine": {"stream_storage": "disk"}}, "engine.stream_storage"),
    ({"engine": {"heartbeat_s": 2.0, "offline_after_s": 3.0}}, "engine.offline_after_s"),
    ({"source": {"spec": "nats://host/bad.name"}}, "source.spec"),
    ({"source": {"spec": "nats://h/S"}, "engine": {"publish": "nats://h/S"}}, "engine.publish"),
])
def test_engine_settings_are_checked_naming_the_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        config_from_dict(table)


def test_an_edge_is_configured_by_its_source() -> None:
    config = config_from_dict({"source": {"spec": "nats://a:4222,b:4222/ward"}})
    assert config.source.source.kind == "engine"
