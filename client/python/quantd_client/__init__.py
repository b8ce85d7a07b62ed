"""Python client for quantd, the quantization-as-a-service scheduler.

    from quantd_client import Client
    with Client("127.0.0.1:7070") as client:
        job = client.submit(model="model.gguf", method="osplus", scheme="w8a8")
        job = client.wait(job.id, on_progress=print)
        client.fetch(job.id, "out/")

`quantd_client.aio.Client` is the asyncio variant (same methods, awaited);
`quantd_client.mlflow` logs a finished job to MLflow (extra "mlflow"); the
messages and stubs of the API are in `quantd_client.v1` (generated from
proto/quantd/v1 and shipped with the package).
"""

from quantd_client._version import API_VERSION, __version__
from quantd_client.client import Client
from quantd_client.errors import (AuthenticationError, IntegrityError,
                                  InvalidArgumentError, NotFoundError,
                                  QuantdError, RejectedError, UnavailableError,
                                  UnimplementedError)
from quantd_client.retry import RetryPolicy
from quantd_client.spec import data_ref, make_spec, request_id_for
from quantd_client.states import is_terminal, state_name

__all__ = [
    "API_VERSION", "AuthenticationError", "Client", "IntegrityError",
    "InvalidArgumentError", "NotFoundError", "QuantdError", "RejectedError",
    "RetryPolicy", "UnavailableError", "UnimplementedError", "__version__",
    "data_ref", "is_terminal", "make_spec", "request_id_for", "state_name",
]
