from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Blob(_message.Message):
    __slots__ = ("hash", "data")
    HASH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    hash: str
    data: bytes
    def __init__(self, hash: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class BlobPiece(_message.Message):
    __slots__ = ("hash", "data", "total_size")
    HASH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    hash: str
    data: bytes
    total_size: int
    def __init__(self, hash: _Optional[str] = ..., data: _Optional[bytes] = ..., total_size: _Optional[int] = ...) -> None: ...

class BlobRef(_message.Message):
    __slots__ = ("hash", "size")
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    hash: str
    size: int
    def __init__(self, hash: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class BlobLocation(_message.Message):
    __slots__ = ("path", "size")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

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

class JobSpec(_message.Message):
    __slots__ = ("job_id", "name", "function_blob", "common_blob", "num_tasks", "chunk_size", "chunk_blobs", "priority", "has_seed", "seed", "continue_on_failure", "per_node", "packages", "timeout", "auto_cleanup", "objects_blob", "kernel", "inline_blobs", "single_result", "rng_kind", "console_output", "output_files", "max_parallel", "service", "chunk_sizes", "cores")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_BLOB_FIELD_NUMBER: _ClassVar[int]
    COMMON_BLOB_FIELD_NUMBER: _ClassVar[int]
    NUM_TASKS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BLOBS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    HAS_SEED_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    PER_NODE_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    AUTO_CLEANUP_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_BLOB_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    INLINE_BLOBS_FIELD_NUMBER: _ClassVar[int]
    SINGLE_RESULT_FIELD_NUMBER: _ClassVar[int]
    RNG_KIND_FIELD_NUMBER: _ClassVar[int]
    CONSOLE_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FILES_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZES_FIELD_NUMBER: _ClassVar[int]
    CORES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    name: str
    function_blob: str
    common_blob: str
    num_tasks: int
    chunk_size: int
    chunk_blobs: _containers.RepeatedScalarFieldContainer[str]
    priority: int
    has_seed: bool
    seed: int
    continue_on_failure: bool
    per_node: bool
    packages: _containers.RepeatedScalarFieldContainer[str]
    timeout: float
    auto_cleanup: bool
    objects_blob: str
    kernel: KernelCall
    inline_blobs: _containers.RepeatedCompositeFieldContainer[Blob]
    single_result: bool
    rng_kind: str
    console_output: bool
    output_files: _containers.RepeatedScalarFieldContainer[str]
    max_parallel: int
    service: str
    chunk_sizes: _containers.RepeatedScalarFieldContainer[int]
    cores: int
    def __init__(self, job_id: _Optional[str] = ..., name: _Optional[str] = ..., function_blob: _Optional[str] = ..., common_blob: _Optional[str] = ..., num_tasks: _Optional[int] = ..., chunk_size: _Optional[int] = ..., chunk_blobs: _Optional[_Iterable[str]] = ..., priority: _Optional[int] = ..., has_seed: _Optional[bool] = ..., seed: _Optional[int] = ..., continue_on_failure: _Optional[bool] = ..., per_node: _Optional[bool] = ..., packages: _Optional[_Iterable[str]] = ..., timeout: _Optional[float] = ..., auto_cleanup: _Optional[bool] = ..., objects_blob: _Optional[str] = ..., kernel: _Optional[_Union[KernelCall, _Mapping]] = ..., inline_blobs: _Optional[_Iterable[_Union[Blob, _Mapping]]] = ..., single_result: _Optional[bool] = ..., rng_kind: _Optional[str] = ..., console_output: _Optional[bool] = ..., output_files: _Optional[_Iterable[str]] = ..., max_parallel: _Optional[int] = ..., service: _Optional[str] = ..., chunk_sizes: _Optional[_Iterable[int]] = ..., cores: _Optional[int] = ...) -> None: ...

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

class JobInfo(_message.Message):
    __slots__ = ("job_id", "name", "state", "priority", "tasks_total", "tasks_done", "tasks_failed", "chunks_total", "chunks_done", "submitted_at", "started_at", "finished_at", "collected", "per_node", "error", "has_seed", "seed", "result_bytes", "single_result", "rng_kind", "service", "owner")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TASKS_DONE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FAILED_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DONE_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_FIELD_NUMBER: _ClassVar[int]
    PER_NODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    HAS_SEED_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    RESULT_BYTES_FIELD_NUMBER: _ClassVar[int]
    SINGLE_RESULT_FIELD_NUMBER: _ClassVar[int]
    RNG_KIND_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    name: str
    state: str
    priority: int
    tasks_total: int
    tasks_done: int
    tasks_failed: int
    chunks_total: int
    chunks_done: int
    submitted_at: float
    started_at: float
    finished_at: float
    collected: bool
    per_node: bool
    error: str
    has_seed: bool
    seed: int
    result_bytes: int
    single_result: bool
    rng_kind: str
    service: str
    owner: str
    def __init__(self, job_id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[str] = ..., priority: _Optional[int] = ..., tasks_total: _Optional[int] = ..., tasks_done: _Optional[int] = ..., tasks_failed: _Optional[int] = ..., chunks_total: _Optional[int] = ..., chunks_done: _Optional[int] = ..., submitted_at: _Optional[float] = ..., started_at: _Optional[float] = ..., finished_at: _Optional[float] = ..., collected: _Optional[bool] = ..., per_node: _Optional[bool] = ..., error: _Optional[str] = ..., has_seed: _Optional[bool] = ..., seed: _Optional[int] = ..., result_bytes: _Optional[int] = ..., single_result: _Optional[bool] = ..., rng_kind: _Optional[str] = ..., service: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("job_id", "chunk", "first_task", "num_tasks", "results", "results_blob", "errors", "worker", "outputs", "files", "results_json")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    FIRST_TASK_FIELD_NUMBER: _ClassVar[int]
    NUM_TASKS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_BLOB_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    RESULTS_JSON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    chunk: int
    first_task: int
    num_tasks: int
    results: bytes
    results_blob: str
    errors: _containers.RepeatedCompositeFieldContainer[TaskError]
    worker: str
    outputs: _containers.RepeatedCompositeFieldContainer[TaskOutput]
    files: _containers.RepeatedCompositeFieldContainer[TaskFile]
    results_json: str
    def __init__(self, job_id: _Optional[str] = ..., chunk: _Optional[int] = ..., first_task: _Optional[int] = ..., num_tasks: _Optional[int] = ..., results: _Optional[bytes] = ..., results_blob: _Optional[str] = ..., errors: _Optional[_Iterable[_Union[TaskError, _Mapping]]] = ..., worker: _Optional[str] = ..., outputs: _Optional[_Iterable[_Union[TaskOutput, _Mapping]]] = ..., files: _Optional[_Iterable[_Union[TaskFile, _Mapping]]] = ..., results_json: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("info", "chunk")
    INFO_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    info: JobInfo
    chunk: ChunkResult
    def __init__(self, info: _Optional[_Union[JobInfo, _Mapping]] = ..., chunk: _Optional[_Union[ChunkResult, _Mapping]] = ...) -> None: ...

class JobOutcome(_message.Message):
    __slots__ = ("info", "chunks", "complete", "error_code", "error")
    INFO_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    info: JobInfo
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkResult]
    complete: bool
    error_code: str
    error: str
    def __init__(self, info: _Optional[_Union[JobInfo, _Mapping]] = ..., chunks: _Optional[_Iterable[_Union[ChunkResult, _Mapping]]] = ..., complete: _Optional[bool] = ..., error_code: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("name", "version", "description", "runner_blob", "inputs", "outputs", "created_at", "api", "owner")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RUNNER_BLOB_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    API_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    description: str
    runner_blob: str
    inputs: _containers.RepeatedCompositeFieldContainer[ServiceField]
    outputs: _containers.RepeatedCompositeFieldContainer[ServiceField]
    created_at: float
    api: str
    owner: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., runner_blob: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[ServiceField, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[ServiceField, _Mapping]]] = ..., created_at: _Optional[float] = ..., api: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class ServiceRef(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ListServicesReply(_message.Message):
    __slots__ = ("services",)
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceInfo]
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceInfo, _Mapping]]] = ...) -> None: ...

class ConnectRequest(_message.Message):
    __slots__ = ("protocol_version", "client")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    client: str
    def __init__(self, protocol_version: _Optional[int] = ..., client: _Optional[str] = ...) -> None: ...

class ConnectReply(_message.Message):
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

class BlobFile(_message.Message):
    __slots__ = ("name", "hash")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    name: str
    hash: str
    def __init__(self, name: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("job_id", "results", "progress")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    results: bool
    progress: bool
    def __init__(self, job_id: _Optional[str] = ..., results: _Optional[bool] = ..., progress: _Optional[bool] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "since", "until", "limit", "service")
    STATE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    state: str
    since: float
    until: float
    limit: int
    service: str
    def __init__(self, state: _Optional[str] = ..., since: _Optional[float] = ..., until: _Optional[float] = ..., limit: _Optional[int] = ..., service: _Optional[str] = ...) -> None: ...

class ListJobsReply(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobInfo]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobInfo, _Mapping]]] = ...) -> None: ...

class ErrorsReply(_message.Message):
    __slots__ = ("errors",)
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[TaskError]
    def __init__(self, errors: _Optional[_Iterable[_Union[TaskError, _Mapping]]] = ...) -> None: ...

class LogsRequest(_message.Message):
    __slots__ = ("job_id", "all_tasks", "task")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ALL_TASKS_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    all_tasks: bool
    task: int
    def __init__(self, job_id: _Optional[str] = ..., all_tasks: _Optional[bool] = ..., task: _Optional[int] = ...) -> None: ...

class LogsReply(_message.Message):
    __slots__ = ("outputs",)
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    outputs: _containers.RepeatedCompositeFieldContainer[TaskOutput]
    def __init__(self, outputs: _Optional[_Iterable[_Union[TaskOutput, _Mapping]]] = ...) -> None: ...

class FilesReply(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[TaskFile]
    def __init__(self, files: _Optional[_Iterable[_Union[TaskFile, _Mapping]]] = ...) -> None: ...

class CancelReply(_message.Message):
    __slots__ = ("job", "cancelled")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    job: JobInfo
    cancelled: bool
    def __init__(self, job: _Optional[_Union[JobInfo, _Mapping]] = ..., cancelled: _Optional[bool] = ...) -> None: ...

class CleanupRequest(_message.Message):
    __slots__ = ("job_ids", "force")
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    force: bool
    def __init__(self, job_ids: _Optional[_Iterable[str]] = ..., force: _Optional[bool] = ...) -> None: ...

class CleanupReply(_message.Message):
    __slots__ = ("removed", "refused", "reason")
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    removed: _containers.RepeatedScalarFieldContainer[str]
    refused: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, removed: _Optional[_Iterable[str]] = ..., refused: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class BlobQuery(_message.Message):
    __slots__ = ("hashes",)
    HASHES_FIELD_NUMBER: _ClassVar[int]
    hashes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hashes: _Optional[_Iterable[str]] = ...) -> None: ...

class BlobQueryReply(_message.Message):
    __slots__ = ("missing",)
    MISSING_FIELD_NUMBER: _ClassVar[int]
    missing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, missing: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ("name", "host", "cores", "busy", "state", "last_heartbeat", "registered_at", "pid", "chunks_done", "blob_bytes_sent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    CORES_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_DONE_FIELD_NUMBER: _ClassVar[int]
    BLOB_BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    host: str
    cores: int
    busy: int
    state: str
    last_heartbeat: float
    registered_at: float
    pid: int
    chunks_done: int
    blob_bytes_sent: int
    def __init__(self, name: _Optional[str] = ..., host: _Optional[str] = ..., cores: _Optional[int] = ..., busy: _Optional[int] = ..., state: _Optional[str] = ..., last_heartbeat: _Optional[float] = ..., registered_at: _Optional[float] = ..., pid: _Optional[int] = ..., chunks_done: _Optional[int] = ..., blob_bytes_sent: _Optional[int] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UsageReply(_message.Message):
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

class ListWorkersReply(_message.Message):
    __slots__ = ("workers",)
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[WorkerInfo]
    def __init__(self, workers: _Optional[_Iterable[_Union[WorkerInfo, _Mapping]]] = ...) -> None: ...

class RegisterRequest(_message.Message):
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

class RegisterReply(_message.Message):
    __slots__ = ("name", "heartbeat_interval", "lease_timeout", "session", "blob_inbox")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    LEASE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    BLOB_INBOX_FIELD_NUMBER: _ClassVar[int]
    name: str
    heartbeat_interval: float
    lease_timeout: float
    session: str
    blob_inbox: str
    def __init__(self, name: _Optional[str] = ..., heartbeat_interval: _Optional[float] = ..., lease_timeout: _Optional[float] = ..., session: _Optional[str] = ..., blob_inbox: _Optional[str] = ...) -> None: ...

class ChunkAssignment(_message.Message):
    __slots__ = ("job_id", "chunk", "lease", "first_task", "num_tasks", "function_blob", "common_blob", "chunk_blob", "objects_blob", "has_seed", "seed", "packages", "timeout", "blobs", "kernel", "stop_on_failure", "rng_kind", "console_output", "output_files", "cores")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    FIRST_TASK_FIELD_NUMBER: _ClassVar[int]
    NUM_TASKS_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_BLOB_FIELD_NUMBER: _ClassVar[int]
    COMMON_BLOB_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BLOB_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_BLOB_FIELD_NUMBER: _ClassVar[int]
    HAS_SEED_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    STOP_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    RNG_KIND_FIELD_NUMBER: _ClassVar[int]
    CONSOLE_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FILES_FIELD_NUMBER: _ClassVar[int]
    CORES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    chunk: int
    lease: int
    first_task: int
    num_tasks: int
    function_blob: str
    common_blob: str
    chunk_blob: str
    objects_blob: str
    has_seed: bool
    seed: int
    packages: _containers.RepeatedScalarFieldContainer[str]
    timeout: float
    blobs: _containers.RepeatedCompositeFieldContainer[Blob]
    kernel: KernelCall
    stop_on_failure: bool
    rng_kind: str
    console_output: bool
    output_files: _containers.RepeatedScalarFieldContainer[str]
    cores: int
    def __init__(self, job_id: _Optional[str] = ..., chunk: _Optional[int] = ..., lease: _Optional[int] = ..., first_task: _Optional[int] = ..., num_tasks: _Optional[int] = ..., function_blob: _Optional[str] = ..., common_blob: _Optional[str] = ..., chunk_blob: _Optional[str] = ..., objects_blob: _Optional[str] = ..., has_seed: _Optional[bool] = ..., seed: _Optional[int] = ..., packages: _Optional[_Iterable[str]] = ..., timeout: _Optional[float] = ..., blobs: _Optional[_Iterable[_Union[Blob, _Mapping]]] = ..., kernel: _Optional[_Union[KernelCall, _Mapping]] = ..., stop_on_failure: _Optional[bool] = ..., rng_kind: _Optional[str] = ..., console_output: _Optional[bool] = ..., output_files: _Optional[_Iterable[str]] = ..., cores: _Optional[int] = ...) -> None: ...

class CancelChunks(_message.Message):
    __slots__ = ("leases",)
    LEASES_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, leases: _Optional[_Iterable[int]] = ...) -> None: ...

class HeadMessage(_message.Message):
    __slots__ = ("assign", "cancel")
    ASSIGN_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    assign: ChunkAssignment
    cancel: CancelChunks
    def __init__(self, assign: _Optional[_Union[ChunkAssignment, _Mapping]] = ..., cancel: _Optional[_Union[CancelChunks, _Mapping]] = ...) -> None: ...

class ChunkDone(_message.Message):
    __slots__ = ("lease", "result")
    LEASE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    lease: int
    result: ChunkResult
    def __init__(self, lease: _Optional[int] = ..., result: _Optional[_Union[ChunkResult, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("busy",)
    BUSY_FIELD_NUMBER: _ClassVar[int]
    busy: int
    def __init__(self, busy: _Optional[int] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("name", "running_leases")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUNNING_LEASES_FIELD_NUMBER: _ClassVar[int]
    name: str
    running_leases: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., running_leases: _Optional[_Iterable[int]] = ...) -> None: ...

class WorkerMessage(_message.Message):
    __slots__ = ("hello", "heartbeat", "done")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    heartbeat: Heartbeat
    done: ChunkDone
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., done: _Optional[_Union[ChunkDone, _Mapping]] = ...) -> None: ...
