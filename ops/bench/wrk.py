"""wrk, the HTTP load generator: its command line, running it, and reading its report."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field

from ops.errors import UserError

WRK_MISSING = ("wrk, the load generator, is not installed: apt-get install -y wrk "
               "(Debian/Ubuntu; brew install wrk on macOS), then run invoke bench again.")
DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    requests_per_second: float
    latency_ms: dict[int, float]  # percentile -> milliseconds (50, 75, 90, 99)
    error_responses: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: dict[str, int] = field(default_factory=dict)

    def figure(self, metric: str) -> float:
        """requests_per_second, or p50_ms / p99_ms."""
        if metric.startswith("p") and metric.endswith("_ms"):
            return self.latency_ms[int(metric[1:-3])]
        return getattr(self, metric)


def wrk_command(url: str, *, duration: int, connections: int, threads: int,
                headers: dict[str, str], wrk: str = "wrk") -> list[str]:
    argv = [wrk, "--threads", str(threads), "--connections", str(connections),
            "--duration", f"{duration}s", "--latency"]
    for name, value in headers.items():
        argv += ["--header", f"{name}: {value}"]
    return [*argv, url]


def seconds(value: str, unit: str) -> float:
    return float(value) * DURATION_UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    """wrk's report (run with --latency) as numbers; ValueError when it is not one."""
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)\b", output, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not total or not rate:
        raise ValueError(f"not a wrk report:\n{output}")
    latency = {int(percent): round(seconds(value, unit) * 1000, 3) for percent, value, unit
               in re.findall(r"^\s*(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)}
    if not {50, 99} <= latency.keys():
        raise ValueError(f"wrk's report has no latency distribution (run it with --latency):\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=seconds(total.group(2), total.group(3)),
        requests_per_second=float(rate.group(1)),
        latency_ms=latency,
        error_responses=int(errors.group(1)) if errors else 0,
        socket_errors=dict(zip(("connect", "read", "write", "timeout"),
                               map(int, sockets.groups()), strict=True)) if sockets else {},
    )


def require_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        raise UserError(WRK_MISSING)
    return path


def run_wrk(argv: list[str], duration: int) -> WrkResult:
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60,
                               stdin=subprocess.DEVNULL, check=False)
    if completed.returncode != 0:
        raise UserError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
    try:
        return parse_wrk(completed.stdout)
    except ValueError as exc:
        raise UserError(str(exc)) from None
