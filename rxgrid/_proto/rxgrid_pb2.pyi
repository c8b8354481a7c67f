import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_FINISHED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class WorkerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKER_STATE_UNSPECIFIED: _ClassVar[WorkerState]
    WORKER_STATE_CONNECTED: _ClassVar[WorkerState]
    WORKER_STATE_REGISTERING: _ClassVar[WorkerState]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_FINISHED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
WORKER_STATE_UNSPECIFIED: WorkerState
WORKER_STATE_CONNECTED: WorkerState
WORKER_STATE_REGISTERING: WorkerState

class Blob(_message.Message):
    __slots__ = ("hash", "data")
    HASH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    hash: str
    data: bytes
    def __init__(self, hash: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class TaskError(_message.Message):
    __slots__ = ("task", "type", "message", "traceback", "worker", "exception")
    TASK_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_FIELD_NUMBER: _ClassVar[int]
    task: int
    type: str
    message: str
    traceback: str
    worker: str
    exception: bytes
    def __init__(self, task: _Optional[int] = ..., type: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., worker: _Optional[str] = ..., exception: _Optional[bytes] = ...) -> None: ...

class KernelCall(_message.Message):
    __slots__ = ("name", "params")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    params: _containers.ScalarMap[str, float]
    def __init__(self, name: _Optional[str] = ..., params: _Optional[_Mapping[str, float]] = ...) -> None: ...

class TaskRecipe(_message.Message):
    __slots__ = ("function_blob", "kernel", "common_blob", "objects_blob", "seed", "rng_kind", "packages", "timeout", "continue_on_failure", "console_output", "output_files", "retries")
    FUNCTION_BLOB_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    COMMON_BLOB_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_BLOB_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    RNG_KIND_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    CONSOLE_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FILES_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    function_blob: str
    kernel: KernelCall
    common_blob: str
    objects_blob: str
    seed: int
    rng_kind: str
    packages: _containers.RepeatedScalarFieldContainer[str]
    timeout: _duration_pb2.Duration
    continue_on_failure: bool
    console_output: bool
    output_files: _containers.RepeatedScalarFieldContainer[str]
    retries: int
    def __init__(self, function_blob: _Optional[str] = ..., kernel: _Optional[_Union[KernelCall, _Mapping]] = ..., common_blob: _Optional[str] = ..., objects_blob: _Optional[str] = ..., seed: _Optional[int] = ..., rng_kind: _Optional[str] = ..., packages: _Optional[_Iterable[str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., continue_on_failure: _Optional[bool] = ..., console_output: _Optional[bool] = ..., output_files: _Optional[_Iterable[str]] = ..., retries: _Optional[int] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("job_id", "name", "recipe", "num_tasks", "chunk_size", "chunk_sizes", "chunk_blobs", "priority", "per_node", "auto_cleanup", "inline_blobs", "single_result", "max_parallel", "service")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    NUM_TASKS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BLOBS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PER_NODE_FIELD_NUMBER: _ClassVar[int]
    AUTO_CLEANUP_FIELD_NUMBER: _ClassVar[int]
    INLINE_BLOBS_FIELD_NUMBER: _ClassVar[int]
    SINGLE_RESULT_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    name: str
    recipe: TaskRecipe
    num_tasks: int
    chunk_size: int
    chunk_sizes: _containers.RepeatedScalarFieldContainer[int]
    chunk_blobs: _containers.RepeatedScalarFieldContainer[str]
    priority: int
    per_node: bool
    auto_cleanup: bool
    inline_blobs: _containers.RepeatedCompositeFieldContainer[Blob]
    single_result: bool
    max_parallel: int
    service: str
    def __init__(self, job_id: _Optional[str] = ..., name: _Optional[str] = ..., recipe: _Optional[_Union[TaskRecipe, _Mapping]] = ..., num_tasks: _Optional[int] = ..., chunk_size: _Optional[int] = ..., chunk_sizes: _Optional[_Iterable[int]] = ..., chunk_blobs: _Optional[_Iterable[str]] = ..., priority: _Optional[int] = ..., per_node: _Optional[bool] = ..., auto_cleanup: _Optional[bool] = ..., inline_blobs: _Optional[_Iterable[_Union[Blob, _Mapping]]] = ..., single_result: _Optional[bool] = ..., max_parallel: _Optional[int] = ..., service: _Optional[str] = ...) -> None: ...

class JobInfo(_message.Message):
    __slots__ = ("job_id", "name", "state", "priority", "tasks_total", "tasks_done", "tasks_failed", "chunks_total", "chunks_done", "submit_time", "start_time", "end_time", "collected", "per_node", "error", "result_bytes", "single_result", "service", "owner", "recipe")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TASKS_DONE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FAILED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DONE_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_FIELD_NUMBER: _ClassVar[int]
    PER_NODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULT_BYTES_FIELD_NUMBER: _ClassVar[int]
    SINGLE_RESULT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    name: str
    state: JobState
    priority: int
    tasks_total: int
    tasks_done: int
    tasks_failed: int
    chunks_total: int
    chunks_done: int
    submit_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    collected: bool
    per_node: bool
    error: str
    result_bytes: int
    single_result: bool
    service: str
    owner: str
    recipe: TaskRecipe
    def __init__(self, job_id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., priority: _Optional[int] = ..., tasks_total: _Optional[int] = ..., tasks_done: _Optional[int] = ..., tasks_failed: _Optional[int] = ..., chunks_total: _Optional[int] = ..., chunks_done: _Optional[int] = ..., submit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., collected: _Optional[bool] = ..., per_node: _Optional[bool] = ..., error: _Optional[str] = ..., result_bytes: _Optional[int] = ..., single_result: _Optional[bool] = ..., service: _Optional[str] = ..., owner: _Optional[str] = ..., recipe: _Optional[_Union[TaskRecipe, _Mapping]] = ...) -> None: ...

class TaskOutput(_message.Message):
    __slots__ = ("task", "stdout", "stderr")
    TASK_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    task: int
    stdout: str
    stderr: str
    def __init__(self, task: _Optional[int] = ..., stdout: _Optional[str] = ..., stderr: _Optional[str] = ...) -> None: ...

class TaskFile(_message.Message):
    __slots__ = ("task", "path", "blob", "size")
    TASK_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    task: int
    path: str
    blob: str
    size: int
    def __init__(self, task: _Optional[int] = ..., path: _Optional[str] = ..., blob: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class ChunkResult(_message.Message):
    __slots__ = ("job_id", "chunk", "first_task", "num_tasks", "results", "results_blob", "results_json", "errors", "worker", "outputs", "files")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    FIRST_TASK_FIELD_NUMBER: _ClassVar[int]
    NUM_TASKS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_BLOB_FIELD_NUMBER: _ClassVar[int]
    RESULTS_JSON_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    chunk: int
    first_task: int
    num_tasks: int
    results: bytes
    results_blob: str
    results_json: str
    errors: _containers.RepeatedCompositeFieldContainer[TaskError]
    worker: str
    outputs: _containers.RepeatedCompositeFieldContainer[TaskOutput]
    files: _containers.RepeatedCompositeFieldContainer[TaskFile]
    def __init__(self, job_id: _Optional[str] = ..., chunk: _Optional[int] = ..., first_task: _Optional[int] = ..., num_tasks: _Optional[int] = ..., results: _Optional[bytes] = ..., results_blob: _Optional[str] = ..., results_json: _Optional[str] = ..., errors: _Optional[_Iterable[_Union[TaskError, _Mapping]]] = ..., worker: _Optional[str] = ..., outputs: _Optional[_Iterable[_Union[TaskOutput, _Mapping]]] = ..., files: _Optional[_Iterable[_Union[TaskFile, _Mapping]]] = ...) -> None: ...

class JobOutcome(_message.Message):
    __slots__ = ("info", "chunks", "complete")
    INFO_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    info: JobInfo
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkResult]
    complete: bool
    def __init__(self, info: _Optional[_Union[JobInfo, _Mapping]] = ..., chunks: _Optional[_Iterable[_Union[ChunkResult, _Mapping]]] = ..., complete: _Optional[bool] = ...) -> None: ...

class Refusal(_message.Message):
    __slots__ = ("code", "message", "reason", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    reason: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ServiceField(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class ServiceSpec(_message.Message):
    __slots__ = ("name", "version", "description", "runner_blob", "inputs", "outputs", "inline_blobs")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RUNNER_BLOB_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    INLINE_BLOBS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    description: str
    runner_blob: str
    inputs: _containers.RepeatedCompositeFieldContainer[ServiceField]
    outputs: _containers.RepeatedCompositeFieldContainer[ServiceField]
    inline_blobs: _containers.RepeatedCompositeFieldContainer[Blob]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., runner_blob: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[ServiceField, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[ServiceField, _Mapping]]] = ..., inline_blobs: _Optional[_Iterable[_Union[Blob, _Mapping]]] = ...) -> None: ...

class ServiceInfo(_message.Message):
    __slots__ = ("name", "version", "description", "runner_blob", "inputs", "outputs", "create_time", "api", "owner")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RUNNER_BLOB_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    API_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    description: str
    runner_blob: str
    inputs: _containers.RepeatedCompositeFieldContainer[ServiceField]
    outputs: _containers.RepeatedCompositeFieldContainer[ServiceField]
    create_time: _timestamp_pb2.Timestamp
    api: str
    owner: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., runner_blob: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[ServiceField, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[ServiceField, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., api: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ("name", "host", "cores", "busy", "state", "last_heartbeat_time", "register_time", "pid", "chunks_done", "blob_bytes_sent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    CORES_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    REGISTER_TIME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DONE_FIELD_NUMBER: _ClassVar[int]
    BLOB_BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    host: str
    cores: int
    busy: int
    state: WorkerState
    last_heartbeat_time: _timestamp_pb2.Timestamp
    register_time: _timestamp_pb2.Timestamp
    pid: int
    chunks_done: int
    blob_bytes_sent: int
    def __init__(self, name: _Optional[str] = ..., host: _Optional[str] = ..., cores: _Optional[int] = ..., busy: _Optional[int] = ..., state: _Optional[_Union[WorkerState, str]] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., register_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pid: _Optional[int] = ..., chunks_done: _Optional[int] = ..., blob_bytes_sent: _Optional[int] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ("protocol_version", "client")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    client: str
    def __init__(self, protocol_version: _Optional[int] = ..., client: _Optional[str] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("protocol_version", "head_version", "total_slots", "workers", "max_message_bytes", "blob_inbox")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    HEAD_VERSION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SLOTS_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOB_INBOX_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    head_version: str
    total_slots: int
    workers: int
    max_message_bytes: int
    blob_inbox: str
    def __init__(self, protocol_version: _Optional[int] = ..., head_version: _Optional[str] = ..., total_slots: _Optional[int] = ..., workers: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., blob_inbox: _Optional[str] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: JobSpec
    def __init__(self, job: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: JobInfo
    def __init__(self, job: _Optional[_Union[JobInfo, _Mapping]] = ...) -> None: ...

class RunJobRequest(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: JobSpec
    def __init__(self, job: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class RunJobResponse(_message.Message):
    __slots__ = ("outcome",)
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    outcome: JobOutcome
    def __init__(self, outcome: _Optional[_Union[JobOutcome, _Mapping]] = ...) -> None: ...

class ExecJobsRequest(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: JobSpec
    def __init__(self, job: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class ExecJobsResponse(_message.Message):
    __slots__ = ("outcome", "refusal")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_FIELD_NUMBER: _ClassVar[int]
    outcome: JobOutcome
    refusal: Refusal
    def __init__(self, outcome: _Optional[_Union[JobOutcome, _Mapping]] = ..., refusal: _Optional[_Union[Refusal, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: JobInfo
    def __init__(self, job: _Optional[_Union[JobInfo, _Mapping]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id", "results", "progress")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    results: bool
    progress: bool
    def __init__(self, job_id: _Optional[str] = ..., results: _Optional[bool] = ..., progress: _Optional[bool] = ...) -> None: ...

class WatchJobResponse(_message.Message):
    __slots__ = ("info", "chunk")
    INFO_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    info: JobInfo
    chunk: ChunkResult
    def __init__(self, info: _Optional[_Union[JobInfo, _Mapping]] = ..., chunk: _Optional[_Union[ChunkResult, _Mapping]] = ...) -> None: ...

class GetResultsRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetResultsResponse(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: ChunkResult
    def __init__(self, chunk: _Optional[_Union[ChunkResult, _Mapping]] = ...) -> None: ...

class GetErrorsRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetErrorsResponse(_message.Message):
    __slots__ = ("errors",)
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[TaskError]
    def __init__(self, errors: _Optional[_Iterable[_Union[TaskError, _Mapping]]] = ...) -> None: ...

class GetLogsRequest(_message.Message):
    __slots__ = ("job_id", "task")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    task: int
    def __init__(self, job_id: _Optional[str] = ..., task: _Optional[int] = ...) -> None: ...

class GetLogsResponse(_message.Message):
    __slots__ = ("outputs",)
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    outputs: _containers.RepeatedCompositeFieldContainer[TaskOutput]
    def __init__(self, outputs: _Optional[_Iterable[_Union[TaskOutput, _Mapping]]] = ...) -> None: ...

class ListFilesRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListFilesResponse(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[TaskFile]
    def __init__(self, files: _Optional[_Iterable[_Union[TaskFile, _Mapping]]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job", "cancelled")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    job: JobInfo
    cancelled: bool
    def __init__(self, job: _Optional[_Union[JobInfo, _Mapping]] = ..., cancelled: _Optional[bool] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "since_time", "until_time", "limit", "service")
    STATE_FIELD_NUMBER: _ClassVar[int]
    SINCE_TIME_FIELD_NUMBER: _ClassVar[int]
    UNTIL_TIME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    since_time: _timestamp_pb2.Timestamp
    until_time: _timestamp_pb2.Timestamp
    limit: int
    service: str
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., since_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., service: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobInfo]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobInfo, _Mapping]]] = ...) -> None: ...

class CleanupJobsRequest(_message.Message):
    __slots__ = ("job_ids", "force")
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    force: bool
    def __init__(self, job_ids: _Optional[_Iterable[str]] = ..., force: _Optional[bool] = ...) -> None: ...

class CleanupJobsResponse(_message.Message):
    __slots__ = ("removed", "refused", "reason")
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    removed: _containers.RepeatedScalarFieldContainer[str]
    refused: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, removed: _Optional[_Iterable[str]] = ..., refused: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ("workers",)
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[WorkerInfo]
    def __init__(self, workers: _Optional[_Iterable[_Union[WorkerInfo, _Mapping]]] = ...) -> None: ...

class GetDiskUsageRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDiskUsageResponse(_message.Message):
    __slots__ = ("state_dir", "database_bytes", "blob_bytes", "blobs", "jobs_by_state", "result_bytes")
    class JobsByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STATE_DIR_FIELD_NUMBER: _ClassVar[int]
    DATABASE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOB_BYTES_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    JOBS_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    RESULT_BYTES_FIELD_NUMBER: _ClassVar[int]
    state_dir: str
    database_bytes: int
    blob_bytes: int
    blobs: int
    jobs_by_state: _containers.ScalarMap[str, int]
    result_bytes: int
    def __init__(self, state_dir: _Optional[str] = ..., database_bytes: _Optional[int] = ..., blob_bytes: _Optional[int] = ..., blobs: _Optional[int] = ..., jobs_by_state: _Optional[_Mapping[str, int]] = ..., result_bytes: _Optional[int] = ...) -> None: ...

class PublishServiceRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: ServiceSpec
    def __init__(self, service: _Optional[_Union[ServiceSpec, _Mapping]] = ...) -> None: ...

class PublishServiceResponse(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: ServiceInfo
    def __init__(self, service: _Optional[_Union[ServiceInfo, _Mapping]] = ...) -> None: ...

class GetServiceRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class GetServiceResponse(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: ServiceInfo
    def __init__(self, service: _Optional[_Union[ServiceInfo, _Mapping]] = ...) -> None: ...

class ListServicesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListServicesResponse(_message.Message):
    __slots__ = ("services",)
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceInfo]
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceInfo, _Mapping]]] = ...) -> None: ...

class DeleteServiceRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class DeleteServiceResponse(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: ServiceInfo
    def __init__(self, service: _Optional[_Union[ServiceInfo, _Mapping]] = ...) -> None: ...

class PutBlobRequest(_message.Message):
    __slots__ = ("hash", "data", "total_size")
    HASH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    hash: str
    data: bytes
    total_size: int
    def __init__(self, hash: _Optional[str] = ..., data: _Optional[bytes] = ..., total_size: _Optional[int] = ...) -> None: ...

class PutBlobResponse(_message.Message):
    __slots__ = ("hash", "size")
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    hash: str
    size: int
    def __init__(self, hash: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class GetBlobRequest(_message.Message):
    __slots__ = ("hash",)
    HASH_FIELD_NUMBER: _ClassVar[int]
    hash: str
    def __init__(self, hash: _Optional[str] = ...) -> None: ...

class GetBlobResponse(_message.Message):
    __slots__ = ("hash", "data", "total_size")
    HASH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    hash: str
    data: bytes
    total_size: int
    def __init__(self, hash: _Optional[str] = ..., data: _Optional[bytes] = ..., total_size: _Optional[int] = ...) -> None: ...

class PutBlobFileRequest(_message.Message):
    __slots__ = ("name", "hash")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    name: str
    hash: str
    def __init__(self, name: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class PutBlobFileResponse(_message.Message):
    __slots__ = ("hash", "size")
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    hash: str
    size: int
    def __init__(self, hash: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class LocateBlobRequest(_message.Message):
    __slots__ = ("hash",)
    HASH_FIELD_NUMBER: _ClassVar[int]
    hash: str
    def __init__(self, hash: _Optional[str] = ...) -> None: ...

class LocateBlobResponse(_message.Message):
    __slots__ = ("path", "size")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class FindMissingBlobsRequest(_message.Message):
    __slots__ = ("hashes",)
    HASHES_FIELD_NUMBER: _ClassVar[int]
    hashes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hashes: _Optional[_Iterable[str]] = ...) -> None: ...

class FindMissingBlobsResponse(_message.Message):
    __slots__ = ("missing",)
    MISSING_FIELD_NUMBER: _ClassVar[int]
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, missing: _Optional[_Iterable[str]] = ...) -> None: ...

class RegisterWorkerRequest(_message.Message):
    __slots__ = ("protocol_version", "name", "host", "cores", "pid")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    CORES_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    name: str
    host: str
    cores: int
    pid: int
    def __init__(self, protocol_version: _Optional[int] = ..., name: _Optional[str] = ..., host: _Optional[str] = ..., cores: _Optional[int] = ..., pid: _Optional[int] = ...) -> None: ...

class RegisterWorkerResponse(_message.Message):
    __slots__ = ("name", "heartbeat_interval", "lease_timeout", "session", "blob_inbox")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    LEASE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    BLOB_INBOX_FIELD_NUMBER: _ClassVar[int]
    name: str
    heartbeat_interval: _duration_pb2.Duration
    lease_timeout: _duration_pb2.Duration
    session: str
    blob_inbox: str
    def __init__(self, name: _Optional[str] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., lease_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., session: _Optional[str] = ..., blob_inbox: _Optional[str] = ...) -> None: ...

class ChunkAssignment(_message.Message):
    __slots__ = ("job_id", "chunk", "lease", "first_task", "num_tasks", "recipe", "chunk_blob", "blobs")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    FIRST_TASK_FIELD_NUMBER: _ClassVar[int]
    NUM_TASKS_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BLOB_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    chunk: int
    lease: int
    first_task: int
    num_tasks: int
    recipe: TaskRecipe
    chunk_blob: str
    blobs: _containers.RepeatedCompositeFieldContainer[Blob]
    def __init__(self, job_id: _Optional[str] = ..., chunk: _Optional[int] = ..., lease: _Optional[int] = ..., first_task: _Optional[int] = ..., num_tasks: _Optional[int] = ..., recipe: _Optional[_Union[TaskRecipe, _Mapping]] = ..., chunk_blob: _Optional[str] = ..., blobs: _Optional[_Iterable[_Union[Blob, _Mapping]]] = ...) -> None: ...

class CancelChunks(_message.Message):
    __slots__ = ("leases",)
    LEASES_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, leases: _Optional[_Iterable[int]] = ...) -> None: ...

class ChunkDone(_message.Message):
    __slots__ = ("lease", "result")
    LEASE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    lease: int
    result: ChunkResult
    def __init__(self, lease: _Optional[int] = ..., result: _Optional[_Union[ChunkResult, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunSessionRequest(_message.Message):
    __slots__ = ("heartbeat", "done")
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    heartbeat: Heartbeat
    done: ChunkDone
    def __init__(self, heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., done: _Optional[_Union[ChunkDone, _Mapping]] = ...) -> None: ...

class RunSessionResponse(_message.Message):
    __slots__ = ("assign", "cancel")
    ASSIGN_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    assign: ChunkAssignment
    cancel: CancelChunks
    def __init__(self, assign: _Optional[_Union[ChunkAssignment, _Mapping]] = ..., cancel: _Optional[_Union[CancelChunks, _Mapping]] = ...) -> None: ...
