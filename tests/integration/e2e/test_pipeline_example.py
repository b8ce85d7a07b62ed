"""The Python client's example pipeline (client/python/examples/
quantize_pipeline.py) as a CI step runs it: a real quantd and worker, an
OS+ w8a8 job on SmolLM2 at a small budget, the artifacts fetched, and the
perplexity gate deciding the exit status."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from e2e_harness import REPO, clean_env, smollm2

EXAMPLE = REPO / "client/python/examples/quantize_pipeline.py"
LIMIT_PERCENT = 5.0


def test_example_pipeline_quantizes_smollm2_and_gates_on_perplexity(
        cluster, tmp_path):
    server, _ = cluster(workers=1)
    python_path = os.pathsep.join(
        [os.environ.get("PYTHONPATH", ""), str(REPO / "client/python")])
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--addr", server.address,
         "--model", str(smollm2()), "--samples", "2", "--seq-len", "64",
         "--eval-seq-len", "256", "--max-tokens", "512", "--dest", str(tmp_path / "out"),
         "--max-ppl-increase", f"{LIMIT_PERCENT:g}%"],
        capture_output=True, text=True, timeout=1200,
        env=clean_env({"PYTHONPATH": python_path}))
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
