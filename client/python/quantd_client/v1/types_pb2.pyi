import datetime

from google.protobuf import struct_pb2 as _struct_pb2
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
    JOB_STATE_LEASED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class Granularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANULARITY_UNSPECIFIED: _ClassVar[Granularity]
    GRANULARITY_PER_TENSOR: _ClassVar[Granularity]
    GRANULARITY_PER_CHANNEL: _ClassVar[Granularity]
    GRANULARITY_PER_TOKEN: _ClassVar[Granularity]
    GRANULARITY_PER_GROUP: _ClassVar[Granularity]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_HF_SAFETENSORS: _ClassVar[ExportFormat]
    EXPORT_FORMAT_PACKED_INT: _ClassVar[ExportFormat]
    EXPORT_FORMAT_COMPRESSED_TENSORS: _ClassVar[ExportFormat]
    EXPORT_FORMAT_GGUF: _ClassVar[ExportFormat]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_LEASED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
GRANULARITY_UNSPECIFIED: Granularity
GRANULARITY_PER_TENSOR: Granularity
GRANULARITY_PER_CHANNEL: Granularity
GRANULARITY_PER_TOKEN: Granularity
GRANULARITY_PER_GROUP: Granularity
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_HF_SAFETENSORS: ExportFormat
EXPORT_FORMAT_PACKED_INT: ExportFormat
EXPORT_FORMAT_COMPRESSED_TENSORS: ExportFormat
EXPORT_FORMAT_GGUF: ExportFormat

class DataRef(_message.Message):
    __slots__ = ("blob", "uri")
    BLOB_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    blob: str
    uri: str
    def __init__(self, blob: _Optional[str] = ..., uri: _Optional[str] = ...) -> None: ...

class TensorQuant(_message.Message):
    __slots__ = ("bits", "symmetric", "granularity", "group_size", "dynamic", "observer", "enabled")
    BITS_FIELD_NUMBER: _ClassVar[int]
    SYMMETRIC_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    GROUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_FIELD_NUMBER: _ClassVar[int]
    OBSERVER_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    bits: int
    symmetric: bool
    granularity: Granularity
    group_size: int
    dynamic: bool
    observer: str
    enabled: bool
    def __init__(self, bits: _Optional[int] = ..., symmetric: _Optional[bool] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., group_size: _Optional[int] = ..., dynamic: _Optional[bool] = ..., observer: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class QuantScheme(_message.Message):
    __slots__ = ("preset", "weights", "activations")
    PRESET_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    ACTIVATIONS_FIELD_NUMBER: _ClassVar[int]
    preset: str
    weights: TensorQuant
    activations: TensorQuant
    def __init__(self, preset: _Optional[str] = ..., weights: _Optional[_Union[TensorQuant, _Mapping]] = ..., activations: _Optional[_Union[TensorQuant, _Mapping]] = ...) -> None: ...

class CalibrationSpec(_message.Message):
    __slots__ = ("dataset", "n_samples", "seq_len", "seed")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    N_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    dataset: DataRef
    n_samples: int
    seq_len: int
    seed: int
    def __init__(self, dataset: _Optional[_Union[DataRef, _Mapping]] = ..., n_samples: _Optional[int] = ..., seq_len: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class EvaluationSpec(_message.Message):
    __slots__ = ("dataset", "seq_len", "max_tokens", "skip")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    dataset: DataRef
    seq_len: int
    max_tokens: int
    skip: bool
    def __init__(self, dataset: _Optional[_Union[DataRef, _Mapping]] = ..., seq_len: _Optional[int] = ..., max_tokens: _Optional[int] = ..., skip: _Optional[bool] = ...) -> None: ...

class ResourceRequest(_message.Message):
    __slots__ = ("device", "device_memory_bytes", "host_memory_bytes")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    HOST_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    device: str
    device_memory_bytes: int
    host_memory_bytes: int
    def __init__(self, device: _Optional[str] = ..., device_memory_bytes: _Optional[int] = ..., host_memory_bytes: _Optional[int] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_attempts",)
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    def __init__(self, max_attempts: _Optional[int] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("model", "method", "scheme", "method_params", "calibration", "evaluation", "export_formats", "priority", "labels", "resources", "deadline", "retry", "target")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    METHOD_PARAMS_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FORMATS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    model: DataRef
    method: str
    scheme: QuantScheme
    method_params: _struct_pb2.Struct
    calibration: CalibrationSpec
    evaluation: EvaluationSpec
    export_formats: _containers.RepeatedScalarFieldContainer[ExportFormat]
    priority: int
    labels: _containers.ScalarMap[str, str]
    resources: ResourceRequest
    deadline: _timestamp_pb2.Timestamp
    retry: RetryPolicy
    target: AccuracyTarget
    def __init__(self, model: _Optional[_Union[DataRef, _Mapping]] = ..., method: _Optional[str] = ..., scheme: _Optional[_Union[QuantScheme, _Mapping]] = ..., method_params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., calibration: _Optional[_Union[CalibrationSpec, _Mapping]] = ..., evaluation: _Optional[_Union[EvaluationSpec, _Mapping]] = ..., export_formats: _Optional[_Iterable[_Union[ExportFormat, str]]] = ..., priority: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ..., resources: _Optional[_Union[ResourceRequest, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ..., target: _Optional[_Union[AccuracyTarget, _Mapping]] = ...) -> None: ...

class AccuracyTarget(_message.Message):
    __slots__ = ("max_perplexity_increase", "min_cosine", "fallbacks")
    MAX_PERPLEXITY_INCREASE_FIELD_NUMBER: _ClassVar[int]
    MIN_COSINE_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    max_perplexity_increase: float
    min_cosine: float
    fallbacks: _containers.RepeatedCompositeFieldContainer[Candidate]
    def __init__(self, max_perplexity_increase: _Optional[float] = ..., min_cosine: _Optional[float] = ..., fallbacks: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("method", "scheme", "method_params")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    METHOD_PARAMS_FIELD_NUMBER: _ClassVar[int]
    method: str
    scheme: QuantScheme
    method_params: _struct_pb2.Struct
    def __init__(self, method: _Optional[str] = ..., scheme: _Optional[_Union[QuantScheme, _Mapping]] = ..., method_params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("method", "scheme", "quantized_value", "wall_seconds", "met_target")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    QUANTIZED_VALUE_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MET_TARGET_FIELD_NUMBER: _ClassVar[int]
    method: str
    scheme: str
    quantized_value: float
    wall_seconds: float
    met_target: bool
    def __init__(self, method: _Optional[str] = ..., scheme: _Optional[str] = ..., quantized_value: _Optional[float] = ..., wall_seconds: _Optional[float] = ..., met_target: _Optional[bool] = ...) -> None: ...

class ErrorInfo(_message.Message):
    __slots__ = ("code", "message", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    field: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("name", "blob", "size_bytes", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    blob: str
    size_bytes: int
    kind: str
    def __init__(self, name: _Optional[str] = ..., blob: _Optional[str] = ..., size_bytes: _Optional[int] = ..., kind: _Optional[str] = ...) -> None: ...

class LayerFigure(_message.Message):
    __slots__ = ("name", "loss_before", "loss_after", "threshold", "scale_min", "scale_max", "scale_mean")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOSS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    LOSS_AFTER_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SCALE_MIN_FIELD_NUMBER: _ClassVar[int]
    SCALE_MAX_FIELD_NUMBER: _ClassVar[int]
    SCALE_MEAN_FIELD_NUMBER: _ClassVar[int]
    name: str
    loss_before: float
    loss_after: float
    threshold: float
    scale_min: float
    scale_max: float
    scale_mean: float
    def __init__(self, name: _Optional[str] = ..., loss_before: _Optional[float] = ..., loss_after: _Optional[float] = ..., threshold: _Optional[float] = ..., scale_min: _Optional[float] = ..., scale_max: _Optional[float] = ..., scale_mean: _Optional[float] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "block_index", "block_count", "fraction", "eta_seconds", "layers")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_INDEX_FIELD_NUMBER: _ClassVar[int]
    BLOCK_COUNT_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    block_index: int
    block_count: int
    fraction: float
    eta_seconds: float
    layers: _containers.RepeatedCompositeFieldContainer[LayerFigure]
    def __init__(self, stage: _Optional[str] = ..., block_index: _Optional[int] = ..., block_count: _Optional[int] = ..., fraction: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., layers: _Optional[_Iterable[_Union[LayerFigure, _Mapping]]] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("level", "message")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    level: str
    message: str
    def __init__(self, level: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class JobResult(_message.Message):
    __slots__ = ("metric", "fp_value", "quantized_value", "eval_tokens", "eval_seq_len", "wall_seconds", "peak_host_memory_bytes", "peak_device_memory_bytes", "artifacts", "attempts")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    FP_VALUE_FIELD_NUMBER: _ClassVar[int]
    QUANTIZED_VALUE_FIELD_NUMBER: _ClassVar[int]
    EVAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    EVAL_SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PEAK_HOST_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    PEAK_DEVICE_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    metric: str
    fp_value: float
    quantized_value: float
    eval_tokens: int
    eval_seq_len: int
    wall_seconds: float
    peak_host_memory_bytes: int
    peak_device_memory_bytes: int
    artifacts: _containers.RepeatedCompositeFieldContainer[Artifact]
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    def __init__(self, metric: _Optional[str] = ..., fp_value: _Optional[float] = ..., quantized_value: _Optional[float] = ..., eval_tokens: _Optional[int] = ..., eval_seq_len: _Optional[int] = ..., wall_seconds: _Optional[float] = ..., peak_host_memory_bytes: _Optional[int] = ..., peak_device_memory_bytes: _Optional[int] = ..., artifacts: _Optional[_Iterable[_Union[Artifact, _Mapping]]] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ...) -> None: ...

class StateChange(_message.Message):
    __slots__ = ("to", "reason", "attempt")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    to: JobState
    reason: str
    attempt: int
    def __init__(self, to: _Optional[_Union[JobState, str]] = ..., reason: _Optional[str] = ..., attempt: _Optional[int] = ..., **kwargs) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "sequence", "time", "state_change", "progress", "log", "artifact", "terminal")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    sequence: int
    time: _timestamp_pb2.Timestamp
    state_change: StateChange
    progress: Progress
    log: LogLine
    artifact: Artifact
    terminal: Terminal
    def __init__(self, job_id: _Optional[str] = ..., sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_change: _Optional[_Union[StateChange, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., log: _Optional[_Union[LogLine, _Mapping]] = ..., artifact: _Optional[_Union[Artifact, _Mapping]] = ..., terminal: _Optional[_Union[Terminal, _Mapping]] = ...) -> None: ...

class Terminal(_message.Message):
    __slots__ = ("state", "error", "result")
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    error: ErrorInfo
    result: JobResult
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., error: _Optional[_Union[ErrorInfo, _Mapping]] = ..., result: _Optional[_Union[JobResult, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "request_id", "tenant", "spec", "state", "attempt", "create_time", "start_time", "end_time", "worker_id", "progress", "result", "error", "last_sequence", "estimate", "cancel_requested")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    tenant: str
    spec: JobSpec
    state: JobState
    attempt: int
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    worker_id: str
    progress: Progress
    result: JobResult
    error: ErrorInfo
    last_sequence: int
    estimate: ResourceRequest
    cancel_requested: bool
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ..., tenant: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., state: _Optional[_Union[JobState, str]] = ..., attempt: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., worker_id: _Optional[str] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., result: _Optional[_Union[JobResult, _Mapping]] = ..., error: _Optional[_Union[ErrorInfo, _Mapping]] = ..., last_sequence: _Optional[int] = ..., estimate: _Optional[_Union[ResourceRequest, _Mapping]] = ..., cancel_requested: _Optional[bool] = ...) -> None: ...
