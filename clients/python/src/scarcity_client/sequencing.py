"""Sequence and level bookkeeping of one governed subsystem, without I/O (the Python twin of the .NET client's
ThrottleSequencer): Throttles apply in sequence order, anything at or below the last applied sequence is stale, and a
(re)registration resets both from the governor's reply."""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping


class ThrottleVerdict(enum.Enum):
    """What to do with one incoming Throttle."""

    APPLY = "apply"
    """Newer than anything applied and for a declared action: run the handler."""
    STALE = "stale"
    """Sequence at or below the last applied (a retry, a duplicate or a reordered message): ack applied=false."""
    UNKNOWN_ACTION = "unknown_action"
    """No handler for the action: ack applied=false."""


class ThrottleSequencer:
    """Levels per declared action (every action starts at 1.0) and the last applied sequence. Not thread-safe: one
    asyncio task owns it."""

    def __init__(self, actions: Iterable[str]) -> None:
        self._actions = frozenset(actions)
        self._levels: dict[str, float] = {}
        self.last_applied: int = 0
        """The newest sequence applied (or consumed by a failed handler), or taken from the last registration."""

    @property
    def levels(self) -> dict[str, float]:
        """A copy of the current level per declared action (1.0 for an action never restricted)."""
        return {a: self._levels.get(a, 1.0) for a in sorted(self._actions)}

    def level_of(self, action: str) -> float:
        """The level of ``action``; 1.0 when never restricted."""
        return self._levels.get(action, 1.0)

    def check(self, sequence: int, action: str) -> ThrottleVerdict:
        """Classifies a Throttle; changes nothing."""
        if sequence <= self.last_applied:
            return ThrottleVerdict.STALE
        return ThrottleVerdict.APPLY if action in self._actions else ThrottleVerdict.UNKNOWN_ACTION

    def stale_detail(self, sequence: int) -> str:
        """The ack detail of a stale Throttle."""
        return f"stale: seq {sequence} is not above the last applied seq {self.last_applied}"

    def complete(self, sequence: int, action: str, level: float, applied: bool) -> None:
        """Records that the sequence is consumed, and the level only when ``applied``. A failed handler still consumes
        the sequence: a retry of it is stale, and the governor's next Throttle carries the absolute level anew."""
        if sequence <= self.last_applied:
            return
        self.last_applied = sequence
        if applied:
            self._levels[action] = level

    def register(self, levels: Mapping[str, float], last_sequence: int) -> list[tuple[str, float]]:
        """A (re)registration: the governor's ``last_sequence`` becomes the last applied, even when lower than ours (a
        governor that lost its newest decisions reuses those sequences). Returns the declared actions whose level
        differs from what is applied now, sorted by action, to hand to their handlers."""
        self.last_applied = last_sequence
        return sorted((a, v) for a, v in levels.items() if a in self._actions and self.level_of(a) != v)

    def set_level(self, action: str, level: float) -> None:
        """Records a level applied from a registration."""
        self._levels[action] = level
