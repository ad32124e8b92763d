"""An agent's outbox: order kept, runs of launches and acknowledgements written as one message."""

from __future__ import annotations

import asyncio

from elasticjob.master.outbox import MAX_MERGED_BYTES, LoopWaker, Outbox
from elasticjob.protocol import agent_pb2 as pb


def launch(*task_ids: str, command: str = "") -> pb.MasterMessage:
    return pb.MasterMessage(launch=pb.Launch(tasks=[pb.TaskSpec(task_id=t, command=command) for t in task_ids]))


def ack(*task_ids: str) -> pb.MasterMessage:
    return pb.MasterMessage(ack=pb.Acknowledge(task_ids=task_ids))


def kill(task_id: str) -> pb.MasterMessage:
    return pb.MasterMessage(kill=pb.Kill(task_id=task_id))


def written(*queued: pb.MasterMessage) -> list[pb.MasterMessage]:
    """What the writer takes from an outbox holding ``queued`` (all queued before it runs)."""

    async def drain() -> list[pb.MasterMessage]:
        outbox = Outbox(LoopWaker(asyncio.get_running_loop()))
        for message in queued:
            assert outbox.put(message)
        got = []
        async for message in outbox.messages():
            got.append(message)
            if not len(outbox):
                outbox.close()
        return got

    return asyncio.run(drain())


def test_a_run_of_launches_is_one_launch_with_every_task_in_order() -> None:
    assert written(launch("a", "b"), launch("c"), launch("d")) == [launch("a", "b", "c", "d")]


def test_a_run_of_acknowledgements_is_one() -> None:
    assert written(ack("a"), ack("b", "c")) == [ack("a", "b", "c")]


def test_other_messages_are_never_merged_and_break_runs() -> None:
    queued = [launch("a"), kill("x"), launch("b"), launch("c"), ack("a"), kill("y"), kill("z"), ack("b")]
    assert written(*queued) == [launch("a"), kill("x"), launch("b", "c"), ack("a"), kill("y"), kill("z"),
                                ack("b")]


def test_a_merged_launch_stays_under_the_size_cap() -> None:
    big = "x" * (MAX_MERGED_BYTES // 3)
    out = written(*(launch(f"t{i}", command=big) for i in range(5)))
    assert [[t.task_id for t in m.launch.tasks] for m in out] == [["t0", "t1"], ["t2", "t3"], ["t4"]]
    assert all(m.ByteSize() <= MAX_MERGED_BYTES for m in out)


def test_put_after_close_is_refused() -> None:
    async def scenario() -> tuple[bool, bool]:
        outbox = Outbox(LoopWaker(asyncio.get_running_loop()))
        outbox.close()
        return outbox.put(kill("x")), outbox.closed

    assert asyncio.run(scenario()) == (False, True)
