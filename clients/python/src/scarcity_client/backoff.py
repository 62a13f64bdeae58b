"""Reconnection delays: exponential backoff with jitter."""
from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays between connection attempts: ``initial_s * multiplier**n`` capped at ``max_s``, each multiplied by a
    random factor in ``[1 - jitter, 1]`` so that a fleet of clients cut off together does not reconnect in step.
    :meth:`reset` after a successful registration starts again at ``initial_s``.

    Args:
        initial_s: the first delay, seconds (default 0.2).
        max_s: the largest delay, seconds (default 10).
        multiplier: growth per failed attempt (default 2).
        jitter: the fraction of each delay that is random, 0..1 (default 0.5: "equal jitter").
        rng: the random source (a seeded ``random.Random`` in tests).

    Raises:
        ValueError: a parameter out of range, naming it.
    """

    initial_s: float = 0.2
    max_s: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    _attempt: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        problems = []
        if not self.initial_s > 0:
            problems.append(f"initial_s must be > 0, was {self.initial_s}")
        if not self.max_s >= self.initial_s:
            problems.append(f"max_s must be >= initial_s ({self.initial_s}), was {self.max_s}")
        if not self.multiplier >= 1:
            problems.append(f"multiplier must be >= 1, was {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            problems.append(f"jitter must be in 0..1, was {self.jitter}")
        if problems:
            raise ValueError("Backoff: " + "; ".join(problems))

    @property
    def attempt(self) -> int:
        """Failed attempts since the last reset."""
        return self._attempt

    def next_delay(self) -> float:
        """The delay before the next attempt, seconds; counts one failed attempt."""
        base = min(self.max_s, self.initial_s * self.multiplier ** min(self._attempt, 64))
        self._attempt += 1
        return base * (1 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """Back to ``initial_s`` (after a successful registration)."""
        self._attempt = 0
