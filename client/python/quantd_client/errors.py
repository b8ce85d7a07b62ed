"""Exceptions of the quantd client, one per canonical gRPC code a caller may
want to branch on. Every exception carries the code, the server's message
and, for INVALID_ARGUMENT, the offending field ("scheme.weights.bits");
`attempts` says how many times the call was sent (more than 1 after
retries on UNAVAILABLE)."""

from __future__ import annotations

from typing import Optional

import grpc


class QuantdError(Exception):
    """Base class: a failed call or an unusable job outcome."""

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None,
                 field: str = "", attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.attempts = attempts


class InvalidArgumentError(QuantdError):
    """The request or spec is invalid; `field` names the culprit."""


class NotFoundError(QuantdError):
    """Unknown job, artifact or blob."""


class UnavailableError(QuantdError):
    """The server could not be reached (or the call timed out)."""


class AuthenticationError(QuantdError):
    """UNAUTHENTICATED or PERMISSION_DENIED."""


class RejectedError(QuantdError):
    """The server refused in its current state: FAILED_PRECONDITION (e.g.
    cancelling a finished job), RESOURCE_EXHAUSTED (queue limit, no worker
    could fit the job), ALREADY_EXISTS, ABORTED."""


class IntegrityError(QuantdError):
    """Downloaded bytes did not match their sha256 (DATA_LOSS)."""


class UnimplementedError(QuantdError):
    """The server does not implement the call."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: UnavailableError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: AuthenticationError,
    grpc.StatusCode.FAILED_PRECONDITION: RejectedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RejectedError,
    grpc.StatusCode.ALREADY_EXISTS: RejectedError,
    grpc.StatusCode.ABORTED: RejectedError,
    grpc.StatusCode.DATA_LOSS: IntegrityError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
}


def field_of(message: str) -> str:
    """The field of a "field: reason" message, or "" for prose."""
    head, separator, _ = message.partition(": ")
    if not separator or not head or " " in head:
        return ""
    return head


def from_rpc_error(error: grpc.RpcError, address: str = "",
                   attempts: int = 1) -> QuantdError:
    """Converts a failed gRPC call into the matching QuantdError."""
    code = error.code() if hasattr(error, "code") else None
    details = (error.details() if hasattr(error, "details") else "") or ""
    cls = _BY_CODE.get(code, QuantdError)
    message = details
    if cls is UnavailableError and address:
        message = f"cannot reach quantd at {address}: {details}"
        if attempts > 1:
            message += f" (after {attempts} attempts)"
    field = field_of(details) if code == grpc.StatusCode.INVALID_ARGUMENT else ""
    return cls(message, code=code, field=field, attempts=attempts)
