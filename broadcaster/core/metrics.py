"""`/metrics`: the /status counters in the Prometheus text format (pure)."""

from __future__ import annotations

from typing import Any

STATES = ("running", "stopped", "offline", "shutdown")
# (name, type, help, the /status key)
SERIES = (
    ("broadcaster_listeners", "gauge", "Connected listeners.", "listeners"),
    ("broadcaster_direct_listeners", "gauge",
     "Listeners whose stream is written straight to their connection.", "direct_listeners"),
    ("broadcaster_frames_total", "counter", "Opus frames broadcast.", "frames"),
    ("broadcaster_overflows_total", "counter", "Input overflows reported by the device.",
     "overflows"),
    ("broadcaster_dropped_frames_total", "counter",
     "Captured audio dropped to stay live (a stale backlog).", "dropped_frames"),
    ("broadcaster_skipped_frames_total", "counter",
     "Frames listeners skipped because they fell behind the ring.", "skips"),
    ("broadcaster_refused_listeners_total", "counter",
     "Listeners refused by the listener caps.", "refused_listeners"),
    ("broadcaster_wrong_keys_total", "counter",
     "Requests refused for a wrong listening key or control token.", "wrong_keys"),
    ("broadcaster_slowed_wrong_keys_total", "counter",
     "Wrong keys answered late because their address kept sending wrong ones.",
     "slowed_wrong_keys"),
    ("broadcaster_capture_restarts_total", "counter",
     "Capture threads replaced because they were stuck in the device.", "capture_restarts"),
    ("broadcaster_worker_restarts_total", "counter", "Worker processes replaced.",
     "worker_restarts"),
    ("broadcaster_engine_published_total", "counter",
     "Frames published to the engine between machines.", "engine_published"),
    ("broadcaster_engine_dropped_total", "counter",
     "Frames the engine never got: it was away and the buffer was full.", "engine_dropped"),
    ("broadcaster_engine_unstored_total", "counter",
     "Frames the engine's stream did not acknowledge (refused, or not within 5 s).",
     "engine_unstored"),
    ("broadcaster_engine_holes_total", "counter",
     "Frames an edge never got from the engine (its listeners were told: a gap).",
     "engine_holes"),
    ("broadcaster_uptime_seconds", "gauge", "Seconds since the broadcaster started.",
     "uptime_s"),
    ("broadcaster_sound_episodes_total", "counter",
     "Sounds that stood out from the room's quiet (episodes).", "episodes"),
    ("broadcaster_sound_alerts_total", "counter",
     "Episodes that alerted (the rest came within the cooldown).", "alerts"),
    ("broadcaster_sound_level_dbfs", "gauge", "The level of the latest frame, in dBFS.",
     "level_dbfs"),
    ("broadcaster_noise_floor_dbfs", "gauge", "The room's quiet as learned, in dBFS.",
     "noise_floor_dbfs"),
    ("broadcaster_webhook_sent_total", "counter", "Episode changes the webhook took.",
     "webhook_sent"),
    ("broadcaster_webhook_failures_total", "counter",
     "Webhook tries that failed (no answer in time, refused, not a 2xx).", "webhook_failures"),
    ("broadcaster_webhook_dropped_total", "counter",
     "Episode changes given up on (retries spent, or the queue was full).", "webhook_dropped"),
    ("broadcaster_mqtt_connected", "gauge", "1 while the MQTT broker is connected.",
     "mqtt_connected"),
    ("broadcaster_mqtt_published_total", "counter", "MQTT messages the broker took.",
     "mqtt_published"),
    ("broadcaster_mqtt_dropped_total", "counter",
     "MQTT messages given up on while the broker was away.", "mqtt_dropped"),
    ("broadcaster_archive_bytes", "gauge", "Bytes the archive holds on disk.", "archive_bytes"),
    ("broadcaster_archive_files", "gauge", "Ogg files the archive holds.", "archive_files"),
    ("broadcaster_archive_audio_seconds", "gauge", "Seconds of audio the archive holds.",
     "archive_audio_s"),
    ("broadcaster_archive_bytes_written_total", "counter",
     "Bytes the archive wrote (Ogg pages and their index).", "archive_bytes_written"),
    ("broadcaster_archive_write_errors_total", "counter", "Archive writes that failed.",
     "archive_write_errors"),
    ("broadcaster_archive_dropped_frames_total", "counter",
     "Frames the archive could not keep (paused, or a disk that stalled).",
     "archive_dropped_frames"),
    ("broadcaster_archive_files_deleted_total", "counter",
     "Archive files deleted by the retention.", "archive_files_deleted"),
    ("broadcaster_archive_paused", "gauge",
     "1 while the archive cannot write (a full disk, say); it resumes by itself.",
     "archive_paused"),
)


def render_metrics(status: dict[str, Any], healthy: bool) -> str:
    """The exposition text for a /status snapshot."""
    lines: list[str] = []
    for name, kind, text, key in SERIES:
        value = status.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    lines += ["# HELP broadcaster_state The broadcast's state (1 for the current one).",
              "# TYPE broadcaster_state gauge"]
    lines += [f'broadcaster_state{{state="{state}"}} {int(status.get("state") == state)}'
              for state in STATES]
    lines += ["# HELP broadcaster_healthy 1 when capture runs as it should (see /healthz).",
              "# TYPE broadcaster_healthy gauge", f"broadcaster_healthy {int(healthy)}"]
    return "\n".join(lines) + "\n"
