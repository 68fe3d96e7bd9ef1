"""A Prometheus for the processes of one machine: its config, and `make observe`.

`prometheus_config` is the one place the scrape config is written, for `make observe` (against
the `make run` stack) and for the test that checks the metrics through a real Prometheus
(tests/telemetry/test_prometheus.py). The config is JSON, which is YAML too, so writing it needs
no YAML library. Prometheus is Debian's package (`prometheus`, with `promtool`), listening on
loopback only.

`python -m devstack.prometheus` (`make observe`) scrapes the ports `make run` gives its
processes (web 9100, engine 9200, sweeper 9300, flusher 9400 by default, see devstack.run) and
keeps its data under `.data/prometheus/`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import orjson

from config import SettingsError
from devstack.run import DATA_DIR, ROOT, DevPorts, metrics_ports, process_counts, procfile_names
from devstack.servers import LOOPBACK, ServerError

ALERT_RULES: Final = ROOT / "docs" / "operations" / "alerts.yml"
PROMETHEUS_DIR: Final = DATA_DIR / "prometheus"


def prometheus_config(
    targets: Mapping[str, Sequence[int]],
    *,
    scrape_interval_seconds: float = 1.0,
    rule_files: Sequence[Path] = (),
) -> bytes:
    """A config scraping each job's loopback ports (a job per Procfile process type)."""
    interval = f"{round(scrape_interval_seconds * 1000)}ms"
    config = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [{"targets": [f"{LOOPBACK}:{port}" for port in ports]}],
            }
            for job, ports in targets.items()
        ],
    }
    return orjson.dumps(config, option=orjson.OPT_INDENT_2)


def default_rule_files() -> list[Path]:
    """The alerting rules of docs/operations, when they are there."""
    return [ALERT_RULES] if ALERT_RULES.exists() else []


def prometheus_command(config: Path, data_dir: Path, port: int) -> list[str]:
    """Debian's prometheus on the loopback `port`, its storage in `data_dir`."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise ServerError("prometheus not found; install it with: sudo apt-get install prometheus")
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address={LOOPBACK}:{port}",
    ]


def main() -> int:
    try:
        ports = DevPorts.from_env(os.environ)
        targets = metrics_ports(ports.metrics, procfile_names(), process_counts(os.environ))
        PROMETHEUS_DIR.mkdir(parents=True, exist_ok=True)
        config = PROMETHEUS_DIR / "prometheus.yml"
        config.write_bytes(prometheus_config(targets, rule_files=default_rule_files()))
        argv = prometheus_command(config, PROMETHEUS_DIR / "data", ports.prometheus)
    except (SettingsError, ServerError) as exc:
        print(f"make observe: {exc}", file=sys.stderr)
        return 1
    print(
        f"Prometheus on http://{LOOPBACK}:{ports.prometheus}/ scraping the make run stack "
        f"({config.relative_to(ROOT)})",
        flush=True,
    )
    # exec: make's SIGTERM, or Ctrl-C, reaches Prometheus itself, which stops cleanly.
    os.execv(argv[0], argv)  # noqa: S606 - our fixed binary and argument list


if __name__ == "__main__":
    sys.exit(main())
