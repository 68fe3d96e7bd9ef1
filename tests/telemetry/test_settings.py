"""The telemetry settings: off and quiet by default, and a bad value stops start-up with one line
naming the variable."""

from __future__ import annotations

import pytest

from config import Settings, SettingsError
from config.settings import LogFormat


def test_by_default_no_metrics_port_text_logs_and_no_access_log() -> None:
    telemetry = Settings.from_env({}).telemetry
    assert telemetry.metrics_port == 0
    assert telemetry.log_format is LogFormat.TEXT
    assert telemetry.access_log is False


def test_variables_turn_them_on() -> None:
    telemetry = Settings.from_env(
        {"METRICS_PORT": "9100", "LOG_FORMAT": "json", "ACCESS_LOG": "on"}
    ).telemetry
    assert (telemetry.metrics_port, telemetry.log_format, telemetry.access_log) == (
        9100,
        LogFormat.JSON,
        True,
    )


def test_an_explicit_zero_turns_metrics_off() -> None:
    assert Settings.from_env({"METRICS_PORT": "0"}).telemetry.metrics_port == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("METRICS_PORT", "-1"),
        ("METRICS_PORT", "65536"),
        ("METRICS_PORT", "prometheus"),
        ("LOG_FORMAT", "xml"),
        ("ACCESS_LOG", "yes"),
    ],
)
def test_a_malformed_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}={value!r} is invalid"), message
    assert "\n" not in message
