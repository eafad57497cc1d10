from ops import doctor
from ops.environments import resolve
from tests.support import free_port


def test_requirement_names_reads_in_and_lock_files(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("# c\n-r other.in\nDjango>=5.2\nsome_pkg==1.0 \\\n    --hash=sha256:x\n")
    assert doctor.requirement_names(path) == {"django", "some-pkg"}


def test_local_environment_is_healthy_here():
    findings = doctor.examine(resolve("local", {"DATABASE_URL": "sqlite:////tmp/x.db"}))
    assert [f.name for f in findings] == ["python", "lock", "services"]
    assert all(f.ok for f in findings), doctor.report(findings)


def test_a_down_service_is_reported_with_its_fix():
    port = free_port()
    findings = doctor.examine(resolve("ci", {"DATABASE_URL": f"mysql://root@127.0.0.1:{port}/d",
                                             "REDIS_URL": f"redis://127.0.0.1:{port}/0"}))
    failed = {f.name: f for f in findings if not f.ok}
    assert set(failed) == {"database", "redis"}
    text = doctor.report(findings)
    assert "FAIL database" in text and "fix: start MySQL/MariaDB" in text
    assert "fix: start Redis" in text
