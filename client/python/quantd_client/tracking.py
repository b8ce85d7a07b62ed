"""What an experiment tracker records about a finished job, independent of
the tracker: flat params from the spec, summary metrics from the result,
per-block step metrics from the report (or from the progress events when
the report has no per-block figures), tags, and which artifacts to copy.

quantd_client.mlflow writes a JobRecord to MLflow; another tracker would
need only a writer.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from google.protobuf import json_format, timestamp_pb2

from quantd_client._version import API_VERSION, __version__
from quantd_client.states import state_name
from quantd_client.v1 import types_pb2

#: Artifact kinds that make up the exported model (copied whole, or
#: referenced by blob when larger than the limit): one per export format.
MODEL_KINDS = frozenset({"model", "packed", "compressed-tensors", "gguf"})
#: Artifact kinds always copied: small, and what a reviewer reads first.
DOCUMENT_KINDS = frozenset({"report", "manifest", "plot"})
#: The tag that identifies a job's run; a run is looked up by it.
JOB_TAG = "quantd.job_id"


@dataclass(frozen=True)
class StepMetric:
    """One point of a per-block series: `step` is the block index."""

    key: str
    value: float
    step: int
    timestamp_ms: int


@dataclass
class JobRecord:
    """Everything logged about one finished job."""

    job: types_pb2.Job
    params: Dict[str, str]
    metrics: Dict[str, float]
    steps: List[StepMetric]
    tags: Dict[str, str]
    timestamp_ms: int
    documents: List[types_pb2.Artifact] = field(default_factory=list)
    model_files: List[types_pb2.Artifact] = field(default_factory=list)


def milliseconds(timestamp: timestamp_pb2.Timestamp) -> int:
    return timestamp.seconds * 1000 + timestamp.nanos // 1_000_000


def _data_ref(ref: types_pb2.DataRef, default: str = "default") -> str:
    return ref.blob or ref.uri or default


def _compact(message) -> str:
    return json.dumps(json_format.MessageToDict(
        message, preserving_proto_field_name=True), sort_keys=True,
        separators=(",", ":"))


def params_of(spec: types_pb2.JobSpec) -> Dict[str, str]:
    """Flat params of a (server-normalised) spec: model, method, scheme and
    calibration first, then evaluation and export."""
    return {
        "model": _data_ref(spec.model),
        "method": spec.method,
        "scheme": spec.scheme.preset or "custom",
        "scheme.weights": _compact(spec.scheme.weights),
        "scheme.activations": _compact(spec.scheme.activations),
        "method_params": _compact(spec.method_params),
        "calibration.dataset": _data_ref(spec.calibration.dataset),
        "calibration.n_samples": str(spec.calibration.n_samples),
        "calibration.seq_len": str(spec.calibration.seq_len),
        "calibration.seed": str(spec.calibration.seed),
        "evaluation.dataset": _data_ref(spec.evaluation.dataset),
        "evaluation.seq_len": str(spec.evaluation.seq_len),
        "evaluation.max_tokens": str(spec.evaluation.max_tokens),
        "evaluation.skip": str(spec.evaluation.skip).lower(),
        "export_formats": ",".join(
            types_pb2.ExportFormat.Name(f).removeprefix("EXPORT_FORMAT_").lower()
            for f in spec.export_formats),
    }


def _metric_key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "metric"


def metrics_of(job: types_pb2.Job) -> Dict[str, float]:
    """FP and quantized metric, their ratio, wall time and peak memory;
    empty for a job without a result."""
    if not job.HasField("result"):
        return {}
    result = job.result
    name = _metric_key(result.metric or "metric")
    metrics = {
        f"fp_{name}": result.fp_value,
        f"quantized_{name}": result.quantized_value,
        "wall_seconds": result.wall_seconds,
        "peak_host_memory_bytes": float(result.peak_host_memory_bytes),
        "peak_device_memory_bytes": float(result.peak_device_memory_bytes),
        "eval_tokens": float(result.eval_tokens),
    }
    if result.fp_value:
        metrics[f"{name}_ratio"] = result.quantized_value / result.fp_value
    return {k: v for k, v in metrics.items() if math.isfinite(v)}


def _loss_sums(figures: Iterable[Any], get) -> Dict[str, float]:
    """Sums of the finite loss_before/loss_after over a block's layers."""
    sums: Dict[str, float] = {}
    for figure in figures:
        for key in ("loss_before", "loss_after"):
            value = get(figure, key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                sums[f"block_{key}"] = sums.get(f"block_{key}", 0.0) + value
    return sums


def block_metrics_from_report(report: Mapping[str, Any],
                              timestamp_ms: int) -> List[StepMetric]:
    """block_loss_before/after (sums over the block's layers) and
    block_seconds per block of report.json's "blocks"."""
    steps: List[StepMetric] = []
    for block in report.get("blocks") or []:
        if not isinstance(block, Mapping) or not isinstance(block.get("index"), int):
            continue
        values = _loss_sums(block.get("figures") or [],
                            lambda figure, key: figure.get(key)
                            if isinstance(figure, Mapping) else None)
        seconds = block.get("seconds")
        if isinstance(seconds, (int, float)) and math.isfinite(seconds):
            values["block_seconds"] = float(seconds)
        steps.extend(StepMetric(key, value, block["index"], timestamp_ms)
                     for key, value in sorted(values.items()))
    return steps


def block_metrics_from_events(events: Iterable[types_pb2.JobEvent]
                              ) -> List[StepMetric]:
    """block_loss_before/after per block from the quantize-stage progress
    events that carry layer figures; a block reported twice (a resumed
    job) keeps its last report."""
    latest: Dict[int, types_pb2.JobEvent] = {}
    for event in events:
        progress = event.progress
        if (event.HasField("progress") and progress.stage == "quantize"
                and progress.layers):
            latest[progress.block_index] = event
    steps: List[StepMetric] = []
    for block, event in sorted(latest.items()):
        values = _loss_sums(event.progress.layers, getattr)
        steps.extend(StepMetric(key, value, block, milliseconds(event.time))
                     for key, value in sorted(values.items()))
    return steps


def tags_of(job: types_pb2.Job, server: str,
            extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The run's tags: the job id (the run's identity), its state, server,
    tenant, attempt, labels and the client's versions."""
    tags = {
        JOB_TAG: job.id,
        "quantd.state": state_name(job.state),
        "quantd.server": server,
        "quantd.tenant": job.tenant,
        "quantd.attempt": str(job.attempt),
        "quantd.api_version": API_VERSION,
        "quantd.client_version": __version__,
    }
    if job.error.message:
        tags["quantd.error"] = job.error.message[:4000]
    for key, value in job.spec.labels.items():
        tags[f"quantd.label.{key}"] = value
    tags.update(extra or {})
    return tags


def split_artifacts(artifacts: Sequence[types_pb2.Artifact]
                    ) -> Dict[str, List[types_pb2.Artifact]]:
    """{"documents": [...], "model": [...]}; checkpoints and unknown kinds
    are left out."""
    return {
        "documents": [a for a in artifacts if a.kind in DOCUMENT_KINDS],
        "model": [a for a in artifacts if a.kind in MODEL_KINDS],
    }


def build_record(job: types_pb2.Job, events: Sequence[types_pb2.JobEvent],
                 artifacts: Sequence[types_pb2.Artifact],
                 report: Optional[Mapping[str, Any]], server: str,
                 extra_tags: Optional[Mapping[str, str]] = None) -> JobRecord:
    """The record of a finished job from what the API returns for it."""
    end = job.end_time if job.HasField("end_time") else job.create_time
    timestamp = milliseconds(end)
    steps = block_metrics_from_report(report or {}, timestamp)
    if not steps:
        steps = block_metrics_from_events(events)
    parts = split_artifacts(artifacts)
    return JobRecord(job=job, params=params_of(job.spec),
                     metrics=metrics_of(job), steps=steps,
                     tags=tags_of(job, server, extra_tags),
                     timestamp_ms=timestamp, documents=parts["documents"],
                     model_files=parts["model"])
