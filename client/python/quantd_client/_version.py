"""The client's version, tied to the API it speaks.

The major version is the API's (`quantd.v1` -> 1.x.y); the minor grows when
the client gains features or the v1 API gains fields; the patch is for
fixes. pyproject.toml reads `__version__` from here.
"""

API_VERSION = "v1"
__version__ = "1.1.0"
