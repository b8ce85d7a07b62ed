"""quantctl against a token-protected quantd: --token and QUANTD_TOKEN send
"authorization: Bearer <token>", and a real UNAUTHENTICATED or
PERMISSION_DENIED ends with exit code 4 (docs/CLI.md)."""

from __future__ import annotations

import os
import subprocess

from security_harness import binary, submit, spec_for


def quantctl(quantd, *args, env_token=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTD_")}
    env["HOME"] = os.environ.get("HOME", "/tmp")
    env["XDG_CONFIG_HOME"] = "/nonexistent"
    if env_token is not None:
        env["QUANTD_TOKEN"] = env_token
    return subprocess.run(
        [str(binary("QUANTCTL", "client/quantctl")), "--addr", quantd.address,
         "--connect-timeout-seconds", "5", *args],
        capture_output=True, text=True, timeout=60, env=env)


def test_no_token_exits_4_with_a_hint(quantd):
    result = quantctl(quantd, "list")
    assert result.returncode == 4, result.stderr
    assert "missing bearer token" in result.stderr
    assert "--token" in result.stderr


def test_wrong_token_exits_4(quantd):
    result = quantctl(quantd, "--token", "nope", "list")
    assert result.returncode == 4, result.stderr
    assert "invalid or expired bearer token" in result.stderr


def test_flag_and_environment_tokens_work(quantd):
    assert quantctl(quantd, "--token", "alice-token", "list").returncode == 0
    assert quantctl(quantd, "list", env_token="alice-token").returncode == 0


def test_permission_denied_exits_4(quantd, stubs, roots):
    job = submit(stubs, "alice-token",
                 spec_for(f"file://{roots / 'models/tiny'}"), "cli-job")
    result = quantctl(quantd, "--token", "bob-token", "get", job.id)
    assert result.returncode == 4, result.stderr
    assert "not accessible" in result.stderr
    assert quantctl(quantd, "--token", "alice-token", "get",
                    job.id).returncode == 0
    result = quantctl(quantd, "--token", "worker-token", "list")
    assert result.returncode == 4, result.stderr
