"""The committed protobuf code is what scripts/gen-python-proto.sh makes of proto/scarcity/v1/governor.proto today, and
it loads with the protobuf runtime installed here (Debian's 3.21)."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def test_the_generated_code_is_current_with_the_proto():
    if shutil.which("protoc") is None:
        pytest.fail("protoc not found: apt-get install -y protobuf-compiler libprotobuf-dev (scripts/test.sh does)")
    result = subprocess.run([os.path.join(ROOT, "scripts", "gen-python-proto.sh"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_generated_messages_carry_every_field_of_the_contract():
    from scarcity_client._proto import governor_pb2 as pb

    assert pb.DESCRIPTOR.package == "scarcity.v1"
    assert set(pb.DESCRIPTOR.services_by_name["Governor"].methods_by_name) == {"Govern", "GetFleetStatus", "GetDecisions"}
    assert [f.name for f in pb.Register.DESCRIPTOR.fields] == [
        "name", "host", "priority", "actions", "latency_objective_ms", "reports"]
    throttle = pb.Throttle(action="reduce_batch", level=0.5, sequence=3, reason="r", host="h")
    assert pb.Throttle.FromString(throttle.SerializeToString()) == throttle
