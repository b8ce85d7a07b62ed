"""Runs `quantd-engine run` for the Python reference tests: where the
binary, the model and the data are, and one job from a spec dict to its
result event. Standard library only (the vLLM test imports it under vLLM's
own interpreter too).

Environment: QUANTD_ENGINE names the binary, else QUANTD_BINARY_DIR (set by
ctest) locates worker/engine/cli/quantd-engine; QUANTD_SOURCE_DIR the
repository (default: found from this file); QUANTD_DATA_DIR the datasets
(default <repo>/../shared/data/wikitext-2); QUANTD_TEST_THREADS the
engine's --threads (default 2). Import it after putting tests/reference on
sys.path.
"""

import json
import os
import pathlib
import subprocess

ROOT = pathlib.Path(os.environ.get(
    "QUANTD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
GGUF = ROOT / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DATA_DIR = pathlib.Path(os.environ.get(
    "QUANTD_DATA_DIR", ROOT.parent / "shared/data/wikitext-2"))
THREADS = int(os.environ.get("QUANTD_TEST_THREADS", "2"))


def engine_binary():
    if "QUANTD_ENGINE" in os.environ:
        return pathlib.Path(os.environ["QUANTD_ENGINE"])
    assert "QUANTD_BINARY_DIR" in os.environ, (
        "set QUANTD_BINARY_DIR (the build dir) or QUANTD_ENGINE")
    return (pathlib.Path(os.environ["QUANTD_BINARY_DIR"]) /
            "worker/engine/cli/quantd-engine")


def run_job(spec, spec_path, out):
    """Writes SPEC (a dict) to SPEC_PATH and runs it into OUT; returns the
    job's result event. Fails (assert) on a missing binary, model or
    dataset, a non-zero exit or a missing result event."""
    binary = engine_binary()
    assert binary.exists(), f"{binary} missing: build target quantd-engine"
    assert GGUF.exists(), f"{GGUF} missing: run scripts/bootstrap"
    assert (DATA_DIR / "wiki.test.raw").exists(), f"{DATA_DIR} lacks data"
    spec_path = pathlib.Path(spec_path)
    spec_path.write_text(json.dumps(spec))
    run = subprocess.run(
        [str(binary), "run", str(spec_path), "--out", str(out),
         "--data-dir", str(DATA_DIR), "--threads", str(THREADS)],
        capture_output=True, text=True)
    assert run.returncode == 0, (
        f"{spec_path.name}: quantd-engine run exited {run.returncode}\n"
        f"stdout tail:\n{run.stdout[-3000:]}\nstderr tail:\n"
        f"{run.stderr[-3000:]}")
    events = [json.loads(line) for line in run.stdout.splitlines() if line]
    results = [e for e in events if e.get("type") == "result"]
    assert len(results) == 1, f"expected one result event, got {events[-3:]}"
    return results[0]
