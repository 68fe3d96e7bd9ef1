"""Every path of the document, one module per resource."""

from __future__ import annotations

from typing import Any

from gateway.openapi.blocks import content, operation, ref
from gateway.openapi.paths.admin import admin_paths
from gateway.openapi.paths.auth import auth_paths
from gateway.openapi.paths.catalog import catalog_paths
from gateway.openapi.paths.holds import hold_paths
from gateway.openapi.paths.local_checkout import local_checkout_paths
from gateway.openapi.paths.pages import page_paths
from gateway.openapi.paths.payments import payment_paths
from gateway.openapi.paths.queue import queue_paths


def paths() -> dict[str, Any]:
    return {
        "/healthz": {
            "get": operation(
                "healthz",
                "health",
                "Liveness: the process answers",
                {"200": content("Alive.", ref("Health"))},
                public=True,
            )
        },
        "/readyz": {
            "get": operation(
                "readyz",
                "health",
                "Readiness: Redis and MariaDB both answer",
                {
                    "200": content("Both dependencies answer.", ref("Readiness")),
                    "503": content(
                        "A dependency does not answer; `checks` says which. This is the "
                        "readiness body, not the error shape, and carries no Retry-After.",
                        ref("Readiness"),
                    ),
                },
                public=True,
            )
        },
        "/api/v1/openapi.json": {
            "get": operation(
                "openapi",
                "meta",
                "This document",
                {"200": content("The OpenAPI 3.1 document.", {"type": "object"})},
                public=True,
            )
        },
        **auth_paths(),
        **catalog_paths(),
        **admin_paths(),
        **hold_paths(),
        **queue_paths(),
        **payment_paths(),
        **local_checkout_paths(),
        **page_paths(),
    }
