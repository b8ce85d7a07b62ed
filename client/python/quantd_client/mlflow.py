"""Logs a finished quantd job to an MLflow run (extra "mlflow":
`pip install "quantd-client[mlflow]"`).

    from quantd_client import Client
    from quantd_client.mlflow import log_job

    with Client("127.0.0.1:7070") as client:
        run_id = log_job(client, job_id, tracking_uri="http://mlflow:5000")

The run gets params (model, method, scheme, calibration, evaluation),
metrics (FP and quantized metric, their ratio, wall time, peak memory),
per-block losses as step metrics (step = block index), the report,
manifest and plots as artifacts, and the exported model (model/, packed/)
or, when it is larger than `max_model_bytes`, exported_model.json naming
its blobs by sha256. The run is tagged `quantd.job_id`: logging the same
job again finds that run and updates it (tags, artifacts, missing metric
points) instead of creating another.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

try:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "quantd_client.mlflow needs MLflow: pip install "
        "\"quantd-client[mlflow]\"") from error

from quantd_client.client import Client
from quantd_client.states import is_terminal, state_name
from quantd_client.tracking import (JOB_TAG, JobRecord, StepMetric,
                                    build_record, milliseconds,
                                    split_artifacts)
from quantd_client.v1 import types_pb2

__all__ = ["DEFAULT_MAX_MODEL_BYTES", "log_job", "log_record"]

#: Exported models up to this size are copied into the run; larger ones are
#: referenced by blob.
DEFAULT_MAX_MODEL_BYTES = 1 << 30
#: MLflow's per-request limits on a log_batch.
_MAX_BATCH_METRICS = 1000
_MAX_BATCH_PARAMS = 100
_MAX_BATCH_TAGS = 100
_RUN_STATUS = {
    types_pb2.JOB_STATE_SUCCEEDED: "FINISHED",
    types_pb2.JOB_STATE_FAILED: "FAILED",
    types_pb2.JOB_STATE_CANCELLED: "KILLED",
}


def log_job(client: Client, job_id: str, *,
            tracking_uri: Optional[str] = None, experiment: str = "quantd",
            run_name: Optional[str] = None,
            download_dir: Optional[os.PathLike | str] = None,
            max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES,
            tags: Optional[Mapping[str, str]] = None) -> str:
    """Logs finished job `job_id` to MLflow and returns the run id.

    `tracking_uri` defaults to MLflow's own default ($MLFLOW_TRACKING_URI);
    `experiment` is created when missing. Artifacts are downloaded into
    `download_dir` (files already there with the right hash are not
    fetched again) or a temporary directory. Raises ValueError for a job
    that has not finished.
    """
    job = client.get(job_id)
    if not is_terminal(job.state):
        raise ValueError(f"job {job_id} is {state_name(job.state)}: only "
                         "finished jobs are logged")
    events = list(client.watch(job_id))
    artifacts = client.artifacts(job_id)
    parts = split_artifacts(artifacts)
    copy_model = sum(a.size_bytes for a in parts["model"]) <= max_model_bytes
    wanted = parts["documents"] + (parts["model"] if copy_model else [])
    with tempfile.TemporaryDirectory(prefix="quantd-mlflow-") as scratch:
        local = Path(download_dir) if download_dir is not None else Path(scratch)
        client.fetch(job_id, local, names=[a.name for a in wanted])
        report = _read_report(local / "report.json")
        record = build_record(job, events, artifacts, report, client.address,
                              tags)
        return log_record(record, local, tracking_uri=tracking_uri,
                          experiment=experiment, run_name=run_name,
                          copy_model=copy_model)


def log_record(record: JobRecord, local: Path, *,
               tracking_uri: Optional[str] = None, experiment: str = "quantd",
               run_name: Optional[str] = None, copy_model: bool = True) -> str:
    """Writes `record` to MLflow, with its artifacts read from `local`
    (laid out under their artifact names); returns the run id."""
    mlflow = MlflowClient(tracking_uri)
    experiment_id = _experiment_id(mlflow, experiment)
    run_id = _find_run(mlflow, experiment_id, record.job.id)
    if run_id is None:
        run_id = mlflow.create_run(
            experiment_id, start_time=_start_ms(record.job),
            tags={JOB_TAG: record.job.id},
            run_name=run_name or _default_run_name(record.job)).info.run_id
    _log_batches(mlflow, run_id,
                 metrics=_new_points(mlflow, run_id, _metrics(record)),
                 params=[Param(k, v) for k, v in record.params.items()],
                 tags=[RunTag(k, v) for k, v in record.tags.items()])
    _log_files(mlflow, run_id, local, record.documents)
    if copy_model and record.model_files:
        _log_files(mlflow, run_id, local, record.model_files)
        mlflow.set_tag(run_id, "quantd.exported_model", "copied")
    elif record.model_files:
        _log_model_reference(mlflow, run_id, record)
    mlflow.set_terminated(run_id, _RUN_STATUS.get(record.job.state, "FINISHED"),
                          end_time=record.timestamp_ms)
    return run_id


def _read_report(path: Path) -> Optional[dict]:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def _start_ms(job: types_pb2.Job) -> int:
    return milliseconds(job.start_time if job.HasField("start_time")
                        else job.create_time)


def _default_run_name(job: types_pb2.Job) -> str:
    return f"{job.spec.method} {job.spec.scheme.preset or 'custom'} {job.id}"


def _experiment_id(mlflow: MlflowClient, name: str) -> str:
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return mlflow.create_experiment(name)
    except MlflowException:
        found = mlflow.get_experiment_by_name(name)  # created concurrently
        if found is None:
            raise
        return found.experiment_id


def _find_run(mlflow: MlflowClient, experiment_id: str,
              job_id: str) -> Optional[str]:
    runs = mlflow.search_runs([experiment_id],
                              filter_string=f"tags.`{JOB_TAG}` = '{job_id}'",
                              max_results=1, order_by=["attributes.start_time ASC"])
    return runs[0].info.run_id if runs else None


def _log_batches(mlflow: MlflowClient, run_id: str, *, metrics: List[Metric],
                 params: List[Param], tags: List[RunTag]) -> None:
    """log_batch calls within MLflow's per-request limits."""
    for start in range(0, len(params), _MAX_BATCH_PARAMS):
        mlflow.log_batch(run_id, params=params[start:start + _MAX_BATCH_PARAMS])
    for start in range(0, len(tags), _MAX_BATCH_TAGS):
        mlflow.log_batch(run_id, tags=tags[start:start + _MAX_BATCH_TAGS])
    for start in range(0, len(metrics), _MAX_BATCH_METRICS):
        mlflow.log_batch(run_id,
                         metrics=metrics[start:start + _MAX_BATCH_METRICS])


def _metrics(record: JobRecord) -> List[StepMetric]:
    summary = [StepMetric(key, value, 0, record.timestamp_ms)
               for key, value in record.metrics.items()]
    return summary + record.steps


def _new_points(mlflow: MlflowClient, run_id: str,
                points: Sequence[StepMetric]) -> List[Metric]:
    """The points the run does not have yet: MLflow keeps every logged
    point of a metric, so a second logging must not send them again."""
    by_key: Dict[str, List[StepMetric]] = defaultdict(list)
    for point in points:
        by_key[point.key].append(point)
    fresh: List[Metric] = []
    for key, wanted in by_key.items():
        have = {(m.step, m.timestamp, m.value)
                for m in mlflow.get_metric_history(run_id, key)}
        fresh.extend(Metric(p.key, p.value, p.timestamp_ms, p.step)
                     for p in wanted
                     if (p.step, p.timestamp_ms, p.value) not in have)
    return fresh


def _log_files(mlflow: MlflowClient, run_id: str, local: Path,
               artifacts: Sequence[types_pb2.Artifact]) -> None:
    """Each artifact at its own name in the run (report.json at the root,
    model/config.json under model/, ...)."""
    for artifact in artifacts:
        path = local.joinpath(*artifact.name.split("/"))
        directory = str(Path(artifact.name).parent)
        mlflow.log_artifact(run_id, str(path),
                            None if directory == "." else directory)


def _log_model_reference(mlflow: MlflowClient, run_id: str,
                         record: JobRecord) -> None:
    files = [{"name": a.name, "kind": a.kind, "blob": a.blob,
              "size_bytes": a.size_bytes} for a in record.model_files]
    reference = {"job_id": record.job.id, "server": record.tags["quantd.server"],
                 "files": files}
    mlflow.log_text(run_id, json.dumps(reference, indent=2) + "\n",
                    "exported_model.json")
    mlflow.set_tag(run_id, "quantd.exported_model", "reference")
