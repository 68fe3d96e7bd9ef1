"""The OpenAPI 3.1 description of the HTTP API, written by hand beside the handlers it describes.

It is data, not introspection, so it says what the handlers do rather than what their signatures
suggest: each operation lists every status its handler can answer with, and each request schema
carries the checks the handler makes (lengths, ranges, item counts, unknown keys refused or
ignored). A property-based fuzzer reads it, so where a check cannot be said in JSON Schema (one
field compared with another, a venue's seat total) the description says it instead.

`tests/gateway/test_openapi.py` fails when a route is added without a description here, or a
description outlives its route.

The package: `constraints` (limits and patterns), `blocks` (shared pieces), `paths/` (one
module per resource), `schemas`, and `document`, which assembles them.
"""

from gateway.openapi.document import openapi_document

__all__ = ["openapi_document"]
