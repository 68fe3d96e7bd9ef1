"""MariaDB/MySQL access through asyncmy: the pool, migrations and every query."""

from persistence.database import Database, DatabaseUnavailable, TransactionConflict

__all__ = ["Database", "DatabaseUnavailable", "TransactionConflict"]
