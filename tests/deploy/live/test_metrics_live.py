"""Every metric the Grafana dashboard and the Prometheus rules use is exported
by a running system: a real quantd and a real quantd-worker on loopback (the
worker runs the scripted fake engine, so jobs take milliseconds), after a job
that succeeds and one that fails have gone through, so that labelled series
exist. The scrape is checked with promtool as well."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = Path(os.environ.get("QUANTD_SOURCE_DIR", HERE.parents[2]))
sys.path.insert(0, str(REPO / "tests/integration/client"))
sys.path.insert(0, str(REPO / "tests/deploy"))

from quantd_harness import Quantd, binary, model_path  # noqa: E402
from test_deploy import metric_names_used  # noqa: E402

FAKE_ENGINE = REPO / "worker/agent/testdata/fake_engine.py"


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                timeout=10) as response:
        return response.read().decode()


def exported_names(text: str) -> set:
    """Metric family names of an exposition, histogram suffixes stripped."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.sub(r"_(bucket|sum|count)$", "",
                             re.split(r"[{ ]", line, 1)[0]))
    return names


class Worker:
    """quantd-worker with the fake engine; its metrics port from its log."""

    def __init__(self, scratch: Path, address: str):
        self.log_path = scratch / "worker.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [str(binary("QUANTD_WORKER", "worker/agent/quantd-worker")),
             f"--scheduler={address}", "--worker-id=metrics-worker",
             f"--engine={FAKE_ENGINE}", f"--work-dir={scratch / 'work'}",
             "--lease-wait-seconds=1", "--metrics-listen=127.0.0.1:0",
             "--nvidia-smi=off"],
            stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 30
        self.metrics_port = None
        while self.metrics_port is None:
            found = re.search(r"metrics on port (\d+)", self.log())
            if found:
                self.metrics_port = int(found.group(1))
            elif self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("quantd-worker did not start:\n" + self.log())
            else:
                time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("live")
    quantd = Quantd(scratch / "quantd")
    worker = Worker(scratch, quantd.address)
    yield quantd, worker
    worker.stop()
    quantd.stop()


def quantctl(address: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary("QUANTCTL", "client/quantctl")), "--addr", address, *args],
        capture_output=True, text=True, timeout=120)


def run_jobs(quantd: Quantd) -> None:
    for scenario, code in (("succeed", 0), ("fail", 6)):
        done = quantctl(quantd.address, "submit", str(model_path()), "--method",
                        "osplus", "--scheme", "w8a8", "--label",
                        f"fake.scenario={scenario}", "--wait", "--output",
                        "json")
        assert done.returncode == code, done.stdout + done.stderr


def test_every_metric_in_the_dashboard_and_rules_is_exported(system):
    quantd, worker = system
    run_jobs(quantd)
    ports = dict(line.split("=") for line in
                 (quantd.dir / "ports").read_text().split())
    quantd_text = scrape(int(ports["metrics"]))
    worker_text = scrape(worker.metrics_port)
    exported = exported_names(quantd_text) | exported_names(worker_text)
    missing = sorted(metric_names_used() - exported)
    assert not missing, (f"used in deploy/ but not exported: {missing}\n"
                         f"exported: {sorted(exported)}")

    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: run scripts/bootstrap"
    for text in (quantd_text, worker_text):
        check = subprocess.run([promtool, "check", "metrics"], input=text,
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_worker_metrics_count_the_jobs_it_ran(system):
    _, worker = system
    text = scrape(worker.metrics_port)
    runs = [line for line in text.splitlines()
            if line.startswith("quantd_worker_jobs")
            and not line.startswith("#")]
    assert runs, text
    assert sum(float(line.rsplit(" ", 1)[1]) for line in runs) >= 2, runs
