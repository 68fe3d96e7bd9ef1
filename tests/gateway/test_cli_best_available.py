"""`python -m gateway create-event --no-single-gaps`: the organizer's switch from the CLI."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.gateway.test_cli import LAYOUTS, cli_env, run_cli, write_json

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["cli_env"]  # the fixture, shared with test_cli


async def test_create_event_can_refuse_orphan_seats(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    venue_run = await run_cli(cli_env, "create-venue", "--file", str(LAYOUTS / "demo-venue.json"))
    assert venue_run.code == 0, venue_run.stderr
    event_file = json.loads((LAYOUTS / "demo-event.json").read_text())
    event_file["venue_id"] = json.loads(venue_run.stdout)["venue"]["id"]
    path = str(write_json(tmp_path / "event.json", event_file))

    strict = await run_cli(cli_env, "create-event", "--file", path, "--no-single-gaps")
    lenient = await run_cli(cli_env, "create-event", "--file", path)

    assert strict.code == lenient.code == 0, strict.stderr + lenient.stderr
    assert json.loads(strict.stdout)["event"]["no_single_gaps"] is True
    assert json.loads(lenient.stdout)["event"]["no_single_gaps"] is False
