#!/usr/bin/env python3
"""Writes deploy/grafana/quantd-dashboard.json, the Grafana dashboard for
quantd. Edit the panels here, then run this script; tests/deploy checks the
committed JSON matches its output."""

import json
import pathlib

PANELS = [
    # (title, unit, [(expr, legend)])
    ("Queue depth by priority", "short",
     [("sum by (priority) (quantd_queue_depth)", "priority {{priority}}")]),
    ("Queue wait p50 / p90", "s",
     [("histogram_quantile(0.5, sum by (le) (rate(quantd_queue_wait_seconds_bucket[$__rate_interval])))", "p50"),
      ("histogram_quantile(0.9, sum by (le) (rate(quantd_queue_wait_seconds_bucket[$__rate_interval])))", "p90")]),
    ("Jobs finished by outcome", "short",
     [("sum by (outcome) (increase(quantd_jobs_finished_total[$__range]))", "{{outcome}}")]),
    ("Jobs submitted by method and bits", "short",
     [("sum by (method, bits) (increase(quantd_jobs_submitted_total[$__range]))", "{{method}} w{{bits}}")]),
    ("Job duration p50 / p90 by method", "s",
     [("histogram_quantile(0.5, sum by (le, method) (rate(quantd_job_duration_seconds_bucket[$__rate_interval])))", "p50 {{method}}"),
      ("histogram_quantile(0.9, sum by (le, method) (rate(quantd_job_duration_seconds_bucket[$__rate_interval])))", "p90 {{method}}")]),
    ("Leases granted / expired", "short",
     [("sum(increase(quantd_leases_granted_total[$__rate_interval]))", "granted"),
      ("sum(increase(quantd_lease_expiries_total[$__rate_interval]))", "expired")]),
    ("Workers connected", "short",
     [("max(quantd_workers_connected)", "workers")]),
    ("Worker device memory in use", "bytes",
     [("quantd_worker_device_memory_used_bytes", "{{instance}}")]),
    ("Engine stage timings p90", "s",
     [("histogram_quantile(0.9, sum by (le, stage) (rate(quantd_worker_engine_stage_seconds_bucket[$__rate_interval])))", "{{stage}}")]),
    ("Engines running", "short",
     [("sum(quantd_worker_engine_running)", "running")]),
    ("Perplexity increase of finished jobs (quantized / FP − 1)", "percentunit",
     [("histogram_quantile(0.5, sum by (le, method) (rate(quantd_job_metric_ratio_bucket{metric=\"perplexity\"}[$__range]))) - 1", "median {{method}}")]),
    ("Blob store size", "bytes",
     [("max(quantd_blob_store_bytes)", "bytes")]),
]


def panel(index, title, unit, targets):
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard():
    return {
        "uid": "quantd-overview",
        "title": "quantd overview",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "tags": ["quantd"],
        "templating": {"list": [{
            "name": "datasource", "type": "datasource", "query": "prometheus",
            "label": "Data source",
        }]},
        "panels": [panel(i, *p) for i, p in enumerate(PANELS)],
    }


def render():
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    out = pathlib.Path(__file__).with_name("quantd-dashboard.json")
    out.write_text(render())
