"""A real Prometheus server scrapes quantd, and promtool accepts the
exposition."""

import json
import shutil
import subprocess
import time
import urllib.request

from harness.quantd_cluster import free_port
from quantd.v1 import jobs_pb2, types_pb2


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_prometheus_scrapes_quantd(quantd, model_root, tmp_path):
    prometheus = shutil.which("prometheus")
    assert prometheus, "install the Debian prometheus package"
    spec = types_pb2.JobSpec(method="rtn")
    spec.model.uri = f"file://{model_root / 'tiny'}"
    spec.scheme.preset = "w4a16"
    quantd.jobs.SubmitJob(jobs_pb2.SubmitJobRequest(request_id="m", spec=spec),
                          timeout=30)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: quantd\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{quantd.metrics_port}']\n")
    web_port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    server = subprocess.Popen(
        [prometheus, f"--config.file={config}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{web_port}"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        api = f"http://127.0.0.1:{web_port}/api/v1/query?query="
        deadline = time.monotonic() + 90
        up = submitted = None
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                up = json.loads(http_get(api + "up"))["data"]["result"]
                submitted = json.loads(http_get(
                    api + "quantd_jobs_submitted_total"))["data"]["result"]
            except OSError:
                up = None
            if up and submitted:
                break
            time.sleep(0.2)
        assert up and up[0]["value"][1] == "1", up
        assert up[0]["metric"]["instance"] == f"127.0.0.1:{quantd.metrics_port}"
        assert submitted[0]["metric"]["method"] == "rtn"
        assert submitted[0]["metric"]["bits"] == "4"
        assert submitted[0]["value"][1] == "1"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_promtool_accepts_the_exposition(start_quantd, model_root):
    promtool = shutil.which("promtool")
    assert promtool, "install the Debian prometheus package"
    quantd = start_quantd("--scheduler.tick_interval_seconds=0.05")
    spec = types_pb2.JobSpec(method="osplus")
    spec.model.uri = f"file://{model_root / 'tiny'}"
    spec.scheme.preset = "w8a8"
    job = quantd.jobs.SubmitJob(
        jobs_pb2.SubmitJobRequest(request_id="m", spec=spec), timeout=30)
    url = f"http://127.0.0.1:{quantd.metrics_port}/metrics"
    # Labelled families appear once they have a series: wait for the queue
    # gauge (set by the scheduler's tick), then finish the job.
    deadline = time.monotonic() + 30
    while "quantd_queue_depth{" not in http_get(url):
        assert time.monotonic() < deadline, http_get(url)
        time.sleep(0.05)
    quantd.jobs.CancelJob(jobs_pb2.CancelJobRequest(id=job.id), timeout=30)
    text = http_get(url)
    for name in ("quantd_jobs_submitted_total", "quantd_jobs_finished_total",
                 "quantd_queue_depth", "quantd_leases_granted_total",
                 "quantd_lease_expiries_total", "quantd_job_duration_seconds",
                 "quantd_queue_wait_seconds", "quantd_workers_connected",
                 "quantd_blob_store_bytes"):
        assert f"# TYPE {name} " in text, name
    check = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert (check.stdout + check.stderr).strip() == b""
