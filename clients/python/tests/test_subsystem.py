import asyncio
import math
import subprocess

import pytest

from fake_governor import DROP, FakeGovernor, free_port
from scarcity_client import Backoff, GovernedSubsystem, TlsOptions
from scarcity_client._proto import governor_pb2 as pb

WAIT = 20.0
ACTIONS = ("reduce_batch", "shed_load", "throttle")


class Recorder:
    """Handlers that record what they applied, in order."""

    def __init__(self, actions=ACTIONS):
        self.calls = []
        self.fail_next = False
        self.handlers = {a: self._handler(a) for a in actions}

    def _handler(self, action):
        def handle(level, info):
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("the engine could not resize its batch")
            self.calls.append((action, level, None if info is None else info.sequence))
            return True
        return handle


def fast_backoff():
    return Backoff(initial_s=0.05, max_s=0.2)


async def governed(server_targets, recorder, **kwargs):
    client = GovernedSubsystem("engine", "gpu-node-1", recorder.handlers, server_targets,
                               backoff=kwargs.pop("backoff", fast_backoff()), **kwargs)
    await client.start()
    return client


async def test_registers_with_its_identity_and_applies_the_registered_levels_at_once():
    server = await FakeGovernor().start()
    server.levels = {"reduce_batch": 0.5, "throttle": 1.0, "shed_load": 0.8}
    server.last_sequence = 7
    rec = Recorder()
    client = await governed([server.target], rec, priority=3, latency_objective_ms=250, reports=["latency_ms", "context_k"])
    try:
        await client.wait_registered(WAIT)
        stream = await server.stream(0)
        assert stream.register.name == "engine"
        assert stream.register.host == "gpu-node-1"
        assert stream.register.priority == 3
        assert list(stream.register.actions) == sorted(ACTIONS)
        assert stream.register.latency_objective_ms == 250
        assert list(stream.register.reports) == ["latency_ms", "context_k"]
        # Levels that differ from 1 reach their handlers before the client counts as registered.
        assert sorted(rec.calls) == [("reduce_batch", 0.5, None), ("shed_load", 0.8, None)]
        assert client.levels == {"reduce_batch": 0.5, "shed_load": 0.8, "throttle": 1.0}
        assert client.last_sequence == 7
    finally:
        await client.stop()
        await server.stop()


async def test_throttles_apply_in_sequence_order_and_every_one_is_acked():
    server = await FakeGovernor().start()
    rec = Recorder()
    client = await governed([server.target], rec)
    try:
        await client.wait_registered(WAIT)
        stream = await server.stream(0)
        stream.throttle("reduce_batch", 0.5, 2)
        stream.throttle("reduce_batch", 0.9, 1)   # older, arrived late: ignored
        stream.throttle("reduce_batch", 0.5, 2)   # a retry: ignored
        stream.throttle("throttle", 0.7, 3)
        acks = [(await stream.next("ack")).ack for _ in range(4)]
        assert [(a.sequence, a.applied) for a in acks] == [(2, True), (1, False), (2, False), (3, True)]
        assert "stale" in acks[1].detail
        assert rec.calls == [("reduce_batch", 0.5, 2), ("throttle", 0.7, 3)]
        assert client.level_of("reduce_batch") == 0.5 and client.level_of("throttle") == 0.7
        assert client.stats.throttles_applied == 2 and client.stats.throttles_received == 4
    finally:
        await client.stop()
        await server.stop()


async def test_a_failing_handler_is_acked_not_applied_and_the_client_goes_on():
    server = await FakeGovernor().start()
    rec = Recorder()
    declined = []
    rec.handlers["shed_load"] = lambda level, info: declined.append(level) or False

    async def async_throttle(level, info):
        await asyncio.sleep(0.01)
        rec.calls.append(("throttle", level, info.sequence))

    rec.handlers["throttle"] = async_throttle
    client = await governed([server.target], rec)
    try:
        await client.wait_registered(WAIT)
        stream = await server.stream(0)
        rec.fail_next = True
        stream.throttle("reduce_batch", 0.5, 1)
        stream.throttle("shed_load", 0.5, 2)
        stream.throttle("scale_up", 2.0, 3)
        stream.throttle("throttle", 0.6, 4)
        stream.throttle("reduce_batch", 0.25, 5)
        acks = [(await stream.next("ack")).ack for _ in range(5)]
        assert [(a.sequence, a.applied) for a in acks] == [(1, False), (2, False), (3, False), (4, True), (5, True)]
        assert "RuntimeError" in acks[0].detail and "could not resize" in acks[0].detail
        assert "declined" in acks[1].detail
        assert "no handler for action 'scale_up'" in acks[2].detail
        assert client.level_of("reduce_batch") == 0.25
        assert client.level_of("shed_load") == 1.0
        assert client.level_of("throttle") == 0.6
        assert declined == [0.5]
    finally:
        await client.stop()
        await server.stop()


async def test_reports_reach_the_governor_and_bad_values_are_refused_naming_the_metric():
    server = await FakeGovernor().start()
    client = GovernedSubsystem("engine", "gpu-node-1", Recorder().handlers, [server.target], backoff=fast_backoff())
    assert client.report({"latency_ms": 10}) is False  # not started: dropped, counted
    await client.start()
    try:
        await client.wait_registered(WAIT)
        stream = await server.stream(0)
        assert client.report({"latency_ms": 123.5, "queue_depth": 4, "context_k": 1.5, "oom_total": 0})
        report = (await stream.next("report")).report
        assert dict(report.values) == {"latency_ms": 123.5, "queue_depth": 4, "context_k": 1.5, "oom_total": 0}
        assert not report.HasField("at")
        with pytest.raises(ValueError, match="latency_ms"):
            client.report({"latency_ms": math.nan})
        with pytest.raises(ValueError, match="Latency"):
            client.report({"Latency": 1.0})
        for _ in range(100):  # the writer counts a report once its write has returned, which may be after the server has it
            if client.stats.reports_sent == 1:
                break
            await asyncio.sleep(0.02)
        assert client.stats.reports_sent == 1 and client.stats.reports_dropped == 1
    finally:
        await client.stop()
        await server.stop()


async def test_the_bearer_token_travels_as_metadata_and_a_wrong_one_is_never_registered():
    server = await FakeGovernor().start()
    server.token = "s3cret"
    wrong = await governed([server.target], Recorder(), token="guess")
    right = GovernedSubsystem("engine2", "gpu-node-1", Recorder().handlers, [server.target], token="s3cret",
                              backoff=fast_backoff())
    await right.start()
    try:
        await right.wait_registered(WAIT)
        assert (await server.stream(0)).metadata["authorization"] == "Bearer s3cret"
        with pytest.raises(asyncio.TimeoutError, match="UNAUTHENTICATED"):
            await wrong.wait_registered(1.0)
        assert server.unauthenticated >= 1
        assert len(server.streams) == 1
    finally:
        await wrong.stop()
        await right.stop()
        await server.stop()


async def test_a_dropped_stream_reconnects_and_the_new_registration_applies_the_current_levels():
    server = await FakeGovernor().start()
    rec = Recorder()
    client = await governed([server.target], rec)
    try:
        await client.wait_registered(WAIT)
        first = await server.stream(0)
        first.throttle("reduce_batch", 0.5, 1)
        await first.next("ack")
        # The governor decides while the subsystem is cut off: the re-registration carries it.
        server.levels = {"reduce_batch": 0.25, "throttle": 0.6, "shed_load": 1.0}
        server.last_sequence = 3
        first.outbox.put_nowait(DROP)
        second = await server.stream(1, WAIT)
        await client.wait_registered(WAIT)
        assert second.register.name == "engine"
        assert client.levels == {"reduce_batch": 0.25, "shed_load": 1.0, "throttle": 0.6}
        assert client.last_sequence == 3
        second.throttle("reduce_batch", 0.5, 3)   # not above the registration's sequence
        second.throttle("reduce_batch", 0.75, 4)
        acks = [(await second.next("ack")).ack for _ in range(2)]
        assert [(a.sequence, a.applied) for a in acks] == [(3, False), (4, True)]
        assert client.stats.registrations == 2
        assert "UNAVAILABLE" in client.last_error
    finally:
        await client.stop()
        await server.stop()


async def test_it_tries_the_targets_in_turn_with_backoff_until_one_answers():
    dead = f"127.0.0.1:{free_port()}"
    late = FakeGovernor()
    client = await governed([dead, late.target], Recorder(), backoff=Backoff(initial_s=0.05, max_s=0.4))
    try:
        await asyncio.sleep(1.5)  # both down: attempts back off
        attempts = client.stats.connects
        assert 3 <= attempts <= 15, attempts  # 0.05 doubling to 0.4 s with jitter: about 5-8 in 1.5 s
        await late.start()
        await client.wait_registered(WAIT)
        assert client.target == late.target
    finally:
        await client.stop()
        await late.stop()


async def test_a_rejected_registration_is_reported_and_retried_until_accepted():
    server = await FakeGovernor().start()
    server.reject_reason = "name 'engine' is held by another live process"
    reasons = []
    client = await governed([server.target], Recorder(), on_rejected=reasons.append)
    try:
        with pytest.raises(asyncio.TimeoutError, match="held by another live process"):
            await client.wait_registered(1.0)
        assert client.rejected_reason == server.reject_reason
        assert reasons and reasons[0] == server.reject_reason
        server.reject_reason = None
        await client.wait_registered(WAIT)
        assert client.rejected_reason is None
    finally:
        await client.stop()
        await server.stop()


async def test_stop_ends_the_stream_so_the_governor_sees_the_subsystem_go():
    server = await FakeGovernor().start()
    client = await governed([server.target], Recorder())
    await client.wait_registered(WAIT)
    stream = await server.stream(0)
    await client.stop()
    await asyncio.wait_for(stream.ended.wait(), WAIT)
    assert not client.registered
    await server.stop()


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError) as e:
        GovernedSubsystem("Bad Name", "", {}, [], latency_objective_ms=-1, reports=["Latency ms"], token="a b")
    message = str(e.value)
    for part in ("name 'Bad Name'", "host", "handlers", "targets", "latency_objective_ms", "reports", "token"):
        assert part in message


def test_a_missing_ca_file_is_named():
    with pytest.raises(FileNotFoundError, match="ca_file.*/nonexistent/ca.pem"):
        GovernedSubsystem("engine", "h", Recorder().handlers, ["127.0.0.1:1"], tls=TlsOptions(ca_file="/nonexistent/ca.pem"))


async def test_tls_with_a_ca_file_registers_and_an_untrusted_server_is_refused(tmp_path):
    key, cert = tmp_path / "server.key", tmp_path / "server.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    other_key, other = tmp_path / "other.key", tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
                    "-keyout", str(other_key), "-out", str(other)], check=True, capture_output=True)
    server = await FakeGovernor(tls=(key.read_bytes(), cert.read_bytes())).start()
    trusted = await governed([server.target], Recorder(), tls=TlsOptions(ca_file=str(cert)))
    untrusted = GovernedSubsystem("engine2", "h", Recorder().handlers, [server.target], backoff=fast_backoff(),
                                  tls=TlsOptions(ca_file=str(other)))
    await untrusted.start()
    try:
        await trusted.wait_registered(WAIT)
        with pytest.raises(asyncio.TimeoutError, match="UNAVAILABLE"):
            await untrusted.wait_registered(1.5)
        assert len(server.streams) == 1
    finally:
        await trusted.stop()
        await untrusted.stop()
        await server.stop()


async def test_a_second_registered_on_the_stream_after_a_failover_applies_its_levels_and_sequence():
    server = await FakeGovernor().start()
    rec = Recorder()
    client = await governed([server.target], rec)
    try:
        await client.wait_registered(WAIT)
        stream = await server.stream(0)
        stream.throttle("reduce_batch", 0.5, 4)
        await stream.next("ack")
        # The gateway's actor registered again after the actuators moved: the same stream carries the new answer.
        stream.outbox.put_nowait(pb.GovernorMessage(registered=pb.Registered(
            name="engine", levels={"reduce_batch": 0.25, "throttle": 1.0, "shed_load": 1.0}, last_sequence=6)))
        stream.throttle("reduce_batch", 0.4, 6)   # not above the new registration's sequence
        stream.throttle("throttle", 0.8, 7)
        acks = [(await stream.next("ack")).ack for _ in range(2)]
        assert [(a.sequence, a.applied) for a in acks] == [(6, False), (7, True)]
        assert rec.calls == [("reduce_batch", 0.5, 4), ("reduce_batch", 0.25, None), ("throttle", 0.8, 7)]
        assert client.registered and client.stats.registrations == 2
    finally:
        await client.stop()
        await server.stop()
