"""The figures: runs, paired per-round ratios, medians, percentiles, the JSON report and the table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from application_service import database
from ops.bench.plan import JOB_RATE, LATENCY, RATE, Settings, passes, ratio, target_text


@dataclass(frozen=True)
class Run:
    scenario: str
    round: int
    figures: dict[str, float]  # requests_per_second, p50_ms, p99_ms; or jobs_per_second
    detail: dict = field(default_factory=dict)  # what was measured, for the report


def median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3)


def percentiles(values: Sequence[float], *percents: int) -> tuple[float, ...]:
    """The given percentiles (1 to 99) of `values`: statistics.quantiles' cut points, by its
    inclusive method (interpolated between the nearest ranks, as numpy's default). One value is
    every percentile of itself (quantiles needs two); none is a StatisticsError (a ValueError)."""
    if len(values) == 1:
        return tuple(values) * len(percents)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return tuple(cuts[percent - 1] for percent in percents)


def round_ratios(runs: Sequence[Run], subject: str, reference: str, metric: str) -> list[float]:
    """The subject's figure over its reference's, in each round that measured both."""
    by_round = {(run.scenario, run.round): run.figures[metric] for run in runs}
    rounds = sorted({run.round for run in runs if run.scenario == subject})
    ratios = [ratio(by_round[subject, k], by_round[reference, k]) for k in rounds
              if (reference, k) in by_round]
    return [value for value in ratios if value is not None]


def summarize_scenarios(scenarios: Sequence, runs: Sequence[Run]) -> list[dict]:
    """Per scenario: the median of each figure over the rounds, and the median per-round ratio."""
    rows = []
    for scenario in scenarios:
        mine = [run for run in runs if run.scenario == scenario.name]
        figures = {name: median([run.figures[name] for run in mine]) for name in mine[0].figures}
        ratios = (round_ratios(runs, scenario.name, scenario.compare_to, scenario.metric)
                  if scenario.compare_to else [])
        relative = median(ratios) if ratios else None
        rows.append({
            "scenario": scenario.name,
            **figures,
            "metric": scenario.metric,
            "compare_to": scenario.compare_to,
            "round_ratios": ratios,
            "ratio": relative,
            "target": scenario.target,
            "passed": passes(scenario.metric, relative, scenario.target) if scenario.compare_to else None,
            "runs": [{"round": run.round, **run.figures, **run.detail} for run in mine],
        })
    return rows


def summarize(settings: Settings, http: list[dict], jobs: list[dict], latency: dict) -> dict:
    rows = [*http, *jobs]
    return {
        "settings": {**vars(settings), "database_url": database.redact(settings.database_url),
                     "redis_url": database.redact(settings.redis_url),
                     "statistic": f"median of {settings.rounds} rounds; ratios paired within a round"},
        "scenarios": http,
        "jobs": jobs,
        "post_to_processed": latency,
        "passed": all(row["passed"] is not False for row in rows),
    }


def aligned(lines: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in lines]


def ratio_cells(row: dict) -> tuple[str, str, str]:
    verdict = {True: "pass", False: "FAIL", None: "-"}[row["passed"]]
    if row["ratio"] is None:
        return "-", target_text(row["metric"], row["target"]), verdict
    what = " p50" if row["metric"] == LATENCY else ""
    ratios = row["round_ratios"]
    spread = f" (rounds {min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
    return (f"{row['ratio']:.2f}x {row['compare_to']}{what}{spread}",
            target_text(row["metric"], row["target"]), verdict)


def table(report: dict) -> str:
    lines = [("scenario", "requests/s", "p50 ms", "p99 ms", "ratio (median of rounds)", "target", "result")]
    for row in report["scenarios"]:
        lines.append((row["scenario"], f"{row[RATE]:.1f}", f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}",
                      *ratio_cells(row)))
    text = aligned(lines)
    if report["jobs"]:
        jobs = [("job", "jobs/s", "ratio (median of rounds)", "target", "result")]
        jobs += [(row["scenario"], f"{row[JOB_RATE]:.1f}", *ratio_cells(row)) for row in report["jobs"]]
        text += ["", *aligned(jobs)]
    latency = report["post_to_processed"]
    if latency:
        text += ["", f"POST to processed ({latency['messages']} messages at {latency['rate']}/s): "
                     f"p50 {latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms, "
                     f"max {latency['max_ms']:.1f} ms"]
    settings = report["settings"]
    text.append(f"{settings['statistic']}; {settings['duration']}s runs, {settings['connections']} "
                f"connections (wrk, {settings['threads']} thread), {settings['workers']} gunicorn "
                f"workers per server; {settings['jobs']} jobs per batch, worker concurrency "
                f"{settings['concurrency']}")
    return "\n".join(text)
