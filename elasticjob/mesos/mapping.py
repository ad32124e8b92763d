"""Mesos to ElasticJob and back: agent ids, task states, task infos. Pure: no I/O.

- Agent ids: a Mesos agent ``<id>`` is our agent ``mesos-<id>`` (our agents never use that prefix when the
  Mesos source is on; see README), so task ids of Mesos tasks name it as any other agent.
- States: Mesos' to ours (``STATES``); anything that says the task or its agent may be gone maps to LOST,
  which the scheduler fails over. The Mesos state is kept in the status message (``TASK_UNREACHABLE`` is
  LOST for us, but the message says the agent is unreachable and the task may come back).
- Task infos: our ``TaskSpec`` as a Mesos ``TaskInfo`` run by the command executor.
"""

from __future__ import annotations

from elasticjob.mesos.messages import Json, TaskUpdate
from elasticjob.model import TaskState
from elasticjob.model.task import NOT_STARTED
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import StatusUpdate

AGENT_PREFIX = "mesos-"

STATES: dict[str, TaskState] = {
    "TASK_STAGING": TaskState.STAGING,
    "TASK_STARTING": TaskState.STAGING,
    "TASK_RUNNING": TaskState.RUNNING,
    "TASK_FINISHED": TaskState.FINISHED,
    "TASK_FAILED": TaskState.FAILED,
    "TASK_ERROR": TaskState.FAILED,
    "TASK_KILLED": TaskState.KILLED,
    "TASK_KILLING": TaskState.KILLED,
    "TASK_LOST": TaskState.LOST,
    "TASK_DROPPED": TaskState.LOST,
    "TASK_GONE": TaskState.LOST,
    "TASK_GONE_BY_OPERATOR": TaskState.LOST,
    "TASK_UNREACHABLE": TaskState.LOST,
    "TASK_UNKNOWN": TaskState.LOST,
}

# What a Mesos state means beyond ours, said in the status message.
_MEANING = {
    "TASK_UNREACHABLE": "its Mesos agent is unreachable; the task may still be running there",
    "TASK_DROPPED": "Mesos dropped the task before it started",
    "TASK_GONE": "its Mesos agent is gone",
    "TASK_GONE_BY_OPERATOR": "an operator marked its Mesos agent gone",
    "TASK_UNKNOWN": "Mesos does not know the task",
    "TASK_LOST": "Mesos lost the task",
    "TASK_KILLING": "Mesos is killing the task",
    "TASK_ERROR": "Mesos refused the task description",
}

# Mesos reasons that say the task never started: its shard may run again whatever the job's failover policy.
_NOT_STARTED_REASONS = frozenset({
    "REASON_INVALID_OFFERS", "REASON_TASK_INVALID", "REASON_RESOURCES_UNKNOWN", "REASON_AGENT_REMOVED",
})


def our_agent_id(mesos_agent_id: str) -> str:
    return AGENT_PREFIX + mesos_agent_id


def mesos_agent_id(agent_id: str) -> str | None:
    """The Mesos agent id of our ``agent_id`` (None if it is not a Mesos agent)."""
    return agent_id[len(AGENT_PREFIX):] if agent_id.startswith(AGENT_PREFIX) else None


def state_of(mesos_state: str) -> TaskState:
    """Our state for a Mesos task state; an unknown (newer) state is LOST: the task cannot be trusted."""
    return STATES.get(mesos_state, TaskState.LOST)


def status_of(update: TaskUpdate, firing_id: str = "") -> StatusUpdate:
    """Our status for a Mesos UPDATE. The message names the Mesos state (and its meaning) and reason."""
    state = state_of(update.state)
    parts = [update.state]
    if update.state in _MEANING:
        parts.append(_MEANING[update.state])
    if update.reason:
        parts.append(update.reason)
    if update.message:
        parts.append(update.message)
    reason = "mesos"
    if state in (TaskState.LOST, TaskState.FAILED) and update.reason in _NOT_STARTED_REASONS:
        reason = NOT_STARTED
    return StatusUpdate(
        task_id=update.task_id,
        state=state,
        exit_code=0 if state is TaskState.FINISHED else None,
        message=": ".join(parts),
        reason=reason,
        timestamp_ms=int(update.timestamp * 1000),
        firing_id=firing_id,
    )


def _scalar(name: str, value: float, role: str | None) -> Json:
    resource: Json = {"name": name, "type": "SCALAR", "scalar": {"value": round(value, 3)}}
    if role:
        # A MULTI_ROLE framework names the role each resource was allocated to (as its offer did).
        resource["allocation_info"] = {"role": role}
    return resource


def environment_of(spec: pb.TaskSpec) -> dict[str, str]:
    """The shard's environment: the job's own variables, then the sharding context (as our agents give it)."""
    env = dict(spec.environment)
    env.update({
        "ELASTICJOB_JOB_NAME": spec.job_name,
        "ELASTICJOB_TASK_ID": spec.task_id,
        "ELASTICJOB_SHARDING_TOTAL_COUNT": str(spec.sharding_total_count),
        "ELASTICJOB_SHARDING_ITEM": str(spec.sharding_item),
        "ELASTICJOB_SHARDING_PARAMETER": spec.sharding_parameter,
        "ELASTICJOB_JOB_PARAMETER": spec.job_parameter,
        "ELASTICJOB_FIRING_ID": spec.firing_id,
    })
    if spec.job_type != "SCRIPT":
        env.update({
            "ELASTICJOB_JOB_TYPE": spec.job_type,
            "ELASTICJOB_JOB_CLASS": spec.job_class,
            "ELASTICJOB_STREAMING_PROCESS": "true" if spec.streaming_process else "false",
        })
    return env


def command_of(spec: pb.TaskSpec) -> str:
    """The shell command of the shard: a SCRIPT job's command; for a SIMPLE/DATAFLOW job our SDK runner
    (the Mesos agent's ``python3`` must have elasticjob installed)."""
    if spec.job_type == "SCRIPT":
        return spec.command
    return "python3 -m elasticjob.sdk.runner"


def task_info(spec: pb.TaskSpec, mesos_agent: str, role: str | None = None) -> Json:
    """A Mesos ``TaskInfo`` for ``spec`` on ``mesos_agent``: the command executor runs ``command_of(spec)``
    in the sandbox, where the Mesos fetcher has downloaded and unpacked the app (``appURL``, extract) and
    the job's artifacts first."""
    uris: list[Json] = []
    if spec.app_url:
        uris.append({"value": spec.app_url, "extract": True, "cache": bool(spec.app_cache_enable)})
    for artifact in spec.artifacts:
        uris.append({
            "value": artifact.uri,
            "extract": bool(artifact.extract and not artifact.executable),
            "executable": bool(artifact.executable),
            "cache": bool(artifact.cache),
        })
    variables = [{"name": k, "value": v} for k, v in sorted(environment_of(spec).items())]
    return {
        "name": f"{spec.job_name}-{spec.sharding_item}",
        "task_id": {"value": spec.task_id},
        "agent_id": {"value": mesos_agent},
        "command": {
            "shell": True,
            "value": command_of(spec),
            "uris": uris,
            "environment": {"variables": variables},
        },
        "resources": [
            _scalar("cpus", spec.resources.cpus, role),
            _scalar("mem", spec.resources.mem_mb, role),
        ],
    }


def not_launched(task_id: str, firing_id: str, why: str) -> StatusUpdate:
    """The status of a task we could not hand to Mesos: LOST and not started (queued again at once)."""
    return StatusUpdate(task_id, TaskState.LOST, message=f"not launched on Mesos: {why}", reason=NOT_STARTED,
                        firing_id=firing_id)
