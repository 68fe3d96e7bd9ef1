"""Fixtures of the fault suite, and the results table printed at the end of the session.

Scenarios run the Procfile's processes as children (`Stack`) over the session's Redis and MariaDB,
or over private ones when the fault is stopping that server. `CHAOS_SCALE` (default 1, the short
variants in `make test`) multiplies the size of each rush and the length of each outage.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from devstack.servers import MariaDBServer, RedisServer
from tests.chaos.report import RESULTS, ScenarioResult, table, write_json
from tests.chaos.stack import Stack


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    result = getattr(item, "chaos_result", None)
    if isinstance(result, ScenarioResult) and (report.when == "call" or report.failed):
        if hasattr(report, "wasxfail"):
            result.outcome = "xfailed" if report.skipped else "XPASS"
        else:
            result.outcome = report.outcome


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("fault suite")
    for line in table(RESULTS):
        terminalreporter.write_line(line)
    write_json(RESULTS)


@pytest.fixture
def chaos_result(request: pytest.FixtureRequest) -> ScenarioResult:
    """This scenario's row of the table; fill it in before asserting."""
    doc = getattr(request.node, "function", None).__doc__ or request.node.name
    name = doc.strip().splitlines()[0].rstrip(".")
    result = ScenarioResult(scenario=name)
    request.node.chaos_result = result
    RESULTS.append(result)
    return result


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """`make_stack(redis_url, database_url, **env)`; every child is gone after the test."""
    stacks: list[Stack] = []

    def make(redis_url: str, database_url: str, **env: str) -> Stack:
        log_dir = tmp_path / f"stack-{len(stacks)}"
        log_dir.mkdir()
        stack = Stack(redis_url=redis_url, database_url=database_url, log_dir=log_dir, **env)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.cleanup()


@pytest.fixture
def stack(
    make_stack: Callable[..., Stack], redis_server: RedisServer, mariadb_server: MariaDBServer
) -> Stack:
    """The Procfile's processes over the session's Redis and MariaDB (none started yet)."""
    return make_stack(redis_server.url, mariadb_server.url)
