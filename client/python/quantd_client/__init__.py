"""Python client for quantd, the quantization-as-a-service scheduler.

    from quantd_client import Client
    with Client("127.0.0.1:7070") as client:
        job = client.submit(model="model.gguf", method="osplus", scheme="w8a8")
        job = client.wait(job.id, on_progress=print)
        client.fetch(job.id, "out/")

Needs the generated stubs (`quantd.v1`, built by the quantd_proto_python
target into <build>/python) on the import path.
"""

from quantd_client.client import Client, is_terminal, state_name
from quantd_client.errors import (AuthenticationError, IntegrityError,
                                  InvalidArgumentError, NotFoundError,
                                  QuantdError, RejectedError, UnavailableError,
                                  UnimplementedError)
from quantd_client.spec import data_ref, make_spec

__all__ = [
    "AuthenticationError", "Client", "IntegrityError", "InvalidArgumentError",
    "NotFoundError", "QuantdError", "RejectedError", "UnavailableError",
    "UnimplementedError", "data_ref", "is_terminal", "make_spec", "state_name",
]
__version__ = "0.1.0"
