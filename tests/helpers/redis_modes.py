"""Run a test on one Redis server and on a Redis Cluster.

`@ON_BOTH_REDIS` parametrizes the `redis_url` fixture (tests/conftest.py): every client the test
builds from its settings, the engine's and the gateway's alike, then speaks to that Redis. Kept to
a representative set, since each cluster case costs a test's time again.
"""

from __future__ import annotations

from typing import Final

import pytest

ON_BOTH_REDIS: Final = pytest.mark.parametrize("redis_url", ["single", "cluster"], indirect=True)
ON_CLUSTER: Final = pytest.mark.parametrize("redis_url", ["cluster"], indirect=True)
