"""quantd_client.mlflow and the example pipeline's --mlflow-uri against a
real MLflow tracking server (SQLite backend store, loopback) and a real
quantd with a real quantd-worker running the fake engine; every check goes
through MLflow's own client."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from quantd_harness import REPO, model_path
from quantd_client import Client, make_spec
from quantd_client.mlflow import log_job

EXAMPLE = REPO / "client/python/examples/quantize_pipeline.py"
EXPERIMENT = "pytest-quantd"
MODEL_BYTES = b"\x08" * 4096  # the fake engine's model/model.safetensors


def run_example(address: str, mlflow_uri: str, dest: Path
                ) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--addr", address, "--model",
         str(model_path()), "--samples", "4", "--seq-len", "64",
         "--dest", str(dest), "--max-ppl-increase", "10%",
         "--mlflow-uri", mlflow_uri, "--mlflow-experiment", EXPERIMENT],
        capture_output=True, text=True, timeout=180, env=env)


def runs_of(mlflow: MlflowClient, job_id: str) -> list:
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    return mlflow.search_runs([experiment.experiment_id],
                              filter_string=f"tags.`quantd.job_id` = '{job_id}'")


def history(mlflow: MlflowClient, run_id: str, key: str) -> list:
    points = mlflow.get_metric_history(run_id, key)
    return sorted((m.step, m.value) for m in points)


def test_example_logs_the_job_once_however_often_it_runs(
        quantd, agent, mlflow_uri, tmp_path):
    first = run_example(quantd.address, mlflow_uri, tmp_path / "first")
    assert first.returncode == 0, first.stdout + first.stderr
    logged = re.search(r"logged (j-\S+) to MLflow run (\w+)", first.stdout)
    assert logged, first.stdout
    job_id, run_id = logged.groups()

    mlflow = MlflowClient(mlflow_uri)
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["model"] == f"file://{model_path()}"
    assert (params["method"], params["scheme"]) == ("osplus", "w8a8")
    assert (params["calibration.n_samples"], params["calibration.seq_len"]) == ("4", "64")
    metrics = run.data.metrics
    assert metrics["fp_perplexity"] == 10.5
    assert metrics["quantized_perplexity"] == 11.25
    assert metrics["perplexity_ratio"] == pytest.approx(11.25 / 10.5)
    assert metrics["wall_seconds"] == 1.5
    assert metrics["peak_host_memory_bytes"] == 1 << 20
    assert metrics["peak_device_memory_bytes"] == 0
    # Per-block losses from the progress events (the fake engine's report
    # has no per-block figures): one point per block.
    assert history(mlflow, run_id, "block_loss_before") == [(0, 2.0), (1, 2.0), (2, 2.0)]
    assert history(mlflow, run_id, "block_loss_after") == [(0, 1.0), (1, 1.0), (2, 1.0)]
    tags = run.data.tags
    assert tags["quantd.job_id"] == job_id
    assert tags["quantd.state"] == "SUCCEEDED"
    assert tags["quantd.exported_model"] == "copied"
    assert tags["quantd.label.pipeline"] == "quantize_pipeline"

    names = {a.path for a in mlflow.list_artifacts(run_id)}
    assert {"report.json", "model"} <= names, names
    assert [a.path for a in mlflow.list_artifacts(run_id, "model")] == [
        "model/model.safetensors"]
    report = Path(mlflow.download_artifacts(run_id, "report.json", str(tmp_path)))
    assert json.loads(report.read_text()) == {"method": "osplus"}
    model = Path(mlflow.download_artifacts(run_id, "model/model.safetensors",
                                           str(tmp_path)))
    assert model.read_bytes() == MODEL_BYTES

    # The same step again: the idempotent submit returns the same job, and
    # logging it again updates the one run.
    second = run_example(quantd.address, mlflow_uri, tmp_path / "second")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"logged {job_id} to MLflow run {run_id}" in second.stdout
    assert [r.info.run_id for r in runs_of(mlflow, job_id)] == [run_id]
    assert history(mlflow, run_id, "block_loss_after") == [(0, 1.0), (1, 1.0), (2, 1.0)]
    assert len(mlflow.get_metric_history(run_id, "fp_perplexity")) == 1


def test_large_models_are_referenced_and_failures_logged(
        quantd, agent, mlflow_uri, tmp_path):
    spec = make_spec(str(model_path()), "rtn", "w8a8", samples=4, seq_len=64,
                     labels={"suite": "mlflow-reference"})
    failing = make_spec(str(model_path()), "rtn", "w8a8", samples=4,
                        seq_len=64, labels={"fake.scenario": "fail"})
    mlflow = MlflowClient(mlflow_uri)
    with Client(quantd.address) as client:
        job = client.wait(client.submit(spec).id)
        run_id = log_job(client, job.id, tracking_uri=mlflow_uri,
                         experiment=EXPERIMENT, max_model_bytes=1000)
        failed = client.wait(client.submit(failing).id)
        failed_run = log_job(client, failed.id, tracking_uri=mlflow_uri,
                             experiment=EXPERIMENT)

    run = mlflow.get_run(run_id)
    assert run.data.tags["quantd.exported_model"] == "reference"
    names = {a.path for a in mlflow.list_artifacts(run_id)}
    assert "model" not in names and "exported_model.json" in names, names
    reference = json.loads(Path(mlflow.download_artifacts(
        run_id, "exported_model.json", str(tmp_path))).read_text())
    digest = hashlib.sha256(MODEL_BYTES).hexdigest()
    assert reference["job_id"] == job.id
    assert reference["files"] == [{"name": "model/model.safetensors",
                                   "kind": "model", "blob": f"sha256:{digest}",
                                   "size_bytes": len(MODEL_BYTES)}]

    run = mlflow.get_run(failed_run)
    assert run.info.status == "FAILED"
    assert run.data.tags["quantd.state"] == "FAILED"
    assert run.data.tags["quantd.error"].startswith("fake failure")
    assert run.data.params["method"] == "rtn"
    assert "fp_perplexity" not in run.data.metrics
