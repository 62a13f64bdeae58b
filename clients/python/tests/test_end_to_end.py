"""End to end: a real governor node (the Host's Release build, SQLite, its gRPC gateway on a free port, a bearer
token) and the Python sample engine as a process of its own, governed through the gateway."""
import asyncio
import os
import re
import time

import pytest

from node_process import HOST_DLL, ROOT, GovernorNode, start_engine
from scarcity_client import GovernedSubsystem, GovernorClient

LOGS = os.path.join(ROOT, "TestResults", "python-e2e")
WAIT = 90  # seconds; generous for a loaded 2-core machine
TOKEN = "e2e-token-7f3a"

if not os.path.isfile(HOST_DLL) and os.environ.get("SCARCITY_E2E_REQUIRED") != "1":
    pytest.skip(f"{HOST_DLL} not built (dotnet build src/Scarcity.Actors.Host -c Release); "
                "scripts/test.sh sets SCARCITY_E2E_REQUIRED=1 so that this fails instead", allow_module_level=True)

POLICY = {
    "Cooldown": "00:00:03", "RecoveryDelay": "00:00:05", "RecoveryStep": 0.1, "MinLevel": 0.1,
    # Only the VRAM rule: the loaded test machine's own CPU must not throttle the engine.
    "Policies": {"*": [{"Metric": "vram_util", "Threshold": 0.85, "Release": 0.80, "Signal": "Forecast",
                        "Action": "reduce_batch", "Factor": 0.5}]},
}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN + "\n")
    node = GovernorNode("py-e2e-node", LOGS, policy=POLICY, gateway={"BearerTokenFile": str(token_file)})
    node.token_file = str(token_file)
    try:
        node.wait_ready(180)
        yield node
    finally:
        node.stop()


def levels_of(line):
    return {a: float(v) for a, v in re.findall(r"(\w+)=([0-9.]+)", line.split("levels=", 1)[1])}


def fleet_levels(node, name):
    async def read():
        async with GovernorClient(node.gateway, token=TOKEN, timeout_s=30) as client:
            status = await client.fleet_status()
            return {s.name: (dict(s.levels), s.reachable) for s in status.subsystems}.get(name)
    return asyncio.run(read())


def test_the_engine_registers_reports_is_cut_under_a_context_surge_survives_a_kill_and_recovers(node, tmp_path):
    calm = tmp_path / "calm.csv"
    calm.write_text("t_seconds,arrivals,context_k\n" + "".join(f"{i * 0.25},6,0.8\n" for i in range(240)))
    extra = ["--token-file", node.token_file]

    engine = start_engine("py_engine", LOGS, [node.gateway], node.host, scenario="demo", extra=extra)
    try:
        engine.wait_for_line(r"^registered name=py_engine host=py-e2e-host .*reduce_batch=1,", WAIT)
        # The surge: the governor cuts the batch before the card runs out of memory (by the VRAM rule, or earlier to the
        # batch the load needs, which leaves the VRAM the surge would take free).
        _, cut = engine.wait_for_line(r"^applied seq=\d+ action=reduce_batch level=0\.\d+ .*(vram_util forecast > 0.85|load needs level)", WAIT)
        assert "batch=" in cut
        assert node.metric("scarcity_gateway_messages_received_total", 'kind="report"') > 0
        assert node.metric("scarcity_gateway_messages_received_total", 'kind="ack"') >= 1
    finally:
        engine.kill()  # SIGKILL: no goodbye on the stream
        engine.stop()
    assert not any(line.startswith("oom") for line in engine.lines), engine.tail()

    # Killed, the subsystem is gone for the governor; its levels hold while it is down.
    held = None
    for _ in range(60):
        held = fleet_levels(node, "py_engine")
        if held is not None and not held[1]:
            break
        time.sleep(0.5)
    assert held is not None and not held[1], f"py_engine still reachable after SIGKILL: {held}"
    assert held[0]["reduce_batch"] < 1

    # The decision log, through the gateway's unary call: the cut, with its reason, sent.
    async def decisions():
        async with GovernorClient(node.gateway, token=TOKEN, timeout_s=30) as client:
            return await client.decisions("py_engine", limit=50)
    cuts = [d for d in asyncio.run(decisions()) if d.action == "reduce_batch" and d.level < d.previous_level]
    assert cuts and cuts[0].sent and ("vram_util" in cuts[0].reason or "load needs" in cuts[0].reason) and cuts[0].host == "py-e2e-host"

    # Restarted (a calm load now), it registers again and gets the current levels at once.
    restarted = start_engine("py_engine", LOGS, [node.gateway], node.host, scenario=str(calm), extra=extra,
                             log_name="engine-py_engine-restarted")
    try:
        _, line = restarted.wait_for_line(r"^registered name=py_engine ", WAIT)
        got = levels_of(line)
        assert got["reduce_batch"] == pytest.approx(held[0]["reduce_batch"], abs=1e-3), line
        restarted.wait_for_line(r"^level action=reduce_batch level=0\.\d+ source=registration", 5)
        # Governed again: the VRAM pressure is gone, so the level moves on from the one it held, by recovery or to the
        # batch the calm load needs (the learned policy keeps no more batch than the load uses: free VRAM is headroom).
        restarted.wait_for_line(r"^applied seq=\d+ action=reduce_batch level=[0-9.]+ .*reason=\"(recovery|load needs)", WAIT)
        assert not any(line.startswith("oom") for line in restarted.lines), restarted.tail()
    finally:
        restarted.stop()


def test_a_wrong_token_is_refused_unauthenticated_and_counted(node):
    before = node.metric("scarcity_gateway_unauthenticated_total")

    async def attempt():
        client = GovernedSubsystem("intruder", node.host, {"throttle": lambda level, info: True}, [node.gateway],
                                   token="not-the-token")
        await client.start()
        try:
            with pytest.raises(asyncio.TimeoutError, match="UNAUTHENTICATED"):
                await client.wait_registered(10)
        finally:
            await client.stop()

    asyncio.run(attempt())
    assert node.metric("scarcity_gateway_unauthenticated_total") > before
