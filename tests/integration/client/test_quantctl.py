"""quantctl against a real quantd on loopback with a fake worker: every
verb, the JSON output parsed and checked, and every exit code produced by
a real situation."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from quantd_harness import binary, model_path, quantctl, wait_for_state
from quantd.v1 import types_pb2

EXIT_INVALID, EXIT_UNREACHABLE, EXIT_NOT_FOUND = 2, 3, 5
EXIT_FAILED, EXIT_CANCELLED, EXIT_REJECTED = 6, 7, 8


def submit_args(*extra: str, label: str = "fake=succeed") -> list:
    return ["submit", str(model_path()), "--method", "osplus", "--scheme", "w8a8",
            "--samples", "4", "--seq-len", "64", "--eval-seq-len", "256",
            "--max-tokens", "1024",
            "--label", label, *extra]


def submit_json(address: str, *extra: str, label: str = "fake=succeed") -> dict:
    run = quantctl(address, *submit_args(*extra, label=label), "--output", "json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def closed_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


def test_version_reports_client_and_api():
    run = quantctl(None, "version", "--output", "json")
    assert run.returncode == 0
    assert json.loads(run.stdout) == {"api": "quantd.v1", "client_version": "0.1.0"}


def test_submit_wait_prints_result_table(quantd, worker):
    run = quantctl(quantd.address, *submit_args("--wait", label="blocks=3"))
    assert run.returncode == 0, run.stderr + run.stdout
    out = run.stdout
    assert re.search(r"Submitted j-[0-9A-Z]{26} \(QUEUED", out)
    assert "stage=quantize block=3/3" in out  # piped: plain progress lines
    assert "level=warn message=\"block 1 has outliers\"" in out
    assert re.search(r"perplexity\s+20\.0000\s+20\.5000\s+\+0\.5000\s+\+2\.50%", out)
    assert "Time: 1.5s" in out and "Peak host memory: 1.0 GiB" in out
    assert "Peak device memory: 2.0 GiB" in out
    assert "model/model.safetensors" in out and "report.json" in out
    assert "\x1b" not in out and "\r" not in out


def test_submit_wait_json_is_the_final_job(quantd, worker):
    run = quantctl(quantd.address, *submit_args("--wait"), "--output", "json")
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)  # exactly one document on stdout
    assert job["state"] == "SUCCEEDED"
    assert job["method"] == "osplus" and job["scheme"] == "w8a8"
    assert job["result"]["metric"] == "perplexity"
    assert job["result"]["delta"] == pytest.approx(0.5)
    assert job["result"]["delta_percent"] == pytest.approx(2.5)
    assert {a["name"] for a in job["result"]["artifacts"]} == {
        "report.json", "model/model.safetensors"}
    assert job["spec"]["calibration"]["n_samples"] == 4
    assert job["labels"] == {"fake": "succeed"}
    assert "stage=quantize" in run.stderr  # progress went to stderr


def test_get_describe_list_and_yaml(quantd, worker):
    submitted = submit_json(quantd.address, label="team=vision")
    job_id = submitted["id"]
    assert re.fullmatch(r"j-[0-9A-Z]{26}", job_id)
    assert submitted["state"] == "QUEUED"
    wait_for_state(quantd.address, job_id, {types_pb2.JOB_STATE_SUCCEEDED})

    got = json.loads(quantctl(quantd.address, "get", job_id, "--output", "json").stdout)
    assert got["id"] == job_id and got["state"] == "SUCCEEDED"
    assert got["create_time"].endswith("Z") and got["end_time"] is not None
    described = quantctl(quantd.address, "describe", job_id)
    assert described.returncode == 0
    assert "ID:" in described.stdout and job_id in described.stdout
    assert "Labels:      team=vision" in described.stdout
    as_yaml = yaml.safe_load(quantctl(quantd.address, "get", job_id, "--output", "yaml").stdout)
    assert as_yaml["id"] == job_id and as_yaml["result"]["fp_value"] == 20.0
    assert isinstance(as_yaml["create_time"], str)

    listed = json.loads(quantctl(quantd.address, "list", "--label", "team=vision",
                                 "--output", "json").stdout)
    assert [j["id"] for j in listed["jobs"]] == [job_id]
    table = quantctl(quantd.address, "list", "--state", "succeeded").stdout
    assert table.splitlines()[0].split() == [
        "ID", "STATE", "METHOD", "SCHEME", "MODEL", "ACTIVITY", "CREATED"]
    assert job_id in table


def test_list_paginates_newest_first(quantd, worker):
    ids = [submit_json(quantd.address, label="batch=pages")["id"] for _ in range(5)]
    first = json.loads(quantctl(quantd.address, "list", "--label", "batch=pages",
                                "--limit", "2", "--output", "json").stdout)
    assert [j["id"] for j in first["jobs"]] == ids[::-1][:2]
    assert first["next_page_token"]
    rest = json.loads(quantctl(quantd.address, "list", "--label", "batch=pages",
                               "--page-token", first["next_page_token"],
                               "--output", "json").stdout)
    assert [j["id"] for j in rest["jobs"]] == ids[::-1][2:]
    assert rest["next_page_token"] == ""
    ascending = json.loads(quantctl(quantd.address, "list", "--label", "batch=pages",
                                    "--order", "asc", "--output", "json").stdout)
    assert [j["id"] for j in ascending["jobs"]] == ids


def test_watch_logs_and_fetch(quantd, worker, tmp_path):
    job_id = submit_json(quantd.address)["id"]
    watched = quantctl(quantd.address, "watch", job_id)
    assert watched.returncode == 0, watched.stderr
    assert "final=SUCCEEDED" in watched.stdout

    logs = quantctl(quantd.address, "logs", job_id)
    assert logs.returncode == 0
    lines = logs.stdout.splitlines()
    assert [l.split(" ", 2)[1:] for l in lines] == [
        ["info", "fake engine started"], ["warn", "block 1 has outliers"]]
    json_logs = [json.loads(l) for l in quantctl(
        quantd.address, "logs", job_id, "--output", "json").stdout.splitlines()]
    assert [e["level"] for e in json_logs] == ["info", "warn"]
    assert all(e["type"] == "log" and e["sequence"] > 0 for e in json_logs)

    fetched = quantctl(quantd.address, "fetch", job_id, "--dest", str(tmp_path),
                       "--output", "json")
    assert fetched.returncode == 0, fetched.stderr
    document = json.loads(fetched.stdout)
    assert {a["outcome"] for a in document["artifacts"]} == {"downloaded"}
    for artifact in document["artifacts"]:
        data = Path(artifact["path"]).read_bytes()
        assert len(data) == artifact["size_bytes"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == artifact["blob"]
    model = tmp_path / "model/model.safetensors"
    assert model.stat().st_size == 3 << 20

    # A second fetch finds the files in place; a truncated one is resumed.
    again = json.loads(quantctl(quantd.address, "fetch", job_id, "--dest",
                                str(tmp_path), "--output", "json").stdout)
    assert {a["outcome"] for a in again["artifacts"]} == {"already_present"}
    whole = model.read_bytes()
    model.unlink()
    (tmp_path / "model/model.safetensors.part").write_bytes(whole[:1000000])
    resumed = quantctl(quantd.address, "fetch", job_id, "--dest", str(tmp_path),
                       "--artifact", "model/model.safetensors")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout
    assert model.read_bytes() == whole
    assert not (tmp_path / "model/model.safetensors.part").exists()


def test_upload_always_sends_the_model_as_a_blob(quantd, worker, tmp_path):
    model = tmp_path / "tiny.gguf"
    model.write_bytes(model_path().read_bytes())
    run = quantctl(quantd.address, "submit", str(model), "--method", "rtn",
                   "--scheme", "w4a16", "--upload", "always", "--label",
                   "fake=succeed", "--output", "json")
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert job["model"] == "sha256:" + digest
    assert "upload=tiny.gguf" in run.stderr and 'outcome=done' in run.stderr


def test_upload_auto_uploads_what_the_server_cannot_read(quantd, worker, tmp_path):
    outside = tmp_path / "outside.gguf"  # not under an allowed root
    outside.write_bytes(model_path().read_bytes())
    run = quantctl(quantd.address, "submit", str(outside), "--method", "osplus",
                   "--scheme", "w8a8", "--label", "fake=succeed", "--output", "json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["model"].startswith("sha256:")
    inside = submit_json(quantd.address)
    assert inside["model"] == "file://" + str(model_path())
    never = quantctl(quantd.address, "submit", str(outside), "--method", "osplus",
                     "--scheme", "w8a8", "--upload", "never")
    assert never.returncode == EXIT_INVALID
    assert "MODEL: " in never.stderr and "(model.uri)" in never.stderr


def test_dry_run_validates_and_stores_nothing(quantd, worker):
    before = json.loads(quantctl(quantd.address, "list", "--output", "json").stdout)
    run = quantctl(quantd.address, *submit_args("--dry-run"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Valid. Estimated peak device memory")
    after = json.loads(quantctl(quantd.address, "list", "--output", "json").stdout)
    assert len(after["jobs"]) == len(before["jobs"])


def test_request_id_makes_submit_idempotent(quantd, worker):
    first = submit_json(quantd.address, "--request-id", "pipeline-run-42")
    second = submit_json(quantd.address, "--request-id", "pipeline-run-42")
    assert first["id"] == second["id"]


def test_exit_code_unreachable_names_the_address():
    address = closed_address()
    run = quantctl(address, "list", "--connect-timeout-seconds", "0.5")
    assert run.returncode == EXIT_UNREACHABLE
    assert f"cannot reach quantd at {address}" in run.stderr


def test_exit_code_invalid_input_local_and_from_server(quantd, worker):
    local = quantctl(quantd.address, *submit_args("--w-bits", "12"))
    assert local.returncode == EXIT_INVALID
    assert "--w-bits: must be in 2..8, got 12" in local.stderr
    server = quantctl(quantd.address, "submit", str(model_path()), "--method",
                      "gptq-nope", "--scheme", "w8a8")
    assert server.returncode == EXIT_INVALID
    assert re.search(r"--method: .*\(method\)", server.stderr), server.stderr
    as_json = quantctl(quantd.address, "submit", str(model_path()), "--method",
                       "gptq-nope", "--scheme", "w8a8", "--output", "json")
    assert json.loads(as_json.stdout)["error"] == {
        "code": "INVALID_ARGUMENT", "exit_code": EXIT_INVALID,
        "message": as_json.stderr.strip().removeprefix("quantctl: ")}


def test_submit_a_recipe_with_stage_params(quantd, worker):
    recipe = ["submit", str(model_path()), "--method", "osplus+gptq",
              "--scheme", "w8a8", "--samples", "4", "--seq-len", "64",
              "--label", "fake=succeed"]
    run = quantctl(quantd.address, *recipe, "--param", "batch_size=2",
                   "--param", "gptq.act_order=true", "--output", "json")
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)
    assert job["method"] == "osplus+gptq"
    assert job["spec"]["method_params"] == {"batch_size": 2,
                                            "gptq": {"act_order": True}}
    bad = quantctl(quantd.address, *recipe, "--param", "gptq.block_size=0")
    assert bad.returncode == EXIT_INVALID
    assert ("--param gptq.block_size: must be in [1, 1e+06], got 0 "
            "(method_params.gptq.block_size)") in bad.stderr, bad.stderr
    order = quantctl(quantd.address, *recipe[:3], "gptq+osplus", *recipe[4:])
    assert order.returncode == EXIT_INVALID
    assert "--method: 'gptq' rounds the weights" in order.stderr, order.stderr


def test_submit_a_target_with_fallbacks(quantd, worker):
    base = ["submit", str(model_path()), "--method", "rtn", "--scheme", "w8a8",
            "--samples", "4", "--seq-len", "64", "--label", "fake=succeed",
            "--max-ppl-increase", "0.02"]
    run = quantctl(quantd.address, *base, "--fallback", "smoothquant",
                   "--fallback", "osplus+gptq@w6a6", "--output", "json")
    assert run.returncode == 0, run.stderr
    target = json.loads(run.stdout)["spec"]["target"]
    assert target["max_perplexity_increase"] == 0.02
    assert target["fallbacks"] == [
        {"method": "smoothquant"},
        {"method": "osplus+gptq", "scheme": {"preset": "w6a6"}}]
    bad = quantctl(quantd.address, *base, "--fallback", "gptq@w9a9")
    assert bad.returncode == EXIT_INVALID
    assert bad.stderr.startswith("quantctl: --fallback: "), bad.stderr
    assert "(target.fallbacks[0].scheme.preset)" in bad.stderr, bad.stderr


def test_exit_code_not_found(quantd):
    missing = "j-00000000000000000000000000"
    for verb in (["get", missing], ["watch", missing], ["logs", missing],
                 ["cancel", missing], ["fetch", missing]):
        run = quantctl(quantd.address, *verb)
        assert run.returncode == EXIT_NOT_FOUND, (verb, run.stderr)
        assert run.stderr.startswith("quantctl: ")


def test_exit_code_job_failed(quantd, worker):
    run = quantctl(quantd.address, *submit_args("--wait", label="fake=fail"))
    assert run.returncode == EXIT_FAILED, run.stderr
    assert "FAILED" in run.stdout
    assert "Error: RESOURCE_EXHAUSTED: CUDA out of memory in block 3" in run.stdout


def test_exit_code_job_cancelled_and_rejected(quantd, worker):
    job_id = submit_json(quantd.address, label="fake=hang")["id"]
    wait_for_state(quantd.address, job_id, {types_pb2.JOB_STATE_RUNNING})
    watcher = subprocess.Popen(
        [str(binary("QUANTCTL", "client/quantctl")), "watch", job_id,
         "--addr", quantd.address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cancelled = quantctl(quantd.address, "cancel", job_id, "--reason", "test")
    assert cancelled.returncode == 0, cancelled.stderr
    assert job_id in cancelled.stdout
    out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == EXIT_CANCELLED, err
    assert "final=CANCELLED" in out
    again = quantctl(quantd.address, "cancel", job_id)
    assert again.returncode == EXIT_REJECTED
    assert quantctl(quantd.address, "watch", job_id).returncode == EXIT_CANCELLED


def test_workers_lists_the_fake_worker(quantd, worker):
    run = quantctl(quantd.address, "workers", "--output", "json")
    assert run.returncode == 0, run.stderr
    workers = json.loads(run.stdout)["workers"]
    assert [w["worker_id"] for w in workers] == [worker.worker_id]
    assert workers[0]["devices"][0]["memory_bytes"] == 80 << 30


def test_workers_reports_unimplemented_clearly(quantd):
    run = quantctl(quantd.address, "workers")
    if run.returncode == 0:
        return  # implemented: test_workers_lists_the_fake_worker covers it
    assert run.returncode == 1
    assert "does not implement ListWorkers yet (UNIMPLEMENTED)" in run.stderr
