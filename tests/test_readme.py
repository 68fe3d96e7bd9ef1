"""The README's curl walk-through, run as written against a live stack.

The Procfile's processes run as children over a fresh MariaDB (so ids start at 1, as on a first
`make run`) with the demo data loaded by `python -m gateway load-demo`. The walk-through's sh
block runs in one bash, exactly as written except for the line that names the gateway's address;
every `# -> ANSWER` line in it is the expected output of the commands since the one before, with
`…` matching anything and the spaces between JSON tokens optional (the API answers compact JSON).
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from devstack.servers import MariaDBServer, RedisServer
from tests.chaos.stack import Stack, wait_for_readyz

README: Final = Path(__file__).resolve().parents[1] / "README.md"
SECTION: Final = "## Try it with curl"
BASE_LINE: Final = "B=http://127.0.0.1:8080"
EXPECT: Final = "# -> "
README_ORIGIN: Final = "http://127.0.0.1:8080"
STEP_MARK: Final = "@@readme-step@@"

pytestmark = pytest.mark.timeout(120)


@dataclass(frozen=True, slots=True)
class Step:
    commands: str
    expected: str


def walkthrough() -> list[Step]:
    """The first sh block after SECTION, cut into steps at each `# ->` line."""
    text = README.read_text()
    block = re.search(r"```sh\n(.*?)```", text[text.index(SECTION) :], re.DOTALL)
    assert block is not None, f"no sh block under {SECTION!r}"
    steps: list[Step] = []
    commands: list[str] = []
    for line in block.group(1).splitlines():
        if line.startswith(EXPECT):
            steps.append(Step("\n".join(commands), line.removeprefix(EXPECT)))
            commands = []
        else:
            commands.append(line)
    assert not any(line.strip() and not line.startswith("#") for line in commands), (
        "every command of the walk-through is followed by the answer it gets"
    )
    return steps


def answer_pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(part).replace(r"\ ", " ?") for part in expected.split("…")]
    return re.compile(".*?".join(parts), re.DOTALL)


def script(steps: list[Step], base_url: str) -> str:
    lines = ["set -euo pipefail"]
    for step in steps:
        assert step.commands.count(BASE_LINE) <= 1
        lines += [step.commands.replace(BASE_LINE, f"B={base_url}"), f"echo {STEP_MARK}"]
    return "\n".join(lines) + "\n"


def test_the_walkthrough_has_an_answer_for_every_step() -> None:
    steps = walkthrough()
    assert sum(BASE_LINE in step.commands for step in steps) == 1
    assert len(steps) >= 10
    # A sample answer that is not the API's shape would make the walk-through test vacuous.
    assert answer_pattern('{"a": …, "b": [1, 2]}').fullmatch('{"a":"x","b":[1,2]}')
    assert not answer_pattern('{"a": …, "b": [1, 2]}').fullmatch('{"a":"x","b":[1,3]}')


async def test_the_readme_walkthrough_answers_as_the_readme_says(live_stack: Stack) -> None:
    steps = walkthrough()

    bash = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script(steps, live_stack.base_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await bash.communicate()

    outputs = stdout.decode().split(STEP_MARK + "\n")
    assert len(outputs) == len(steps) + 1, f"stopped early: {stderr.decode()}\n{stdout.decode()}"
    for step, output in zip(steps, outputs, strict=False):
        # The API's own links name the address it runs on; the README's name make run's.
        answer = output.strip().replace(live_stack.base_url, README_ORIGIN)
        assert answer_pattern(step.expected).fullmatch(answer), (
            f"after:\n{step.commands}\nthe README says:\n{step.expected}\nthe stack said:\n{answer}"
        )
    assert bash.returncode == 0, stderr.decode()


@pytest.fixture
async def live_stack(
    tmp_path: Path,
    redis_server: RedisServer,
    private_mariadb: MariaDBServer,
    redis: object,
) -> AsyncIterator[Stack]:
    """The Procfile's processes over a fresh, migrated MariaDB holding the demo data, and the
    session's Redis (flushed by `redis`); rate limits on, as `make run` has them."""
    stack = Stack(
        redis_url=redis_server.url,
        database_url=private_mariadb.url,
        log_dir=tmp_path,
        RATE_LIMITS="on",
    )
    loader = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "load-demo",
        env=stack.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await loader.communicate()
    assert loader.returncode == 0, err.decode()
    assert "demo event 1 " in out.decode()
    try:
        for role in ("engine", "sweeper", "web"):
            stack.start(role, role)
        await stack.wait_for_owners()
        assert await wait_for_readyz(stack.base_url, 200, within=30) is not None
        yield stack
    finally:
        stack.cleanup()
