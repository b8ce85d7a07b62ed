"""Channel settings shared by the blocking and the asyncio client."""

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple

import grpc

#: Reconnect quickly after an outage: gRPC's default backoff grows to two
#: minutes, during which every call would fail at once.
CHANNEL_OPTIONS: List[Tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5000),
    ("grpc.max_receive_message_length", 16 << 20),
]


def credentials(tls: bool, root_certificates: Optional[bytes],
                private_key: Optional[bytes],
                certificate_chain: Optional[bytes]
                ) -> Optional[grpc.ChannelCredentials]:
    """TLS credentials when `tls` or any PEM is given, else None (plain)."""
    if (private_key is None) != (certificate_chain is None):
        raise ValueError("a client certificate needs both private_key "
                         "and certificate_chain")
    if tls or root_certificates is not None or private_key is not None:
        return grpc.ssl_channel_credentials(root_certificates, private_key,
                                            certificate_chain)
    return None


def token_or_environment(token: Optional[str]) -> Optional[str]:
    """`token`, or $QUANTD_TOKEN when `token` is None."""
    return token if token is not None else os.environ.get("QUANTD_TOKEN")


def metadata(token: Optional[str]) -> Sequence[Tuple[str, str]]:
    """The call metadata carrying the bearer token, if any."""
    return (("authorization", f"Bearer {token}"),) if token else ()
