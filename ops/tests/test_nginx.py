"""The web instances' nginx configuration (aws/platform/nginx), run in a real nginx in front of a
server that reports the headers it receives: what the service trusts arrives as the load balancer
wrote it, with nothing appended."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request

import pytest

from ops.aws.beanstalk import PLATFORM
from ops.testing import StandInHandler, eventually, free_port, stand_in_server

LOCATION = PLATFORM / "nginx" / "conf.d" / "elasticbeanstalk" / "00_application.conf"


class Echo(StandInHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.reply(json.dumps({name: self.headers.get(name) for name in (
            "X-Forwarded-For", "X-Forwarded-Proto", "Host")}).encode())


@pytest.fixture
def nginx(tmp_path):
    """nginx with the platform's surroundings (its upstream `docker`, its $connection_upgrade map)
    and our location, in front of Echo; its address."""
    with stand_in_server(Echo) as backend:
        yield from nginx_before(backend, tmp_path)


def nginx_before(backend, tmp_path):
    port = free_port()
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    config = tmp_path / "nginx.conf"
    config.write_text(f"""
worker_processes 1;
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    map $http_upgrade $connection_upgrade {{ default "upgrade"; "" ""; }}
    upstream docker {{ server 127.0.0.1:{backend.server_address[1]}; }}
    server {{
        listen 127.0.0.1:{port};
        include {LOCATION};
    }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run([nginx, "-t", "-c", str(config), "-p", str(tmp_path)], capture_output=True,
                             text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([nginx, "-c", str(config), "-p", str(tmp_path)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        eventually(lambda: received(f"http://127.0.0.1:{port}"), timeout=10, message="nginx answering")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def received(url: str, **headers: str) -> dict:
    request = urllib.request.Request(url + "/", headers={name.replace("_", "-"): value
                                                         for name, value in headers.items()})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_nginx_passes_on_the_load_balancers_headers_and_appends_nothing(nginx):
    # As the load balancer sends them: a client's forged entry, then the address it saw.
    seen = received(nginx, X_Forwarded_For="203.0.113.9, 198.51.100.7", X_Forwarded_Proto="https",
                    Host="service.example.com")
    assert seen == {"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Forwarded-Proto": "https",
                    "Host": "service.example.com"}


def test_what_nginx_did_not_get_it_does_not_make_up(nginx):
    seen = received(nginx, Host="service.example.com")
    assert seen["X-Forwarded-For"] is None and seen["X-Forwarded-Proto"] is None


def test_the_bundle_carries_the_location_as_the_platform_reads_it():
    import io
    import zipfile

    from ops.aws.beanstalk import bundle

    with zipfile.ZipFile(io.BytesIO(bundle({"AWSEBDockerrunVersion": "1"}))) as archive:
        assert sorted(archive.namelist()) == [
            ".platform/nginx/conf.d/elasticbeanstalk/00_application.conf", "Dockerrun.aws.json"]
        carried = archive.read(".platform/nginx/conf.d/elasticbeanstalk/00_application.conf")
    assert carried == LOCATION.read_bytes()
