from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    STAGING: _ClassVar[TaskState]
    RUNNING: _ClassVar[TaskState]
    FINISHED: _ClassVar[TaskState]
    FAILED: _ClassVar[TaskState]
    KILLED: _ClassVar[TaskState]
    LOST: _ClassVar[TaskState]
TASK_STATE_UNSPECIFIED: TaskState
STAGING: TaskState
RUNNING: TaskState
FINISHED: TaskState
FAILED: TaskState
KILLED: TaskState
LOST: TaskState

class Resources(_message.Message):
    __slots__ = ("cpus", "mem_mb")
    CPUS_FIELD_NUMBER: _ClassVar[int]
    MEM_MB_FIELD_NUMBER: _ClassVar[int]
    cpus: float
    mem_mb: float
    def __init__(self, cpus: _Optional[float] = ..., mem_mb: _Optional[float] = ...) -> None: ...

class TaskStatus(_message.Message):
    __slots__ = ("task_id", "state", "exit_code", "has_exit_code", "message", "reason", "timestamp_ms", "started_ms", "run", "firing_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    HAS_EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    STARTED_MS_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    FIRING_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    state: TaskState
    exit_code: int
    has_exit_code: bool
    message: str
    reason: str
    timestamp_ms: int
    started_ms: int
    run: int
    firing_id: str
    def __init__(self, task_id: _Optional[str] = ..., state: _Optional[_Union[TaskState, str]] = ..., exit_code: _Optional[int] = ..., has_exit_code: _Optional[bool] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., started_ms: _Optional[int] = ..., run: _Optional[int] = ..., firing_id: _Optional[str] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ("agent_id", "hostname", "total", "attributes", "tasks", "version", "incarnation")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    hostname: str
    total: Resources
    attributes: _containers.ScalarMap[str, str]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskStatus]
    version: str
    incarnation: str
    def __init__(self, agent_id: _Optional[str] = ..., hostname: _Optional[str] = ..., total: _Optional[_Union[Resources, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ..., tasks: _Optional[_Iterable[_Union[TaskStatus, _Mapping]]] = ..., version: _Optional[str] = ..., incarnation: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("running_task_ids",)
    RUNNING_TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    running_task_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, running_task_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("number", "time_ms", "data", "truncated")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    number: int
    time_ms: int
    data: bytes
    truncated: bool
    def __init__(self, number: _Optional[int] = ..., time_ms: _Optional[int] = ..., data: _Optional[bytes] = ..., truncated: _Optional[bool] = ...) -> None: ...

class LogChunk(_message.Message):
    __slots__ = ("request_id", "data", "offset", "next_offset", "size", "eof", "error", "lines", "first_line", "next_line", "running", "gone_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    FIRST_LINE_FIELD_NUMBER: _ClassVar[int]
    NEXT_LINE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    GONE_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    data: bytes
    offset: int
    next_offset: int
    size: int
    eof: bool
    error: str
    lines: _containers.RepeatedCompositeFieldContainer[LogLine]
    first_line: int
    next_line: int
    running: bool
    gone_ms: int
    def __init__(self, request_id: _Optional[str] = ..., data: _Optional[bytes] = ..., offset: _Optional[int] = ..., next_offset: _Optional[int] = ..., size: _Optional[int] = ..., eof: _Optional[bool] = ..., error: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[LogLine, _Mapping]]] = ..., first_line: _Optional[int] = ..., next_line: _Optional[int] = ..., running: _Optional[bool] = ..., gone_ms: _Optional[int] = ...) -> None: ...

class StatusBatch(_message.Message):
    __slots__ = ("statuses",)
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedCompositeFieldContainer[TaskStatus]
    def __init__(self, statuses: _Optional[_Iterable[_Union[TaskStatus, _Mapping]]] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("register", "heartbeat", "status", "log_chunk", "statuses")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LOG_CHUNK_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    register: Register
    heartbeat: Heartbeat
    status: TaskStatus
    log_chunk: LogChunk
    statuses: StatusBatch
    def __init__(self, register: _Optional[_Union[Register, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., status: _Optional[_Union[TaskStatus, _Mapping]] = ..., log_chunk: _Optional[_Union[LogChunk, _Mapping]] = ..., statuses: _Optional[_Union[StatusBatch, _Mapping]] = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("uri", "extract", "executable", "cache")
    URI_FIELD_NUMBER: _ClassVar[int]
    EXTRACT_FIELD_NUMBER: _ClassVar[int]
    EXECUTABLE_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    uri: str
    extract: bool
    executable: bool
    cache: bool
    def __init__(self, uri: _Optional[str] = ..., extract: _Optional[bool] = ..., executable: _Optional[bool] = ..., cache: _Optional[bool] = ...) -> None: ...

class TaskSpec(_message.Message):
    __slots__ = ("task_id", "job_name", "firing_id", "sharding_item", "sharding_total_count", "sharding_parameter", "job_parameter", "app_name", "app_url", "app_cache_enable", "job_type", "command", "job_class", "streaming_process", "environment", "resources", "execution_type", "cron", "time_zone", "app_version", "start_at_ms", "kill_grace_seconds", "artifacts")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    FIRING_ID_FIELD_NUMBER: _ClassVar[int]
    SHARDING_ITEM_FIELD_NUMBER: _ClassVar[int]
    SHARDING_TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARDING_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    JOB_PARAMETER_FIELD_NUMBER: _ClassVar[int]
    APP_NAME_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    APP_CACHE_ENABLE_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    JOB_CLASS_FIELD_NUMBER: _ClassVar[int]
    STREAMING_PROCESS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    APP_VERSION_FIELD_NUMBER: _ClassVar[int]
    START_AT_MS_FIELD_NUMBER: _ClassVar[int]
    KILL_GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    job_name: str
    firing_id: str
    sharding_item: int
    sharding_total_count: int
    sharding_parameter: str
    job_parameter: str
    app_name: str
    app_url: str
    app_cache_enable: bool
    job_type: str
    command: str
    job_class: str
    streaming_process: bool
    environment: _containers.ScalarMap[str, str]
    resources: Resources
    execution_type: str
    cron: str
    time_zone: str
    app_version: str
    start_at_ms: int
    kill_grace_seconds: float
    artifacts: _containers.RepeatedCompositeFieldContainer[Artifact]
    def __init__(self, task_id: _Optional[str] = ..., job_name: _Optional[str] = ..., firing_id: _Optional[str] = ..., sharding_item: _Optional[int] = ..., sharding_total_count: _Optional[int] = ..., sharding_parameter: _Optional[str] = ..., job_parameter: _Optional[str] = ..., app_name: _Optional[str] = ..., app_url: _Optional[str] = ..., app_cache_enable: _Optional[bool] = ..., job_type: _Optional[str] = ..., command: _Optional[str] = ..., job_class: _Optional[str] = ..., streaming_process: _Optional[bool] = ..., environment: _Optional[_Mapping[str, str]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., execution_type: _Optional[str] = ..., cron: _Optional[str] = ..., time_zone: _Optional[str] = ..., app_version: _Optional[str] = ..., start_at_ms: _Optional[int] = ..., kill_grace_seconds: _Optional[float] = ..., artifacts: _Optional[_Iterable[_Union[Artifact, _Mapping]]] = ...) -> None: ...

class Launch(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskSpec]
    def __init__(self, tasks: _Optional[_Iterable[_Union[TaskSpec, _Mapping]]] = ...) -> None: ...

class Kill(_message.Message):
    __slots__ = ("task_id", "reason", "grace_seconds")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    reason: str
    grace_seconds: float
    def __init__(self, task_id: _Optional[str] = ..., reason: _Optional[str] = ..., grace_seconds: _Optional[float] = ...) -> None: ...

class Registered(_message.Message):
    __slots__ = ("leader",)
    LEADER_FIELD_NUMBER: _ClassVar[int]
    leader: str
    def __init__(self, leader: _Optional[str] = ...) -> None: ...

class Acknowledge(_message.Message):
    __slots__ = ("task_ids",)
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReadLog(_message.Message):
    __slots__ = ("request_id", "task_id", "stream", "offset", "length", "lines", "from_line", "size", "start_ms", "end_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    FROM_LINE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    task_id: str
    stream: str
    offset: int
    length: int
    lines: bool
    from_line: int
    size: int
    start_ms: int
    end_ms: int
    def __init__(self, request_id: _Optional[str] = ..., task_id: _Optional[str] = ..., stream: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., lines: _Optional[bool] = ..., from_line: _Optional[int] = ..., size: _Optional[int] = ..., start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ...) -> None: ...

class MasterMessage(_message.Message):
    __slots__ = ("registered", "launch", "kill", "ack", "read_log")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_FIELD_NUMBER: _ClassVar[int]
    KILL_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    READ_LOG_FIELD_NUMBER: _ClassVar[int]
    registered: Registered
    launch: Launch
    kill: Kill
    ack: Acknowledge
    read_log: ReadLog
    def __init__(self, registered: _Optional[_Union[Registered, _Mapping]] = ..., launch: _Optional[_Union[Launch, _Mapping]] = ..., kill: _Optional[_Union[Kill, _Mapping]] = ..., ack: _Optional[_Union[Acknowledge, _Mapping]] = ..., read_log: _Optional[_Union[ReadLog, _Mapping]] = ...) -> None: ...
