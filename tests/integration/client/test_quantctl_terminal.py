"""quantctl's progress display on a real terminal (tmux) and on a pipe: on
a terminal the bars are drawn once and updated in place; on a pipe the
output is plain lines without a single control character."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

from quantd_harness import binary, model_path, quantctl


def submit_slow_job(address: str, blocks: int, block_seconds: float) -> str:
    run = quantctl(address, "submit", str(model_path()), "--method", "osplus",
                   "--scheme", "w8a8", "--label", f"blocks={blocks}",
                   "--label", f"block_seconds={block_seconds}", "--output", "json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)["id"]


class Tmux:
    """A private tmux server (own socket) running one command in a
    100x30 window."""

    def __init__(self, command: str):
        if shutil.which("tmux") is None:
            raise FileNotFoundError("tmux is required for the terminal test")
        self.socket = f"quantctl-test-{os.getpid()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTD_")}
        env["TERM"] = "xterm-256color"
        subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", "new-session",
                        "-d", "-x", "100", "-y", "30", command],
                       check=True, env=env)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p"],
                              capture_output=True, text=True, check=True).stdout

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"],
                       capture_output=True)


def test_terminal_bars_render_and_update_in_place(quantd, worker):
    job_id = submit_slow_job(quantd.address, blocks=12, block_seconds=0.4)
    command = (f"{binary('QUANTCTL', 'client/quantctl')} watch {job_id} "
               f"--addr {quantd.address}; echo EXIT=$?; sleep 120")
    tmux = Tmux(command)
    try:
        snapshots = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            snapshots.append(tmux.screen())
            if "EXIT=" in snapshots[-1]:
                break
            time.sleep(0.1)
    finally:
        tmux.close()
    final = snapshots[-1]
    assert "EXIT=0" in final, final
    blocks_seen = set()
    for screen in snapshots:
        for line in screen.splitlines():
            if line.lstrip().startswith("quantize") and "block " in line:
                blocks_seen.add(line.split("block ")[1].split("/")[0])
    # The quantize bar was seen mid-way and at its end: it updated.
    assert "12" in blocks_seen and len(blocks_seen) >= 3, blocks_seen
    lines = final.splitlines()
    bar_headers = [l for l in lines if l.startswith(f"{job_id} ")]
    stage_lines = [l for l in lines if l.lstrip().startswith("quantize ")]
    # Redrawn in place: one header and one line per stage, not a scroll.
    assert len(bar_headers) == 1, final
    assert "SUCCEEDED" in bar_headers[0] and "100%" in bar_headers[0]
    assert len(stage_lines) == 1 and "[" + "=" * 10 in stage_lines[0]
    assert "block 12/12" in stage_lines[0]
    for stage in ("load", "calibrate", "evaluate", "export"):
        assert sum(l.lstrip().startswith(stage + " ") for l in lines) == 1, final
    assert "perplexity" in final and "+2.50%" in final
    assert all(len(l) <= 100 for l in lines)


def test_piped_output_has_no_control_characters(quantd, worker):
    job_id = submit_slow_job(quantd.address, blocks=4, block_seconds=0.05)
    quantctl_path = binary("QUANTCTL", "client/quantctl")
    piped = subprocess.run(f"{quantctl_path} watch {job_id} --addr {quantd.address} | cat",
                           shell=True, capture_output=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    text = piped.stdout.decode()
    controls = {c for c in text if ord(c) < 0x20 and c != "\n"} | (
        {"\x7f"} & set(text))
    assert controls == set(), controls
    progress = [l for l in text.splitlines() if "stage=quantize" in l]
    assert len(progress) == 4
    assert all(l[:20].endswith("Z") and l[4] == "-" for l in progress)
