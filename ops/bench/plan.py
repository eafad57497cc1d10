"""What `invoke bench` measures, as data: the servers and workers, the scenarios, the rounds.

Every measured scenario names the reference it is compared with. Each round measures a subject
and its reference back to back (a group of at most two subjects is run as subject, reference,
subject, so every subject neighbours its reference), and the order flips every round. The
ratio of a round is taken between neighbours, so a noisy machine, which can halve a server's
rate from one round to the next, moves both sides of a ratio together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from application_service import database
from ops.errors import UserError

PROJECT_APP = "application_service.wsgi:application"  # what commands.gunicorn serves
PROJECT_CELERY_APP = "application_service.celery"  # what commands.celery_worker runs
DEFAULT_DATABASE_URL = "mysql://root@127.0.0.1:3306/little_service_bench"
# A Redis database of the bench's own; its keys also carry a per-run prefix, removed afterwards.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
RATE = "requests_per_second"
JOB_RATE = "jobs_per_second"
LATENCY = "p50_ms"


@dataclass(frozen=True)
class Server:
    name: str
    app: str  # gunicorn's module:variable
    settings: str | None  # DJANGO_SETTINGS_MODULE; None: the production environment's own
    small: bool = False  # on the database of `Settings.small_rows` messages instead of `rows`


PROJECT = Server("project", PROJECT_APP, None)
PROJECT_SMALL = Server("project-small-table", PROJECT_APP, None, small=True)
REFERENCES_APP = "ops.bench.references.wsgi:application"
# The references, from the bottom: written SQL and no apps; Django with the project's apps and
# ORM but no middleware; the project's own settings and middleware with Django's views, no DRF.
BASELINE = Server("baseline", REFERENCES_APP, "ops.bench.references.baseline")
BARE_DJANGO = Server("bare-django", REFERENCES_APP, "ops.bench.references.orm")
DJANGO_JSON = Server("django-json", REFERENCES_APP, "ops.bench.references.django_json")


@dataclass(frozen=True)
class Worker:
    name: str
    app: str  # celery --app
    own_settings: bool  # False: the production environment's settings (the project's worker)
    include: str = ""  # celery worker --include: modules of jobs the app does not find itself


# The bench's no-op job is the bench's, not the product's: the project's worker imports it.
BENCH_JOBS = "ops.bench.references.jobs"
PROJECT_WORKER = Worker("project-worker", PROJECT_CELERY_APP, own_settings=False, include=BENCH_JOBS)
BARE_WORKER = Worker("bare-celery", "ops.bench.references.celery_baseline", own_settings=True)

LIST = "/api/v1/messages/"
DETAIL = "/api/v1/messages/{id}/"  # the id of the middle row of the seeded table
# The service's own answer {"name", "value"} for the counter that the counter page raises.
COUNTER = "/api/v1/counter/"


@dataclass(frozen=True)
class Scenario:
    """An HTTP load: wrk on `path` of `server`."""

    name: str
    server: Server
    path: str = "/"
    counts: bool = False  # each request raises the counter by one (read from the project's COUNTER)
    compare_to: str | None = None  # the scenario this one is divided by, round by round
    target: float | None = None  # rates: the least ratio; latencies: the most either way
    metric: str = RATE
    connections: int | None = None  # None: Settings.connections


@dataclass(frozen=True)
class JobScenario:
    """A batch of jobs released at once to a worker, timed until the last one ran."""

    name: str
    worker: Worker
    task: str
    kind: str  # "noop": counts itself in Redis; "message": processes a pending message
    compare_to: str | None = None
    target: float | None = None
    metric: str = JOB_RATE


SCENARIOS: list[Scenario] = [
    # The page against the same view in Django with no middleware (the same service function and
    # template): what the project's settings, middleware and URLs cost.
    Scenario("counter page", PROJECT, "/", counts=True, compare_to="bare django", target=0.9),
    Scenario("bare django", BARE_DJANGO, "/", counts=True),
    # The API against the same pages as plain Django views in the project (its settings,
    # middleware and selectors, no DRF): what DRF and the API's patterns cost.
    Scenario("api list", PROJECT, LIST, compare_to="django json list", target=0.7),
    Scenario("django json list", DJANGO_JSON, LIST),
    Scenario("api detail", PROJECT, DETAIL, compare_to="django json detail", target=0.7),
    Scenario("django json detail", DJANGO_JSON, DETAIL),
    # Below the project: the ORM's cost (its selectors, no middleware) over written SQL.
    Scenario("orm json list", BARE_DJANGO, LIST, compare_to="bare json list"),
    Scenario("bare json list", BASELINE, LIST),
    Scenario("orm json detail", BARE_DJANGO, DETAIL, compare_to="bare json detail"),
    Scenario("bare json detail", BASELINE, DETAIL),
    # Latency at one connection (the time of one request, not of a queue), 100 vs 100,000 rows.
    Scenario("api list of 100 rows", PROJECT_SMALL, LIST, metric=LATENCY, connections=1),
    Scenario("api list of 100,000 rows", PROJECT, LIST, metric=LATENCY, connections=1,
             compare_to="api list of 100 rows", target=1.5),
]

JOB_SCENARIOS: list[JobScenario] = [
    JobScenario("project no-op job", PROJECT_WORKER, f"{BENCH_JOBS}.noop", "noop",
                compare_to="bare celery no-op", target=0.8),
    JobScenario("bare celery no-op", BARE_WORKER, "ops.bench.references.celery_baseline.noop", "noop"),
    JobScenario("message job", PROJECT_WORKER, "application.jobs.message_process", "message",
                compare_to="bare celery no-op"),
]


@dataclass(frozen=True)
class Settings:
    duration: int = 5  # seconds of load per run
    connections: int = 16
    workers: int = 2  # gunicorn workers of every server
    rounds: int = 5
    threads: int = 1  # wrk's: one thread outpaces two cores of Django; the rest serve
    warmup: int = 1  # seconds of unmeasured load per scenario before the first round
    rows: int = 100_000  # messages in the bench database
    small_rows: int = 100  # messages in the small-table database (the latency comparison)
    jobs: int = 2000  # jobs per batch
    concurrency: int = 2  # prefork processes of every Celery worker
    messages: int = 200  # messages POSTed one by one for the time from POST to processed
    message_rate: float = 20.0  # of those POSTs, per second
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL

    def check(self) -> None:
        for name in ("duration", "connections", "workers", "rounds", "threads", "rows", "small_rows",
                     "jobs", "concurrency", "messages"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be 1 or more (got {getattr(self, name)}).")
        if self.message_rate <= 0:
            raise UserError(f"--message-rate must be above 0 (got {self.message_rate}).")
        if self.connections < self.threads:
            raise UserError(f"--connections must be at least wrk's threads ({self.threads}).")
        config = database.parse(self.database_url)
        if config["ENGINE"] != database.MYSQL_ENGINE:
            raise UserError(f"The bench runs on MySQL: --database-url "
                            f"{database.redact(self.database_url)!r} is not mysql://...")
        if "bench" not in config["NAME"]:
            raise UserError(f"The bench drops and recreates its database; {config['NAME']!r} has "
                            f"no 'bench' in its name, so it is refused (e.g. little_service_bench).")
        if not self.redis_url.startswith(("redis://", "rediss://")):
            raise UserError(f"--redis-url {database.redact(self.redis_url)!r} is not redis://...")

    @property
    def small_database_url(self) -> str:
        """The bench database's sibling holding `small_rows` messages (name + _small)."""
        base, _, query = self.database_url.partition("?")
        return f"{base}_small" + (f"?{query}" if query else "")


def with_options(settings: Settings, **options: object) -> Settings:
    """The settings with each option that was given (None: keep), as the type of its default."""
    given = {}
    for name, value in options.items():
        if value is None:
            continue
        kind = type(getattr(settings, name))
        try:
            given[name] = kind(value)
        except ValueError:
            raise UserError(f"--{name.replace('_', '-')} {value!r} is not a {kind.__name__}.") from None
    return replace(settings, **given)


# Rounds --------------------------------------------------------------------------------------

def groups(scenarios: Sequence) -> list[list]:
    """The scenarios in measuring groups: each reference between (at most) two of its subjects.

    A scenario compared with nothing and compared to by nothing stands alone.
    """
    by_name = {s.name: s for s in scenarios}
    result: list[list] = []
    placed: set[str] = set()
    for scenario in scenarios:
        reference = scenario.name if scenario.compare_to is None else scenario.compare_to
        if reference in placed:
            continue
        if reference not in by_name:
            raise ValueError(f"{scenario.name!r} is compared to {reference!r}, which is not measured")
        subjects = [s for s in scenarios if s.compare_to == reference]
        if len(subjects) > 2:
            raise ValueError(f"{reference!r} is the reference of {len(subjects)} scenarios; at most "
                             f"2 can each run beside it")
        if by_name[reference].compare_to is not None:
            raise ValueError(f"{reference!r} is a reference and is itself compared: not supported")
        result.append([*subjects[:1], by_name[reference], *subjects[1:]])
        placed.add(reference)
    return result


def order(scenarios: Sequence, round_index: int) -> list:
    """One round: every group, reversed on odd rounds (no scenario always runs first)."""
    plan = []
    for group in groups(scenarios):
        plan += group if round_index % 2 == 0 else list(reversed(group))
    return plan


def ratio(value: float, reference: float) -> float | None:
    return round(value / reference, 3) if reference > 0 else None


def passes(metric: str, value: float | None, target: float | None) -> bool | None:
    """Rates: at least `target` times the reference; latencies: within `target` times, either way."""
    if target is None:
        return None
    if value is None:
        return False
    if metric == LATENCY:
        return 1 / target <= value <= target
    return value >= target


def target_text(metric: str, target: float | None) -> str:
    if target is None:
        return "-"
    return f"within {target:.2f}x" if metric == LATENCY else f">= {target:.2f}x"
