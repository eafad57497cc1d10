"""`invoke bench`: the project's pages, API and jobs beside bare baselines, in paired rounds.

    plan.py        what is measured: servers, workers, scenarios, settings, the order of rounds
    wrk.py         the HTTP load generator: command, run, report parsing
    servers.py     gunicorn servers and Celery workers: commands, environments, start and stop
    data.py        the bench databases: created, seeded in bulk by SQL, read, dropped
    load.py        the HTTP scenarios, each run checked
    job_rounds.py  the Celery scenarios: jobs/s of a batch, time from POST to processed
    report.py      runs, per-round ratios, medians, percentiles, the JSON report and the table
    runner.py      the whole bench, start to end
    soak.py        `invoke bench --soak`: minutes of mixed traffic at a fixed rate (locust running
                   soak_traffic.py), latency, errors, jobs and each process's memory
    references/    what the gunicorn servers and Celery workers load beside the project: the
                   reference Django projects, the bare Celery app, the bench's no-op job
"""

from ops.bench import soak
from ops.bench.plan import Settings, with_options
from ops.bench.runner import REPORT, measure

__all__ = ["REPORT", "Settings", "measure", "soak", "with_options"]
