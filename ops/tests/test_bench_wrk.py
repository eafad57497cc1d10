"""ops.bench.wrk: the exact command, and wrk's report read as numbers."""

from __future__ import annotations

import pytest

from ops.bench import wrk
from ops.errors import UserError

WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:40001/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    17.52ms    5.94ms  81.20ms   85.11%
    Req/Sec     0.92k    71.32     1.04k    78.00%
  Latency Distribution
     50%   16.48ms
     75%  950.00us
     90%   22.81ms
     99%    1.02s
  9171 requests in 10.01s, 3.07MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:    916.21
Transfer/sec:    314.10KB
"""


def test_parse_wrk_reads_rate_latency_percentiles_and_errors():
    result = wrk.parse_wrk(WRK_OUTPUT)
    assert result.requests == 9171
    assert result.seconds == pytest.approx(10.01)
    assert result.requests_per_second == pytest.approx(916.21)
    assert result.latency_ms == {50: 16.48, 75: 0.95, 90: 22.81, 99: 1020.0}
    assert result.error_responses == 3
    assert result.socket_errors == {"connect": 0, "read": 2, "write": 0, "timeout": 1}
    assert result.figure("p50_ms") == 16.48
    assert result.figure("p99_ms") == 1020.0
    assert result.figure("requests_per_second") == pytest.approx(916.21)


def test_parse_wrk_without_errors_reports_none():
    clean = "\n".join(line for line in WRK_OUTPUT.splitlines()
                      if "Non-2xx" not in line and "Socket errors" not in line)
    result = wrk.parse_wrk(clean)
    assert (result.error_responses, result.socket_errors) == (0, {})


def test_parse_wrk_refuses_what_is_not_a_report():
    with pytest.raises(ValueError, match="not a wrk report"):
        wrk.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
    without_distribution = "\n".join(line for line in WRK_OUTPUT.splitlines()
                                     if not line.strip().startswith(("50%", "99%")))
    with pytest.raises(ValueError, match="--latency"):
        wrk.parse_wrk(without_distribution)


def test_wrk_command_is_exact_with_one_thread():
    argv = wrk.wrk_command("http://127.0.0.1:4000/", duration=5, connections=16, threads=1,
                           headers={"X-Forwarded-Proto": "https"}, wrk="/usr/bin/wrk")
    assert argv == ["/usr/bin/wrk", "--threads", "1", "--connections", "16", "--duration", "5s",
                    "--latency", "--header", "X-Forwarded-Proto: https", "http://127.0.0.1:4000/"]


def test_require_wrk_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="apt-get install -y wrk"):
        wrk.require_wrk()


def test_run_wrk_turns_a_failure_into_a_message(tmp_path):
    with pytest.raises(UserError, match="wrk failed"):
        wrk.run_wrk(["sh", "-c", "echo no such host >&2; exit 1"], duration=1)
    with pytest.raises(UserError, match="not a wrk report"):
        wrk.run_wrk(["echo", "hello"], duration=1)
