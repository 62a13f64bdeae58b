"""The Python sample engine under the client, against the in-process governor double: an OOM drops the registration
for the restart, and the restarted engine registers again and runs at the levels the governor holds."""
import argparse
import asyncio
import os
import sys

from fake_governor import FakeGovernor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
import engine_model as m  # noqa: E402


async def test_an_oom_drops_the_registration_and_the_restarted_engine_gets_the_current_levels(tmp_path, monkeypatch):
    monkeypatch.setattr(m, "RESTART", 1.0)  # seconds down after an OOM (20 in the model): keep the spec short
    surge = tmp_path / "surge.csv"  # L = 2: a batch of 64 needs 0.4 + 0.006 * 64 * 2 = 1.17 of the card
    surge.write_text("t_seconds,arrivals,context_k\n" + "".join(f"{i * 0.25},10,2.0\n" for i in range(40)))
    governor = await FakeGovernor().start()
    lines = []
    args = argparse.Namespace(target=[governor.target], name="py_engine", host="gpu-node-1", scenario=str(surge),
                              priority=1, duration=0, register_wait=5.0, token=None, token_file=None, ca_file=None, server_name=None)
    engine = m.GovernedEngine(args, write=lines.append)
    stop = asyncio.Event()
    running = asyncio.create_task(engine.run(stop))
    try:
        first = await governor.stream(0)
        # While it is down the governor halves the batch twice (the engine is not there to hear it).
        governor.levels = {"reduce_batch": 0.25, "throttle": 1.0, "shed_load": 1.0}
        governor.last_sequence = 2
        await asyncio.wait_for(first.ended.wait(), 10)
        assert any(line.startswith("oom t=") for line in lines), lines
        second = await governor.stream(1, 10)
        report = (await second.next("report")).report
        assert set(report.values) == {"latency_ms", "queue_depth", "context_k", "oom_total", "vram_util"}
        assert report.values["oom_total"] == 1
        assert report.values["vram_util"] < 0.7  # batch 16: 0.4 + 0.006 * 16 * 2 = 0.59
        assert "level action=reduce_batch level=0.25 source=registration" in lines
        assert sum(line.startswith("oom t=") for line in lines) == 1, lines  # it came back at the governor's level
        assert any(line.startswith("restarted t=") for line in lines)
        second.throttle("reduce_batch", 0.5, 3, reason="recovery")
        ack = (await second.next("ack")).ack
        assert (ack.sequence, ack.applied) == (3, True)
        assert any(line.startswith("applied seq=3 action=reduce_batch level=0.5 ") and line.endswith("batch=32")
                   for line in lines), lines
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await governor.stop()
