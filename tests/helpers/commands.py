"""Running one of the project's own commands as a user does, bounded in time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]


def run_module(module: str, *arguments: str, within: float) -> str:
    """Run `python -m <module> <arguments>` from the checkout; its output, once it exited 0.

    Past `within` seconds it gets SIGTERM first (a benchmark then stops the servers and
    processes it started), and a kill only if that does not end it."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = process.communicate(timeout=within)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
    assert process.returncode == 0, f"{module} exited with {process.returncode}:\n{output}"
    return output
