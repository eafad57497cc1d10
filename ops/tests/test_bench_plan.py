"""ops.bench.plan and ops.bench.report: the plan, paired rounds, ratios, percentiles, the report."""

from __future__ import annotations

import json

import pytest

from ops.bench import plan, report
from ops.bench.plan import JOB_SCENARIOS, SCENARIOS, Scenario
from ops.errors import UserError

NAMES = {s.name: s for s in SCENARIOS}


def test_the_plan_keeps_the_counter_target_and_adds_the_api_and_job_targets():
    assert len(NAMES) == len(SCENARIOS)
    page = NAMES["counter page"]
    assert (page.server, page.path, page.compare_to, page.target) == (plan.PROJECT, "/", "bare django", 0.9)
    # One reference for the page: Django with no middleware calling the same service and template.
    assert (NAMES["bare django"].server, NAMES["bare django"].path) == (plan.BARE_DJANGO, "/")
    assert plan.BARE_DJANGO.settings == "ops.bench.references.orm"
    assert [s.name for s in SCENARIOS if s.counts] == ["counter page", "bare django"]
    for name, reference in (("api list", "django json list"), ("api detail", "django json detail")):
        assert (NAMES[name].server, NAMES[name].compare_to, NAMES[name].target) == (
            plan.PROJECT, reference, 0.7)
        assert NAMES[reference].server == plan.DJANGO_JSON and NAMES[reference].path == NAMES[name].path
    assert plan.DJANGO_JSON.settings == "ops.bench.references.django_json"
    for name, reference in (("orm json list", "bare json list"), ("orm json detail", "bare json detail")):
        assert (NAMES[name].server, NAMES[name].compare_to, NAMES[name].target) == (
            plan.BARE_DJANGO, reference, None)
        assert NAMES[reference].server == plan.BASELINE and NAMES[reference].path == NAMES[name].path
    large, small = NAMES["api list of 100,000 rows"], NAMES["api list of 100 rows"]
    assert (large.metric, large.compare_to, large.target) == (plan.LATENCY, small.name, 1.5)
    assert small.server.small and not large.server.small and large.path == small.path == plan.LIST
    jobs = {s.name: s for s in JOB_SCENARIOS}
    noop = jobs["project no-op job"]
    assert (noop.worker, noop.task, noop.compare_to, noop.target) == (
        plan.PROJECT_WORKER, "ops.bench.references.jobs.noop", "bare celery no-op", 0.8)
    assert plan.PROJECT_WORKER.include == "ops.bench.references.jobs"  # the bench's job, not the product's
    assert plan.BARE_WORKER.include == ""
    assert jobs["bare celery no-op"].worker == plan.BARE_WORKER
    assert jobs["message job"].task == "application.jobs.message_process"


def test_groups_put_each_reference_between_its_subjects():
    assert [[s.name for s in group] for group in plan.groups(SCENARIOS)] == [
        ["counter page", "bare django"],
        ["api list", "django json list"],
        ["api detail", "django json detail"],
        ["orm json list", "bare json list"],
        ["orm json detail", "bare json detail"],
        ["api list of 100,000 rows", "api list of 100 rows"],
    ]
    assert [[s.name for s in group] for group in plan.groups(JOB_SCENARIOS)] == [
        ["project no-op job", "bare celery no-op", "message job"]]


def test_every_subject_neighbours_its_reference_and_the_order_flips_each_round():
    first, second = plan.order(SCENARIOS, 0), plan.order(SCENARIOS, 1)
    assert sorted(s.name for s in first) == sorted(NAMES)
    assert plan.order(SCENARIOS, 2) == first
    for rounds in (first, second):
        names = [s.name for s in rounds]
        for scenario in SCENARIOS:
            if scenario.compare_to:
                assert abs(names.index(scenario.name) - names.index(scenario.compare_to)) == 1
    assert [s.name for s in first[:2]] == ["counter page", "bare django"]
    assert [s.name for s in second[:2]] == ["bare django", "counter page"]
    assert [s.name for s in first[2:4]] == ["api list", "django json list"]
    assert [s.name for s in second[2:4]] == ["django json list", "api list"]


def test_groups_refuse_plans_they_cannot_pair():
    ref = Scenario("ref", plan.BASELINE)
    many = [ref, *(Scenario(f"s{i}", plan.PROJECT, compare_to="ref") for i in range(3))]
    with pytest.raises(ValueError, match="at most"):
        plan.groups(many)
    with pytest.raises(ValueError, match="not measured"):
        plan.groups([Scenario("s", plan.PROJECT, compare_to="missing")])


def test_passes_reads_rates_as_at_least_and_latencies_as_within():
    assert plan.passes(plan.RATE, 0.9, 0.9) is True
    assert plan.passes(plan.RATE, 0.89, 0.9) is False
    assert plan.passes(plan.RATE, None, 0.9) is False
    assert plan.passes(plan.RATE, 0.5, None) is None
    assert plan.passes(plan.LATENCY, 1.5, 1.5) is True
    assert plan.passes(plan.LATENCY, 0.7, 1.5) is True
    assert plan.passes(plan.LATENCY, 1.51, 1.5) is False
    assert plan.passes(plan.LATENCY, 0.6, 1.5) is False
    assert plan.target_text(plan.LATENCY, 1.5) == "within 1.50x"
    assert plan.target_text(plan.RATE, 0.7) == ">= 0.70x"


def test_ratio_median_and_percentiles():
    assert plan.ratio(900, 1000) == 0.9
    assert plan.ratio(1, 3) == 0.333
    assert plan.ratio(5, 0) is None
    assert report.median([3.0, 1.0, 2.0]) == 2.0
    assert report.median([1.0, 2.0]) == 1.5
    values = list(range(100, 0, -1))  # 1..100, in any order
    assert report.percentiles(values, 50, 95, 99) == pytest.approx((50.5, 95.05, 99.01))
    assert report.percentiles([10.0, 20.0], 50) == (15.0,)  # between the two, as numpy's default
    assert report.percentiles([7.0], 50, 95) == (7.0, 7.0)
    with pytest.raises(ValueError):
        report.percentiles([], 50)


def run(name: str, round_number: int, rate: float, p50: float = 10.0) -> report.Run:
    return report.Run(name, round_number, {"requests_per_second": rate, "p50_ms": p50, "p99_ms": 4 * p50})


def test_round_ratios_pair_each_round_with_its_own_reference():
    # The page is slow in round 2 and so is the baseline: paired, the ratio holds at 0.9.
    runs = [run("counter page", 1, 900), run("bare django", 1, 1000),
            run("counter page", 2, 450), run("bare django", 2, 500),
            run("counter page", 3, 1080), run("bare django", 3, 1200)]
    assert report.round_ratios(runs, "counter page", "bare django", plan.RATE) == [0.9, 0.9, 0.9]
    rows = {row["scenario"]: row for row in report.summarize_scenarios(SCENARIOS[:2], runs)}
    assert rows["counter page"]["ratio"] == 0.9
    assert rows["counter page"]["passed"] is True
    assert rows["counter page"]["requests_per_second"] == 900.0  # the median of the page's rounds
    assert rows["bare django"]["ratio"] is None and rows["bare django"]["passed"] is None
    # Rounds that differ: medians taken apart compare 600 with 1100 (0.55); paired, 0.91.
    skewed = [run("counter page", 1, 500), run("bare django", 1, 520),
              run("counter page", 2, 1000), run("bare django", 2, 1100),
              run("counter page", 3, 600), run("bare django", 3, 1200)]
    assert report.round_ratios(skewed, "counter page", "bare django", plan.RATE) == [0.962, 0.909, 0.5]
    row = report.summarize_scenarios(SCENARIOS[:2], skewed)[0]
    assert (row["requests_per_second"], row["ratio"]) == (600.0, 0.909)


def test_summarize_judges_latency_pairs_and_fails_the_report_on_a_miss():
    small, large = NAMES["api list of 100 rows"], NAMES["api list of 100,000 rows"]
    runs = [run(small.name, 1, 200, p50=4.0), run(large.name, 1, 150, p50=5.0),
            run(small.name, 2, 200, p50=4.0), run(large.name, 2, 10, p50=120.0),
            run(small.name, 3, 200, p50=4.0), run(large.name, 3, 10, p50=130.0)]
    rows = {row["scenario"]: row for row in report.summarize_scenarios([small, large], runs)}
    assert rows[large.name]["round_ratios"] == [1.25, 30.0, 32.5]
    assert rows[large.name]["ratio"] == 30.0 and rows[large.name]["passed"] is False
    settings = plan.Settings(rounds=3, database_url="mysql://root:secret@127.0.0.1:3306/x_bench")
    jobs = report.summarize_scenarios(JOB_SCENARIOS[:2], [
        report.Run("project no-op job", 1, {"jobs_per_second": 400.0}),
        report.Run("bare celery no-op", 1, {"jobs_per_second": 500.0})])
    latency = {"messages": 10, "rate": 20.0, "p50_ms": 12.0, "p95_ms": 30.0, "max_ms": 31.0}
    full = report.summarize(settings, list(rows.values()), jobs, latency)
    assert full["passed"] is False
    assert full["jobs"][0]["ratio"] == 0.8 and full["jobs"][0]["passed"] is True
    assert full["settings"]["database_url"] == "mysql://root:***@127.0.0.1:3306/x_bench"
    json.dumps(full)
    text = report.table(full)
    assert "30.00x api list of 100 rows p50 (rounds 1.25-32.50)" in text  # the median, then the spread
    assert "within 1.50x" in text and "FAIL" in text
    assert "0.80x bare celery no-op" in text and "p95 30.0 ms" in text


def test_settings_check_refuses_what_the_bench_cannot_use():
    with pytest.raises(UserError, match="no 'bench'"):
        plan.Settings(database_url="mysql://root@127.0.0.1:3306/little_service").check()
    with pytest.raises(UserError, match="MySQL"):
        plan.Settings(database_url="sqlite:///tmp/bench.sqlite3").check()
    with pytest.raises(UserError, match="--duration"):
        plan.Settings(duration=0).check()
    with pytest.raises(UserError, match="--jobs"):
        plan.Settings(jobs=0).check()
    with pytest.raises(UserError, match="--redis-url"):
        plan.Settings(redis_url="http://127.0.0.1:6379/13").check()
    plan.Settings().check()


def test_defaults_are_five_rounds_of_five_seconds_and_the_small_database_is_a_sibling():
    settings = plan.Settings()
    assert (settings.rounds, settings.duration, settings.threads) == (5, 5, 1)
    assert (settings.rows, settings.small_rows, settings.jobs) == (100_000, 100, 2000)
    assert settings.concurrency == 2
    assert settings.small_database_url == "mysql://root@127.0.0.1:3306/little_service_bench_small"
    other = plan.Settings(database_url="mysql://u:p@h:3306/x_bench?ssl=true")
    assert other.small_database_url == "mysql://u:p@h:3306/x_bench_small?ssl=true"


def test_with_options_converts_given_options_and_keeps_the_rest():
    settings = plan.with_options(plan.Settings(workers=4), duration="2", connections=None, rounds="1",
                                 jobs="30", redis_url="redis://127.0.0.1:6379/12")
    assert (settings.duration, settings.connections, settings.workers, settings.rounds, settings.jobs) == (
        2, 16, 4, 1, 30)
    assert settings.redis_url == "redis://127.0.0.1:6379/12"
    with pytest.raises(UserError, match="--duration 'ten' is not a int"):
        plan.with_options(plan.Settings(), duration="ten")
