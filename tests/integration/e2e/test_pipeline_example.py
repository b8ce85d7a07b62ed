"""The Python client's example pipeline (client/python/examples/
quantize_pipeline.py) as a CI step runs it: the quantd-client wheel built
and installed into a fresh virtual environment (no PYTHONPATH, nothing from
this checkout but the wheel), a real quantd and worker, an OS+ w8a8 job on
SmolLM2 at a small budget, the artifacts fetched, and the perplexity gate
deciding the exit status. The finished job is then logged to MLflow, which
checks the logger against a real engine's report and manifest."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from e2e_harness import REPO, smollm2

sys.path[:0] = [str(REPO / "tests/python/client"), str(REPO / "client/python")]

from package_build import build_wheel, clean_environment, fresh_venv  # noqa: E402

EXAMPLE = REPO / "client/python/examples/quantize_pipeline.py"
LIMIT_PERCENT = 5.0


def test_example_pipeline_quantizes_smollm2_and_gates_on_perplexity(
        cluster, tmp_path, monkeypatch):
    python = fresh_venv(tmp_path, build_wheel(tmp_path))
    where = subprocess.run(
        [str(python), "-c", "import quantd_client; print(quantd_client.__file__)"],
        capture_output=True, text=True, timeout=60, env=clean_environment(),
        cwd=tmp_path)
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr

    server, _ = cluster(workers=1)
    run = subprocess.run(
        [str(python), str(EXAMPLE), "--addr", server.address,
         "--model", str(smollm2()), "--samples", "2", "--seq-len", "64",
         "--eval-seq-len", "256", "--max-tokens", "512", "--dest", str(tmp_path / "out"),
         "--max-ppl-increase", f"{LIMIT_PERCENT:g}%"],
        capture_output=True, text=True, timeout=1200, env=clean_environment(),
        cwd=tmp_path)
    output = run.stdout + run.stderr

    # Progress reached the script block by block.
    assert re.search(r"quantize block 30/30", run.stdout), output
    figures = re.search(r"perplexity: FP ([\d.]+) -> quantized ([\d.]+), "
                        r"\+?(-?[\d.]+)% \(allowed 5%\): (PASS|FAIL)",
                        run.stdout)
    assert figures, output
    fp, quantized = float(figures.group(1)), float(figures.group(2))
    # Real figures of this model on 512 WikiText-2 test tokens, not a fake
    # engine's: the FP value is the model's, and W8A8 stays close to it.
    assert 10 < fp < 100, output
    assert 0.9 * fp < quantized < 1.5 * fp, output
    passed = (quantized - fp) / fp * 100 <= LIMIT_PERCENT
    assert figures.group(4) == ("PASS" if passed else "FAIL"), output
    assert run.returncode == (0 if passed else 1), output

    fetched = {p.relative_to(tmp_path / "out").as_posix()
               for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert "report.json" in fetched, fetched
    assert any(name.startswith("packed/") for name in fetched), fetched

    job_id = re.search(r"submitted (j-\S+)", run.stdout).group(1)
    # A local file store: no tracking server to start for this check.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    check_mlflow_logging(server.address, job_id, tmp_path)


def check_mlflow_logging(address: str, job_id: str, scratch) -> None:
    """The job logged (twice) to a local MLflow store: one run, the
    report's 30 blocks as step metrics, the manifest, and the packed model
    by reference."""
    from mlflow.tracking import MlflowClient

    from quantd_client import Client
    from quantd_client.mlflow import log_job

    uri = (scratch / "mlruns").as_uri()
    with Client(address) as client:
        run_id = log_job(client, job_id, tracking_uri=uri,
                         download_dir=scratch / "out", max_model_bytes=0)
        assert log_job(client, job_id, tracking_uri=uri,
                       download_dir=scratch / "out", max_model_bytes=0) == run_id
    mlflow = MlflowClient(uri)
    run = mlflow.get_run(run_id)
    seconds = sorted(m.step for m in mlflow.get_metric_history(run_id, "block_seconds"))
    assert seconds == list(range(30)), seconds
    losses = sorted(m.step for m in mlflow.get_metric_history(run_id, "block_loss_after"))
    assert losses and len(set(losses)) == len(losses) <= 30, losses
    assert run.data.params["method"] == "osplus"
    assert run.data.metrics["perplexity_ratio"] > 0.9
    names = {a.path for a in mlflow.list_artifacts(run_id)}
    assert {"report.json", "report.md", "manifest.json",
            "exported_model.json"} <= names, names
    reference = json.loads(Path(mlflow.download_artifacts(
        run_id, "exported_model.json", str(scratch))).read_text())
    assert any(f["name"].startswith("packed/") and f["blob"].startswith("sha256:")
               for f in reference["files"]), reference
