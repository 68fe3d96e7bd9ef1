"""The latency-vs-load curve: open-loop sweeps of the offered rate, their capacity, and the chart.

Latency only means something against an offered load (1,000 buyers in flight at 2,000
decisions/s wait half a second by Little's law whatever the code does), so both the hold-only
rush (`bench.holdrush`) and the engine alone (`bench.engine --sweep`) offer requests at fixed
rates, whatever the answers, and record p50/p99 per rate. The capacity is the highest offered
rate whose p99 stays within 100 ms with no errors and with the load generator on schedule.

    python -m bench.curve [--results bench/results] [--holdrush FILE] [--engine FILE]
                          [--out bench/results/latency-vs-load.png]

draws p50 and p99 against the offered rate for the newest reports of both (or the files given).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Final, TypedDict

import orjson

CAPACITY_P99_MS: Final = 100.0
# The generator is on schedule when it delivered this share of the offered rate...
KEPT_UP_SHARE: Final = 0.95
# ... and its requests left at most this late (p99) against their slots.
KEPT_UP_LAG_MS: Final = 10.0


class SweepPoint(TypedDict):
    offered_per_s: int
    achieved_per_s: int  # decisions per second actually answered
    p50_ms: float
    p99_ms: float
    errors: int
    on_schedule: bool  # the load generator kept to its schedule (else: a lower bound)
    own_p99_ms: float | None  # the engine's own decision p99 from its /metrics, if read
    client_cpu_s: float
    server_cpu_s: float
    seconds: float


def on_schedule(offered: float, achieved: float, lag_p99_ms: float | None) -> bool:
    return achieved >= offered * KEPT_UP_SHARE and (lag_p99_ms or 0.0) <= KEPT_UP_LAG_MS


def capacity(points: list[SweepPoint]) -> int | None:
    """The highest offered rate with p99 <= 100 ms, no errors, and the generator on schedule."""
    good = [
        point["offered_per_s"]
        for point in points
        if point["p99_ms"] <= CAPACITY_P99_MS and not point["errors"] and point["on_schedule"]
    ]
    return max(good) if good else None


def table(points: list[SweepPoint], *, client: str) -> str:
    lines = [
        f"| offered/s | decided/s | p50 ms | p99 ms | engine's own p99 ms | errors | on schedule "
        f"| CPU s: server · {client} |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for point in points:
        lines.append(
            f"| {point['offered_per_s']} | {point['achieved_per_s']} | {point['p50_ms']} "
            f"| {point['p99_ms']} | {point.get('own_p99_ms')} | {point['errors']} "
            f"| {'yes' if point['on_schedule'] else 'no'} "
            f"| {point['server_cpu_s']} · {point['client_cpu_s']} |"
        )
    found = capacity(points)
    lines.append("")
    lines.append(
        f"Capacity (highest offered rate with p99 <= {CAPACITY_P99_MS:.0f} ms, no errors, "
        f"generator on schedule): {'none of these rates' if found is None else f'{found}/s'}."
    )
    return "\n".join(lines)


def newest(results: Path, benchmark: str, key: str) -> Path | None:
    """The newest report of `benchmark` in `results` that holds a non-empty `key`."""
    for path in sorted(results.glob(f"{benchmark}-*.json"), reverse=True):
        if orjson.loads(path.read_bytes()).get(key):
            return path
    return None


def draw(panels: list[tuple[str, list[SweepPoint]]], out: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    for axis, (title, points) in zip(axes[0], panels, strict=True):
        offered = [point["offered_per_s"] for point in points]
        axis.plot(offered, [max(point["p50_ms"], 0.1) for point in points], "o-", label="p50")
        axis.plot(offered, [max(point["p99_ms"], 0.1) for point in points], "s-", label="p99")
        own = [(point["offered_per_s"], point.get("own_p99_ms")) for point in points]
        if any(value is not None for _, value in own):
            axis.plot(
                [rate for rate, value in own if value is not None],
                [max(value, 0.1) for _, value in own if value is not None],
                "^:",
                label="p99 in the engine (its /metrics)",
            )
        off = [point for point in points if point["errors"] or not point["on_schedule"]]
        if off:
            axis.plot(
                [point["offered_per_s"] for point in off],
                [max(point["p99_ms"], 0.1) for point in off],
                "x",
                color="black",
                markersize=10,
                label="errors, or generator behind",
            )
        axis.axhline(CAPACITY_P99_MS, color="grey", linestyle="--", linewidth=1)
        found = capacity(points)
        if found is not None:
            axis.axvline(found, color="green", linestyle=":", linewidth=1.5)
            axis.annotate(
                f"capacity {found}/s",
                (found, CAPACITY_P99_MS),
                textcoords="offset points",
                xytext=(4, 6),
                color="green",
            )
        axis.set_yscale("log")
        axis.set_xlabel("offered load (requests/s, open loop)")
        axis.set_ylabel("latency (ms)")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(loc="upper left")
    figure.suptitle(f"Latency against offered load: {subtitle}", fontsize=10)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def _describe(report: dict[str, Any]) -> str:
    host = report.get("machine", {})
    load = report.get("load_average")
    where = f"{host.get('cores', '?')} cores"
    return f"{report['benchmark']} {report['at']} ({where}, load {load})" if load else where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.curve")
    parser.add_argument("--results", type=Path, default=Path("bench/results"))
    parser.add_argument("--holdrush", type=Path, help="a holdrush report (default: the newest)")
    parser.add_argument("--engine", type=Path, help="an engine report with a sweep (the newest)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/latency-vs-load.png"))
    args = parser.parse_args(argv)
    sources = {
        "holdrush": args.holdrush or newest(args.results, "holdrush", "sweep"),
        "engine": args.engine or newest(args.results, "engine", "sweep"),
    }
    titles = {
        "holdrush": "Hold-only rush over HTTP (wrk, one event)",
        "engine": "Engine alone (one shard, EngineClient)",
    }
    panels: list[tuple[str, list[SweepPoint]]] = []
    described = []
    for name, path in sources.items():
        if path is None:
            print(f"no {name} report with a sweep in {args.results}; left out", file=sys.stderr)
            continue
        report = orjson.loads(path.read_bytes())
        panels.append((titles[name], report["sweep"]))
        described.append(_describe(report))
    if not panels:
        print("nothing to draw", file=sys.stderr)
        return 1
    draw(panels, args.out, "; ".join(described))
    print(f"latency-vs-load chart written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
