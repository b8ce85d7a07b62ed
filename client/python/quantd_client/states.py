"""Job states: names and which ones are final."""

from __future__ import annotations

from quantd_client.v1 import types_pb2

TERMINAL_STATES = frozenset({types_pb2.JOB_STATE_SUCCEEDED,
                             types_pb2.JOB_STATE_FAILED,
                             types_pb2.JOB_STATE_CANCELLED})


def state_name(state: int) -> str:
    """"SUCCEEDED" for JOB_STATE_SUCCEEDED."""
    return types_pb2.JobState.Name(state).removeprefix("JOB_STATE_")


def is_terminal(state: int) -> bool:
    """Whether a job in `state` can never change again."""
    return state in TERMINAL_STATES
