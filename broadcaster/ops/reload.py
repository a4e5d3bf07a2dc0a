"""What a config reload (SIGHUP) can apply in place, and what needs a restart (pure)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from broadcaster.config import Config

# Sections a running broadcast can take in place. The others change what connected
# listeners have already set up (codec parameters, the ring they resume from) or the
# listening socket, so they wait for a restart.
LIVE_SECTIONS = ("source", "logging")


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """The differences between the running config and the file, sorted by what to do."""

    switch_source: bool
    log_level: str | None
    needs_restart: tuple[str, ...]  # dotted keys that changed but only apply after a restart

    @property
    def changes_anything(self) -> bool:
        """Whether the reload has any effect now."""
        return self.switch_source or self.log_level is not None


def changed_keys(old: Config, new: Config) -> list[str]:
    """Dotted names of every key whose value differs."""
    changed = []
    for section in fields(Config):
        a, b = getattr(old, section.name), getattr(new, section.name)
        changed += [f"{section.name}.{key.name}" for key in fields(a)
                    if getattr(a, key.name) != getattr(b, key.name)]
    return changed


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    """Decide what reloading `new` over the running `old` does."""
    changed = changed_keys(old, new)
    return ReloadPlan(
        switch_source=any(key.startswith("source.") for key in changed),
        log_level=new.logging.level if "logging.level" in changed else None,
        needs_restart=tuple(k for k in changed if k.split(".")[0] not in LIVE_SECTIONS),
    )
