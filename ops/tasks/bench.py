"""bench: the service's speed beside bare Django and Celery references (see README, Benchmarks).

The bench (ops/bench/) stays in the repository: the image, which loads this module too, does not
carry it, so it is imported when the task runs.
"""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, Exit

from ops.tasks import from_checkout, task


@task(
    name="run",
    default=True,
    auto_shortflags=False,  # long options only: none of them takes -h (help) or -V (version)
    help={
        "duration": "seconds of load per run (default 5)",
        "connections": "connections wrk keeps open (default 16)",
        "workers": "gunicorn workers of every server (config serve.workers)",
        "rounds": "rounds; each runs every scenario beside its baseline, the median counts (default 5)",
        "jobs": "Celery jobs per batch (default 2000)",
        "messages": "messages POSTed one by one to time POST to processed (default 200)",
        "database_url": "MySQL URL of the throwaway bench database, dropped and created fresh "
                        "(default mysql://root@127.0.0.1:3306/little_service_bench; _small appended "
                        "for the small-table one)",
        "redis_url": "Redis for the cache, throttles and broker (default redis://127.0.0.1:6379/13)",
        "check": "exit non-zero when a scenario misses its target (with --soak: an error, or a "
                 "process whose memory grew by 10% or more)",
        "soak": "instead of the paired scenarios, minutes of mixed traffic (pages, API reads and "
                "writes, jobs) at a fixed rate with locust: latency, errors and every process's memory "
                "(database default .../little_service_bench_soak)",
        "soak_seconds": "with --soak: seconds of measured traffic (default 300)",
        "soak_rate": "with --soak: requests per second, all clients together (default 50)",
        "soak_warmup": "with --soak: seconds of the same traffic before memory is first read (default 15)",
    }
)
def run(c, duration=None, connections=None, workers=None, rounds=None, jobs=None, messages=None,
        database_url=None, redis_url=None, check=False, soak=False, soak_seconds=None, soak_rate=None,
        soak_warmup=None):
    """Measure the pages, the API and the jobs beside bare Django and Celery, or soak them at a fixed rate."""
    paired = {"duration": duration, "connections": connections, "rounds": rounds, "jobs": jobs,
              "messages": messages}
    soaking = {"soak-seconds": soak_seconds, "soak-rate": soak_rate, "soak-warmup": soak_warmup}
    if soak:
        given = [f"--{name}" for name, value in paired.items() if value is not None]
        if given:
            raise Exit(f"bench: {', '.join(given)} set the paired scenarios, not --soak: leave them out "
                       f"(--soak-seconds and --soak-rate set the soak).")
        return run_soak(c, workers=workers, database_url=database_url, redis_url=redis_url, check=check,
                        soak_seconds=soak_seconds, soak_rate=soak_rate, soak_warmup=soak_warmup)
    given = [f"--{name}" for name, value in soaking.items() if value is not None]
    if given:
        raise Exit(f"bench: {', '.join(given)} only apply with --soak: add --soak, or leave them out.")
    benchmark = from_checkout("ops.bench", "bench")
    settings = benchmark.with_options(
        benchmark.Settings(workers=int(c.config.serve.workers)), duration=duration,
        connections=connections, workers=workers, rounds=rounds, jobs=jobs, messages=messages,
        database_url=database_url, redis_url=redis_url,
    )
    report = benchmark.measure(c, settings)
    if check and not report["passed"]:
        raise Exit("bench: a scenario missed its target (see the table above).")


def run_soak(c, *, workers, database_url, redis_url, check, **options) -> None:
    benchmark = from_checkout("ops.bench", "bench")
    settings = benchmark.with_options(benchmark.soak.SoakSettings(workers=int(c.config.serve.workers)),
                                      workers=workers, database_url=database_url, redis_url=redis_url,
                                      **options)
    report = benchmark.soak.measure(c, settings)
    if check and not report["passed"]:
        raise Exit("bench --soak: a target was missed (see above).")


@task(name="first-page", auto_shortflags=False, help={
    "source": "the repository to clone (default: this checkout; a clone holds its commits, not "
              "uncommitted changes)",
    "ref": "the commit, branch or tag to check out in each clone (default HEAD)",
    "python": "the python3 that runs bootstrap.py (default: this Python's base interpreter)",
    "timeout": "seconds each run may take to answer 200 (default 900)",
})
def first_page(c, source=None, ref="HEAD", python=None, timeout=900):
    """Time a fresh clone's `python3 bootstrap.py dev` to its first page: empty cache, warm, second run."""
    first = from_checkout("ops.bench.first_page", "bench.first-page")
    report = first.measure(source=Path(source) if source else first.REPOSITORY, ref=ref,
                           python=python, timeout=float(timeout))
    first.write(report)
    print(first.table(report))
    print(f"(figures in {first.REPORT})")


ns = Collection("bench", run, first_page)
