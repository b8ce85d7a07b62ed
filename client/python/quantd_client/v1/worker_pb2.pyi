from quantd_client.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Device(_message.Message):
    __slots__ = ("name", "model", "memory_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    memory_bytes: int
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., memory_bytes: _Optional[int] = ...) -> None: ...

class WorkerCapabilities(_message.Message):
    __slots__ = ("devices", "host_memory_bytes", "engine_version", "methods", "max_concurrent_jobs")
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    HOST_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    ENGINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_JOBS_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    host_memory_bytes: int
    engine_version: str
    methods: _containers.RepeatedScalarFieldContainer[str]
    max_concurrent_jobs: int
    def __init__(self, devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., host_memory_bytes: _Optional[int] = ..., engine_version: _Optional[str] = ..., methods: _Optional[_Iterable[str]] = ..., max_concurrent_jobs: _Optional[int] = ...) -> None: ...

class RegisterWorkerRequest(_message.Message):
    __slots__ = ("worker_id", "capabilities")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    capabilities: WorkerCapabilities
    def __init__(self, worker_id: _Optional[str] = ..., capabilities: _Optional[_Union[WorkerCapabilities, _Mapping]] = ...) -> None: ...

class RegisterWorkerResponse(_message.Message):
    __slots__ = ("heartbeat_interval_seconds", "lease_timeout_seconds")
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LEASE_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    heartbeat_interval_seconds: float
    lease_timeout_seconds: float
    def __init__(self, heartbeat_interval_seconds: _Optional[float] = ..., lease_timeout_seconds: _Optional[float] = ...) -> None: ...

class LeaseJobRequest(_message.Message):
    __slots__ = ("worker_id", "wait_seconds")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    wait_seconds: float
    def __init__(self, worker_id: _Optional[str] = ..., wait_seconds: _Optional[float] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ("job", "fencing_token", "resume_files")
    JOB_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESUME_FILES_FIELD_NUMBER: _ClassVar[int]
    job: _types_pb2.Job
    fencing_token: int
    resume_files: _containers.RepeatedCompositeFieldContainer[_types_pb2.Artifact]
    def __init__(self, job: _Optional[_Union[_types_pb2.Job, _Mapping]] = ..., fencing_token: _Optional[int] = ..., resume_files: _Optional[_Iterable[_Union[_types_pb2.Artifact, _Mapping]]] = ...) -> None: ...

class LeaseJobResponse(_message.Message):
    __slots__ = ("lease",)
    LEASE_FIELD_NUMBER: _ClassVar[int]
    lease: Lease
    def __init__(self, lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class HeldLease(_message.Message):
    __slots__ = ("job_id", "fencing_token")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    fencing_token: int
    def __init__(self, job_id: _Optional[str] = ..., fencing_token: _Optional[int] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("worker_id", "leases", "device_memory_used_bytes")
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    DEVICE_MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    worker_id: str
    leases: _containers.RepeatedCompositeFieldContainer[HeldLease]
    device_memory_used_bytes: int
    def __init__(self, worker_id: _Optional[str] = ..., leases: _Optional[_Iterable[_Union[HeldLease, _Mapping]]] = ..., device_memory_used_bytes: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("cancel_job_ids", "revoked_job_ids")
    CANCEL_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    cancel_job_ids: _containers.RepeatedScalarFieldContainer[str]
    revoked_job_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cancel_job_ids: _Optional[_Iterable[str]] = ..., revoked_job_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReportEventsRequest(_message.Message):
    __slots__ = ("job_id", "fencing_token", "events")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    fencing_token: int
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.JobEvent]
    def __init__(self, job_id: _Optional[str] = ..., fencing_token: _Optional[int] = ..., events: _Optional[_Iterable[_Union[_types_pb2.JobEvent, _Mapping]]] = ...) -> None: ...

class ReportEventsResponse(_message.Message):
    __slots__ = ("last_sequence",)
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    last_sequence: int
    def __init__(self, last_sequence: _Optional[int] = ...) -> None: ...

class UploadArtifactHeader(_message.Message):
    __slots__ = ("job_id", "fencing_token", "artifact")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    fencing_token: int
    artifact: _types_pb2.Artifact
    def __init__(self, job_id: _Optional[str] = ..., fencing_token: _Optional[int] = ..., artifact: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ...) -> None: ...

class UploadArtifactChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: UploadArtifactHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[UploadArtifactHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class UploadArtifactResponse(_message.Message):
    __slots__ = ("artifact", "already_present")
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    ALREADY_PRESENT_FIELD_NUMBER: _ClassVar[int]
    artifact: _types_pb2.Artifact
    already_present: bool
    def __init__(self, artifact: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ..., already_present: _Optional[bool] = ...) -> None: ...

class CompleteJobRequest(_message.Message):
    __slots__ = ("job_id", "fencing_token", "state", "result", "error", "release", "exit_status")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FENCING_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    EXIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    fencing_token: int
    state: _types_pb2.JobState
    result: _types_pb2.JobResult
    error: _types_pb2.ErrorInfo
    release: bool
    exit_status: int
    def __init__(self, job_id: _Optional[str] = ..., fencing_token: _Optional[int] = ..., state: _Optional[_Union[_types_pb2.JobState, str]] = ..., result: _Optional[_Union[_types_pb2.JobResult, _Mapping]] = ..., error: _Optional[_Union[_types_pb2.ErrorInfo, _Mapping]] = ..., release: _Optional[bool] = ..., exit_status: _Optional[int] = ...) -> None: ...

class CompleteJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _types_pb2.Job
    def __init__(self, job: _Optional[_Union[_types_pb2.Job, _Mapping]] = ...) -> None: ...
