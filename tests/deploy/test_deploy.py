"""Checks of deploy/: Prometheus config, rules and rule unit tests; the
Kubernetes overlays render, lint and carry the fields operators rely on; the
compose file is well formed; the Grafana dashboard is up to date and uses
only metrics quantd exports."""

import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ["dev", "production"]


def run(*args, cwd=None):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def require(tool):
    path = shutil.which(tool)
    assert path, f"{tool} is not installed: run scripts/bootstrap"
    return path


def test_promtool_checks_config_and_rules():
    require("promtool")
    run("promtool", "check", "config", DEPLOY / "prometheus/prometheus.yml")
    run("promtool", "check", "rules", DEPLOY / "prometheus/quantd.rules.yml")


def test_every_alert_fires_in_the_rule_unit_tests():
    out = run("promtool", "test", "rules", "tests/quantd.rules.test.yml",
              cwd=DEPLOY / "prometheus")
    assert "SUCCESS" in out
    rules = yaml.safe_load((DEPLOY / "prometheus/quantd.rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((DEPLOY / "prometheus/tests/quantd.rules.test.yml").read_text())
    fired = {case["alertname"] for t in tests["tests"]
             for case in t.get("alert_rule_test", []) if case["exp_alerts"]}
    assert alerts == fired, f"alerts without a firing test: {alerts - fired}"


def render(overlay):
    require("kubectl")
    out = run("kubectl", "kustomize", DEPLOY / "kubernetes/overlays" / overlay)
    return out, [d for d in yaml.safe_load_all(out) if d]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_lints(overlay, tmp_path):
    out, docs = render(overlay)
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(out)
    require("yamllint")
    run("yamllint", "-d", "{extends: default, rules: {line-length: disable, document-start: disable, indentation: {indent-sequences: whatever}}}",
        rendered)
    kinds = {d["kind"] for d in docs}
    assert {"StatefulSet", "Deployment", "Service", "ConfigMap", "Secret",
            "NetworkPolicy", "PodMonitor", "Namespace"} <= kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_has_gpu_limits_probes_and_security_context(overlay):
    _, docs = render(overlay)
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    worker = by_name[("Deployment", "quantd-worker")]["spec"]["template"]["spec"]
    container = worker["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert worker["tolerations"] and worker["nodeSelector"]
    assert worker["terminationGracePeriodSeconds"] >= 120
    scheduler = by_name[("StatefulSet", "quantd")]["spec"]
    assert scheduler["volumeClaimTemplates"], "quantd needs a PVC for its data dir"
    sched_container = scheduler["template"]["spec"]["containers"][0]
    assert sched_container["readinessProbe"]["grpc"]["port"] == 7070
    assert sched_container["livenessProbe"]["grpc"]["port"] == 7070
    for pod in (worker, scheduler["template"]["spec"]):
        assert pod["securityContext"]["runAsNonRoot"] is True
        c = pod["containers"][0]
        assert "readinessProbe" in c and "livenessProbe" in c
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
    annotations = scheduler["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"


def test_compose_file_is_complete():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"quantd", "quantd-worker", "prometheus", "grafana"}
    gpu = services["quantd-worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    declared = set(compose["volumes"])
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
    for name, service in services.items():
        for dep in service.get("depends_on", []):
            assert dep in services, f"{name} depends on unknown {dep}"


def test_dashboard_is_generated_from_its_script():
    sys.path.insert(0, str(DEPLOY / "grafana"))
    import make_dashboard  # pylint: disable=import-outside-toplevel
    committed = (DEPLOY / "grafana/quantd-dashboard.json").read_text()
    assert committed == make_dashboard.render(), "run deploy/grafana/make_dashboard.py"
    dashboard = json.loads(committed)
    assert all(p["targets"] for p in dashboard["panels"])


def metric_names_used():
    """Base metric names (histogram suffixes stripped) in rules and dashboard."""
    text = (DEPLOY / "prometheus/quantd.rules.yml").read_text()
    text += (DEPLOY / "grafana/quantd-dashboard.json").read_text()
    names = set(re.findall(r"\bquantd_[a-z_]+", text))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def test_metric_names_follow_the_conventions():
    for name in metric_names_used():
        assert re.fullmatch(r"quantd_[a-z0-9_]+", name)
