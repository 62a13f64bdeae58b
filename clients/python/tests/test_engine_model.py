"""The Python engine model against the figures the C# model's specs pin (tests/Scarcity.Actors.Simulation.Tests)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import engine_model as m  # noqa: E402


def run(scenario, levels=m.Levels()):
    engine = m.InferenceEngineModel()
    ooms = []
    for _ in range(round(scenario.duration_s / m.DT)):
        engine.step(*scenario.at(engine.time), levels)
        if engine.oom_in_last_step:
            ooms.append(engine.time - m.DT)
    return engine, ooms


def test_context_surge_without_a_governor_has_10_ooms_20_s_apart_as_the_csharp_model():
    engine, ooms = run(m.SCENARIOS["context-surge"])
    assert engine.scores.ooms == 10
    assert ooms[0] == 58.25
    assert all(b - a == m.RESTART for a, b in zip(ooms, ooms[1:]))
    assert engine.scores.requests_lost > 0


@pytest.mark.parametrize("level,batch", [(1.0, 64), (0.5, 32), (0.999, 63), (0.25, 16), (0.01, 1)])
def test_batch_is_the_floor_of_b_max_times_the_level_and_at_least_1(level, batch):
    assert m.batch_at(level) == batch


def test_admission_applies_throttle_and_sheds_only_the_low_priority_share():
    engine = m.InferenceEngineModel()
    engine.step(10, 1.0, m.Levels(1, 0.5, 0.5))
    assert engine.scores.requests_rejected == pytest.approx(2.5 - 0.9375, abs=1e-12)
    assert engine.scores.good_requests == pytest.approx(0.9375, abs=1e-12)


def test_halving_the_batch_keeps_the_context_surge_out_of_oom():
    engine, ooms = run(m.SCENARIOS["context-surge"], m.Levels(reduce_batch=0.5))
    assert ooms == []
    assert engine.vram_util < 1.0


def test_a_bad_level_or_scenario_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="reduce_batch"):
        m.InferenceEngineModel().step(1, 1, m.Levels(reduce_batch=0))
    bad = tmp_path / "bad.csv"
    bad.write_text("t_seconds,arrivals,context_k\n0,10,1\n0.25,ten,1\n")
    with pytest.raises(ValueError, match=r"bad.csv:3"):
        m.load_scenario(str(bad))
