"""`invoke bench.first-page`: fresh clones, an empty then a warm pip cache, a second run, the
environment's size; here against a tiny repository whose bootstrap.py serves at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Exit, MockContext

from ops.bench import first_page
from ops.tasks import bench as bench_tasks

# A stand-in bootstrap.py: notes what it found (the clone, the pip cache, the environment), fills
# the cache and the environment (saying how long its installs took, as bootstrap.py does, when the
# environment is new), then serves 200 at / on --address until stopped.
FAKE_BOOTSTRAP = """
import http.server, json, os, pathlib, sys
root = pathlib.Path(__file__).resolve().parent
cache = pathlib.Path(os.environ["PIP_CACHE_DIR"])
venv = root / ".venv"
with open(os.environ["FAKE_BOOTSTRAP_LOG"], "a") as log:
    log.write(json.dumps({"clone": str(root), "argv": sys.argv[1:],
                          "cache_was_empty": not (cache.exists() and any(cache.iterdir())),
                          "venv_existed": venv.exists(),
                          "little_service_venv": os.environ.get("LITTLE_SERVICE_VENV")}) + "\\n")
cache.mkdir(parents=True, exist_ok=True)
(cache / "a-wheel").write_text("x")
if not venv.exists():
    print("bootstrap: requirements.txt installed in 0.3 s")
    print("bootstrap: requirements-dev.txt installed in 1.2 s", flush=True)
venv.mkdir(exist_ok=True)
(venv / "site-packages").write_bytes(bytes(300 * 1024))
port = int(sys.argv[sys.argv.index("--address") + 1].rpartition(":")[2])

class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", port), Page).serve_forever()
"""


@pytest.fixture
def repository(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "bootstrap.py").write_text(FAKE_BOOTSTRAP)
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for command in (["init", "--quiet"], ["add", "bootstrap.py"],
                    [*identity, "commit", "--quiet", "-m", "x"]):
        subprocess.run(["git", "-C", str(source), *command], check=True)
    return source


def test_three_runs_from_fresh_clones_with_an_empty_then_a_warm_cache(repository, tmp_path, monkeypatch):
    log = tmp_path / "bootstrap.log"
    monkeypatch.setenv("FAKE_BOOTSTRAP_LOG", str(log))
    monkeypatch.setenv("LITTLE_SERVICE_VENV", str(tmp_path / "someone-else-s-venv"))
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "the-user-s-cache"))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    report = first_page.measure(source=repository, python=sys.executable, timeout=60, workspace=workspace)

    assert [run["name"] for run in report["runs"]] == ["cold", "warm", "second"]
    assert all(0 < run["seconds"] < 60 for run in report["runs"])
    assert [run["install_seconds"] for run in report["runs"]] == [1.5, 1.5, 0]
    assert report["venv_bytes"] >= 300 * 1024
    cold, warm, second = (json.loads(line) for line in log.read_text().splitlines())
    assert cold["cache_was_empty"] and not cold["venv_existed"]
    assert not warm["cache_was_empty"] and not warm["venv_existed"] and warm["clone"] != cold["clone"]
    assert second["clone"] == warm["clone"] and second["venv_existed"]
    assert all(run["argv"][0] == "dev" and run["little_service_venv"] is None for run in (cold, warm, second))
    assert not (tmp_path / "the-user-s-cache").exists()
    assert list(workspace.iterdir()) == []  # the clones and the cache are gone
    assert "cold" in first_page.table(report) and " MB" in first_page.table(report)
    assert "(installing 1.5 s)" in first_page.table(report)


def test_a_bootstrap_that_fails_is_reported_with_its_output(repository, tmp_path):
    (repository / "bootstrap.py").write_text("print('pip said no'); raise SystemExit(2)\n")
    subprocess.run(["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                    "commit", "--quiet", "-am", "fail"], check=True)
    with pytest.raises(RuntimeError, match=r"(?s)exit 2.*pip said no"):
        first_page.measure(source=repository, python=sys.executable, timeout=60)


def test_the_newcomer_s_environment_leaves_out_another_virtual_environment(tmp_path):
    environ = {"PATH": "/elsewhere/.venv/bin:/usr/bin", "VIRTUAL_ENV": "/elsewhere/.venv",
               "LITTLE_SERVICE_VENV": "/x", "DATABASE_URL": "mysql://x", "PIP_INDEX_URL": "http://mirror"}
    environment = first_page.newcomer_environment(environ, tmp_path / "cache")
    assert environment == {"PATH": "/usr/bin", "PIP_INDEX_URL": "http://mirror",
                           "PIP_CACHE_DIR": str(tmp_path / "cache")}


def test_invoke_bench_first_page_outside_a_checkout_says_where_it_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, "ops.bench.first_page", None)
    with pytest.raises(Exit, match="invoke bench.first-page runs from a checkout"):
        bench_tasks.first_page(MockContext())


def test_the_task_writes_the_report(monkeypatch, tmp_path, capsys):
    report = {"runs": [{"name": "cold", "seconds": 1.0, "install_seconds": 0.5}], "venv_bytes": 2**20}
    calls = []
    monkeypatch.setattr(first_page, "measure", lambda **kwargs: calls.append(kwargs) or report)
    monkeypatch.setattr(first_page, "REPORT", tmp_path / "first_page.json")
    monkeypatch.setattr(first_page, "write", lambda data: first_page.REPORT.write_text(json.dumps(data)))
    bench_tasks.first_page(MockContext(), ref="main", timeout="30")
    assert calls == [{"source": first_page.REPOSITORY, "ref": "main", "python": None, "timeout": 30.0}]
    assert json.loads(Path(tmp_path / "first_page.json").read_text()) == report
    assert "cold" in capsys.readouterr().out


def test_the_base_python_is_outside_this_virtual_environment():
    python = first_page.base_python()
    result = subprocess.run([python, "-c", "import sys; print(sys.prefix == sys.base_prefix)"],
                            capture_output=True, text=True, check=True)
    assert result.stdout == "True\n"
