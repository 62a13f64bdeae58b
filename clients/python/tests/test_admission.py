import asyncio

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from fake_governor import FakeGovernor, free_port
from scarcity_client import AdmissionGate, Backoff, GovernedSubsystem, gate_handlers


class Levels:
    """Feeds the gate levels (the condition) and records its reports."""

    def __init__(self, **levels):
        self.levels = dict(levels)
        self.reports = []

    def level_of(self, action):
        return self.levels.get(action, 1.0)

    def report(self, values):
        self.reports.append(dict(values))
        return True


def app_with(release: asyncio.Event = None, inside: list = None):
    async def completions(request):
        if inside is not None:
            inside.append(1)
        try:
            if release is not None:
                await release.wait()
        finally:
            if inside is not None:
                inside.pop()
        return JSONResponse({"object": "chat.completion", "choices": []})

    async def health(request):
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]),
                             Route("/healthz", health)])


def client_for(app):
    return httpx.AsyncClient(app=app, base_url="http://test")


async def post(client, low=False):
    headers = {"x-priority": "low"} if low else {}
    return await client.post("/v1/chat/completions", json={"messages": []}, headers=headers)


async def test_shed_load_rejects_low_priority_first_with_429_and_retry_after():
    levels = Levels(shed_load=0.5)  # admit half: shed 50 %
    gate = AdmissionGate(app_with(), levels, retry_after_s=2)
    async with client_for(gate) as client:
        results = [(low, (await post(client, low)).status_code) for low in [False, True] * 50]
        rejected = await post(client, low=True)
    await gate.close()
    assert all(code == 200 for low, code in results if not low)   # half the traffic is low: shedding 50 % takes only it
    low_codes = [code for low, code in results if low]
    assert low_codes.count(429) >= 45
    assert rejected.status_code == 429
    assert rejected.headers["retry-after"] == "2"
    assert rejected.headers["x-scarcity-action"] == "shed_load"
    assert rejected.json()["error"]["type"] == "overloaded"
    snap = gate.snapshot()
    assert snap.rejected_shed == snap.rejected_shed_low == low_codes.count(429) + 1


async def test_shed_load_sheds_that_fraction_spread_evenly_and_normal_requests_only_beyond_the_low_share():
    levels = Levels(shed_load=0.25)  # admit a quarter: shed 75 %
    gate = AdmissionGate(app_with(), levels)
    async with client_for(gate) as client:
        results = [(low, (await post(client, low)).status_code) for low in [False, True] * 100]
    await gate.close()
    normal = [code for low, code in results if not low]
    low = [code for low, code in results if low]
    assert low.count(429) == 100                      # every low request first
    assert 35 <= normal.count(429) <= 60              # then half of the normal ones (after the first 20 requests)
    # Evenly spread: never three normal rejections in a row.
    assert "429,429,429" not in ",".join(map(str, normal))


async def test_shed_load_at_1_admits_everything_and_exempt_paths_are_never_gated():
    levels = Levels(shed_load=0.1, throttle=0.1)
    gate = AdmissionGate(app_with(), levels)
    async with client_for(gate) as client:
        assert (await client.get("/healthz")).status_code == 200
        levels.levels["shed_load"] = 1.0
        assert [(await post(client, low=True)).status_code for _ in range(20)] == [200] * 20
    await gate.close()


async def test_throttle_limits_concurrency_to_its_fraction_and_queues_then_rejects_the_rest():
    release = asyncio.Event()
    inside = []
    levels = Levels(throttle=0.25)
    gate = AdmissionGate(app_with(release, inside), levels, max_concurrency=8, max_waiting=2, max_wait_s=10,
                         retry_after_s=3)
    async with client_for(gate) as client:
        tasks = [asyncio.create_task(post(client)) for _ in range(4)]
        for _ in range(100):
            await asyncio.sleep(0.01)
            if gate.snapshot().waiting == 2:
                break
        snap = gate.snapshot()
        assert (snap.limit, snap.in_flight, snap.waiting, len(inside)) == (2, 2, 2, 2)
        over = await post(client)                    # the waiting room is full
        assert over.status_code == 429 and over.headers["retry-after"] == "3"
        assert over.headers["x-scarcity-action"] == "throttle"
        assert gate.report_now()["queue_depth"] == 4
        release.set()
        assert [r.status_code for r in await asyncio.gather(*tasks)] == [200] * 4
    await gate.close()
    assert gate.snapshot().rejected_throttle == 1


async def test_a_request_waiting_longer_than_max_wait_is_rejected_and_a_raised_level_admits_waiters():
    release = asyncio.Event()
    levels = Levels(throttle=1 / 8)
    gate = AdmissionGate(app_with(release), levels, max_concurrency=8, max_wait_s=0.3)
    async with client_for(gate) as client:
        first = asyncio.create_task(post(client))
        await asyncio.sleep(0.05)
        assert (await post(client)).status_code == 429          # waited 0.3 s for the one slot
        levels.levels["throttle"] = 1.0
        second = asyncio.create_task(post(client))
        await asyncio.sleep(0.05)
        assert gate.snapshot().in_flight == 2                   # the raised level admitted it at once
        release.set()
        assert (await first).status_code == 200 and (await second).status_code == 200
    await gate.close()


async def test_reports_latency_quantile_and_queue_depth_from_what_it_sees():
    clock = [100.0]
    release = asyncio.Event()
    levels = Levels()
    gate = AdmissionGate(app_with(release), levels, clock=lambda: clock[0], latency_quantile=0.5)

    async def timed(seconds):
        async def app(scope, receive, send):
            clock[0] += seconds  # the application takes this long before answering
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        return app

    for seconds in (0.1, 0.2, 0.3):
        gate.app = await timed(seconds)
        async with client_for(gate) as client:
            await post(client)
    assert gate.report_now() == {"latency_ms": pytest.approx(200), "queue_depth": 0}
    assert gate.report_now() == {"latency_ms": 0, "queue_depth": 0}   # idle: nothing waits

    gate.app = app_with(release)
    async with client_for(gate) as client:
        stuck = asyncio.create_task(post(client))
        await asyncio.sleep(0.05)
        clock[0] += 2.5
        # An unanswered request counts with its age: a hung server reports its latency.
        assert gate.report_now() == {"latency_ms": pytest.approx(2500), "queue_depth": 1}
        release.set()
        await stuck
    await gate.close()
    assert len(levels.reports) == 3


async def test_bad_arguments_are_named():
    with pytest.raises(ValueError) as e:
        AdmissionGate(app_with(), Levels(), max_concurrency=0, latency_quantile=2, report_interval_s=0)
    for part in ("max_concurrency", "latency_quantile", "report_interval_s"):
        assert part in str(e.value)


async def test_under_uvicorn_the_governors_levels_gate_real_http_and_reports_reach_the_governor():
    """The whole path: a Throttle on the Govern stream, the client's handler, the gate in a real HTTP server."""
    governor = await FakeGovernor().start()
    governed = GovernedSubsystem("llm_server", "gpu-node-1", gate_handlers(), [governor.target],
                                 backoff=Backoff(initial_s=0.05, max_s=0.2))
    gate = AdmissionGate(app_with(), governed, report_interval_s=0.2, start_governed=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(gate, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        await governed.wait_registered(20)
        stream = await governor.stream(0)
        while not server.started:
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await post(http, low=True)).status_code == 200
            stream.throttle("shed_load", 0.5, 1)
            ack = (await stream.next("ack")).ack
            assert (ack.sequence, ack.applied) == (1, True)
            codes = [(await post(http, low=True)).status_code for _ in range(4)]
            assert codes.count(429) >= 2
            report = (await stream.next("report")).report
            assert set(report.values) == {"latency_ms", "queue_depth"}
    finally:
        server.should_exit = True
        await serving  # lifespan shutdown stops the client
        assert not governed.started
        await governor.stop()
