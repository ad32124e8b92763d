"""Agent messages carrying statuses: one, or a batch of what an agent had queued."""

from __future__ import annotations

from elasticjob.model import TaskState
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import StatusUpdate, status_message, statuses_of


def test_one_status_travels_alone_and_several_in_one_batch_in_order() -> None:
    updates = [StatusUpdate(f"t{i}", TaskState.RUNNING, timestamp_ms=1000 + i, firing_id="f") for i in range(3)]
    single = status_message([updates[0].to_proto()])
    assert single.WhichOneof("body") == "status"
    batch = status_message([u.to_proto() for u in updates])
    assert batch.WhichOneof("body") == "statuses"
    decoded = pb.AgentMessage.FromString(batch.SerializeToString())
    assert [StatusUpdate.from_proto(s) for s in statuses_of(decoded)] == updates
    assert [StatusUpdate.from_proto(s) for s in statuses_of(single)] == updates[:1]
    assert statuses_of(pb.AgentMessage(heartbeat=pb.Heartbeat())) == []
