"""`make observe`'s Prometheus: it scrapes the ports honcho gives `make run`'s processes, with a
config that Prometheus' own checker accepts (alerting rules included once they exist)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson

from devstack.prometheus import default_rule_files, prometheus_config
from devstack.run import DevPorts, metrics_ports, procfile_names


def test_each_procfile_process_gets_a_metrics_port_a_hundred_apart() -> None:
    base = DevPorts.from_env({}).metrics
    assert metrics_ports(base, procfile_names()) == {
        "web": [9100],
        "engine": [9200],
        "sweeper": [9300],
        "flusher": [9400],
    }


def test_further_gateways_get_the_next_ports_as_honcho_numbers_them() -> None:
    assert metrics_ports(9100, procfile_names(), {"web": 3}) == {
        "web": [9100, 9101, 9102],
        "engine": [9200],
        "sweeper": [9300],
        "flusher": [9400],
    }


def test_the_config_scrapes_every_second_and_passes_promtool(tmp_path: Path) -> None:
    targets = metrics_ports(9100, procfile_names(), {"web": 2})
    raw = prometheus_config(targets, rule_files=default_rule_files())
    config = orjson.loads(raw)
    assert config["global"]["scrape_interval"] == "1000ms"
    assert {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    } == {
        "web": ["127.0.0.1:9100", "127.0.0.1:9101"],
        "engine": ["127.0.0.1:9200"],
        "sweeper": ["127.0.0.1:9300"],
        "flusher": ["127.0.0.1:9400"],
    }
    path = tmp_path / "prometheus.yml"
    path.write_bytes(raw)
    checked = subprocess.run(
        ["promtool", "check", "config", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
