"""Ordered, idempotent schema migrations.

A small runner rather than a migration framework: the schema is plain SQL files named
`NNNN_title.sql`, applied in order and recorded in `schema_migrations`. MariaDB commits DDL
implicitly, so each file is written to be safe to re-run (`IF NOT EXISTS`), and a named lock keeps
two processes from migrating at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Final

from config import DatabaseSettings, Settings, SettingsError
from persistence.database import Database

log = logging.getLogger(__name__)

_LOCK_NAME: Final = "rushqueue_migrations"
_FILE_NAME: Final = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Longer than the pool's read timeout on purpose: GET_LOCK below waits up to 60 s for another
# migrating process, and a statement may rebuild a big table. Still bounded, so a hung server
# ends a migration with an error rather than never.
_READ_TIMEOUT_SECONDS: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        # Our migration files never put ';' inside a literal, so splitting on it is exact.
        lines = [line for line in self.sql.splitlines() if not line.lstrip().startswith("--")]
        return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def load_migrations() -> list[Migration]:
    folder = resources.files("persistence") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda migration: migration.version)
    return found


async def migrate(db: Database) -> list[str]:
    """Apply every migration not yet recorded; return the names applied."""
    applied_now: list[str] = []
    async with db.long_transaction(read_timeout_seconds=_READ_TIMEOUT_SECONDS) as conn:
        got = await conn.fetch_value("SELECT GET_LOCK(%s, 60)", (_LOCK_NAME,))
        if got != 1:
            raise RuntimeError("another process holds the migration lock")
        try:
            # `IF NOT EXISTS` on something that exists is a note, not news: don't log it.
            await conn.execute("SET SESSION sql_notes = 0")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INT UNSIGNED NOT NULL PRIMARY KEY,"
                " name VARCHAR(200) NOT NULL,"
                " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"
            )
            rows = await conn.fetch_all("SELECT version FROM schema_migrations")
            done = {int(row["version"]) for row in rows}
            for migration in load_migrations():
                if migration.version in done:
                    continue
                log.info("applying migration %s", migration.name)
                for statement in migration.statements():
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
                await conn.execute("COMMIT")
                applied_now.append(migration.name)
        finally:
            await conn.execute("DO RELEASE_LOCK(%s)", (_LOCK_NAME,))
    return applied_now


async def _main(settings: DatabaseSettings) -> None:
    db = await Database.connect(settings)
    try:
        applied = await migrate(db)
    finally:
        await db.close()
    print(f"migrations: {len(applied)} applied" + (f" ({', '.join(applied)})" if applied else ""))


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m persistence.migrate").parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_main(settings.database))
    return 0


if __name__ == "__main__":
    sys.exit(main())
