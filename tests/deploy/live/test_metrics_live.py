"""Every metric the Grafana dashboard and the Prometheus rules use is exported
by a running system: a real quantd and a real quantd-worker on loopback (the
worker runs the scripted fake engine, so jobs take milliseconds), after a job
that succeeds and one that fails have gone through, so that labelled series
exist. The scrape is checked with promtool as well."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "deploy"))

from harness.quantd_cluster import (FAST_SCHEDULING, REPO, Quantd,  # noqa: E402
                                    Worker, quantctl, smollm2)
from test_deploy import metric_names_used  # noqa: E402


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


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("live")
    quantd = Quantd(scratch / "quantd", FAST_SCHEDULING,
                    allowed_roots=[REPO / "models"])
    worker = Worker(scratch, quantd.address, "metrics-worker",
                    metrics_listen="127.0.0.1:0", own_session=True)
    worker.wait_metrics_port()
    yield quantd, worker
    worker.stop()
    quantd.stop()


def run_jobs(quantd: Quantd) -> None:
    for scenario, code in (("succeed", 0), ("fail", 6)):
        done = quantctl(quantd.address, "submit", str(smollm2()), "--method",
                        "osplus", "--scheme", "w8a8", "--label",
                        f"fake.scenario={scenario}", "--wait", "--output",
                        "json", timeout=120)
        assert done.returncode == code, done.stdout + done.stderr


def test_every_metric_in_the_dashboard_and_rules_is_exported(system):
    quantd, worker = system
    run_jobs(quantd)
    quantd_text = scrape(int(quantd.ports()["metrics"]))
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
