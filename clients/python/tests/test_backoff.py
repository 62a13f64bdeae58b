import random

import pytest

from scarcity_client import Backoff


def test_delays_double_up_to_the_cap_each_with_jitter_below_the_base():
    backoff = Backoff(initial_s=0.1, max_s=1.0, multiplier=2, jitter=0.5, rng=random.Random(7))
    bases = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    delays = [backoff.next_delay() for _ in bases]
    for base, delay in zip(bases, delays):
        assert base * 0.5 <= delay <= base
    assert len(set(delays)) == len(delays)  # jittered: no two alike
    assert backoff.attempt == 6


def test_reset_starts_again_at_the_initial_delay():
    backoff = Backoff(initial_s=0.1, max_s=5.0, jitter=0.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError) as e:
        Backoff(initial_s=0, max_s=-1, jitter=2)
    assert "initial_s" in str(e.value) and "max_s" in str(e.value) and "jitter" in str(e.value)
