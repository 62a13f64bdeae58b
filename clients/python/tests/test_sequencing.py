from scarcity_client import ThrottleSequencer, ThrottleVerdict


def test_a_throttle_above_the_last_applied_applies_and_one_at_or_below_is_stale():
    seq = ThrottleSequencer(["reduce_batch", "throttle"])
    assert seq.check(2, "reduce_batch") is ThrottleVerdict.APPLY
    seq.complete(2, "reduce_batch", 0.5, applied=True)
    assert seq.check(1, "reduce_batch") is ThrottleVerdict.STALE
    assert seq.check(2, "throttle") is ThrottleVerdict.STALE
    assert seq.level_of("reduce_batch") == 0.5
    assert seq.level_of("throttle") == 1.0
    assert "not above the last applied seq 2" in seq.stale_detail(1)


def test_an_undeclared_action_is_unknown_and_a_failed_handler_still_consumes_the_sequence():
    seq = ThrottleSequencer(["reduce_batch"])
    assert seq.check(1, "scale_up") is ThrottleVerdict.UNKNOWN_ACTION
    seq.complete(3, "reduce_batch", 0.25, applied=False)
    assert seq.last_applied == 3
    assert seq.level_of("reduce_batch") == 1.0  # not applied
    assert seq.check(3, "reduce_batch") is ThrottleVerdict.STALE


def test_registration_takes_the_governors_sequence_even_lower_and_returns_the_levels_that_differ():
    seq = ThrottleSequencer(["reduce_batch", "throttle", "shed_load"])
    seq.complete(9, "throttle", 0.7, applied=True)
    changed = seq.register({"reduce_batch": 0.5, "throttle": 0.7, "shed_load": 1.0, "scale_up": 2.0}, last_sequence=4)
    assert changed == [("reduce_batch", 0.5)]  # throttle already at 0.7, scale_up not declared
    assert seq.last_applied == 4
    assert seq.check(5, "reduce_batch") is ThrottleVerdict.APPLY
