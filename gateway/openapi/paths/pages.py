"""The buyer's page and its files (not part of the API)."""

from __future__ import annotations

from typing import Any

from gateway.openapi.blocks import STRING, error, operation


def page_paths() -> dict[str, Any]:
    note = "Not part of the API: the page a browser opens, and the files it loads."
    return {
        "/": {
            "get": operation(
                "buyerPage",
                "pages",
                "The buyer's page: events, seat maps, holds, checkout, bookings, organizer view",
                {
                    "200": {
                        "description": "The page.",
                        "content": {"text/html": {"schema": STRING}},
                    }
                },
                public=True,
                description=note,
            )
        },
        "/static/{path}": {
            "get": operation(
                "staticFile",
                "pages",
                "A script, stylesheet or other file of the buyer's page",
                {
                    "200": {
                        "description": "The file, with its own content type.",
                        "content": {"*/*": {"schema": STRING}},
                    },
                    "404": error("`not_found`: no such file."),
                },
                public=True,
                description=note,
                parameters=[
                    {
                        "name": "path",
                        "in": "path",
                        "required": True,
                        "description": "The file's path under the page's static folder.",
                        "schema": STRING,
                    }
                ],
            )
        },
    }
