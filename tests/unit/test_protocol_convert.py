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


def test_a_kill_and_a_launch_carry_a_grace_period_kept_apart_from_none() -> None:
    from elasticjob.protocol.convert import kill_grace, kill_message, spec_from_proto, spec_to_proto

    for grace in (None, 0.0, 1.5):
        sent = pb.MasterMessage.FromString(kill_message("t1", "stopped", grace).SerializeToString())
        assert (sent.kill.task_id, sent.kill.reason, kill_grace(sent.kill)) == ("t1", "stopped", grace)
    # What a master that predates the field sends: no grace, the agent decides.
    assert kill_grace(pb.Kill.FromString(pb.Kill(task_id="t1").SerializeToString())) is None
    spec = {"task_id": "t1", "job_name": "j", "firing_id": "f", "sharding_item": 0, "sharding_total_count": 1,
            "sharding_parameter": "", "job_parameter": "", "app_name": "a", "app_url": "file:///a.tgz",
            "app_cache_enable": True, "job_type": "SCRIPT", "command": "true", "job_class": "",
            "streaming_process": False, "environment": {}, "cpus": 0.1, "mem_mb": 8.0,
            "execution_type": "TRANSIENT", "cron": "", "time_zone": "UTC", "app_version": "", "start_at_ms": 0}
    for grace in (None, 0.0, 30.0):
        wire = pb.TaskSpec.FromString(spec_to_proto({**spec, "kill_grace_seconds": grace}).SerializeToString())
        assert spec_from_proto(wire)["kill_grace_seconds"] == grace
