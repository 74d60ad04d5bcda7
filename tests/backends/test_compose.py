"""docker-compose.yml (the real Gonka stack) is well formed: it parses, every service has a healthcheck, ports match
the reference doc and are published on loopback only, image names default to the settings' defaults, and the
compose nginx config routes versions as the side-by-side operator guide says (checked with the machine's real nginx).

`docker compose up` itself is not run by the tests (the upstream images are not pulled); see the [unverified]
notes in docker-compose.yml.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from harness.backends.docker.settings import DEFAULT_IMAGES, IMAGE_ENV
from harness.util.ports import free_port
from harness.util.process import ManagedProcess
from tests.support import REPO

ROOT = REPO
COMPOSE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "mocks" / "nginx" / "compose-side-by-side.conf"
VERSIONS = ("v0.3.8", "v0.3.9", "v0.3.10")

# Container ports as upstream's compose files use them (and host ports: same, or 8090+i for
# the per-version WireMock journals as testermint does, 8474 for the chaos control API).
EXPECTED_PORTS = {
    "chain": {"127.0.0.1:26657:26657"},
    "api": {"127.0.0.1:9000:9000", "127.0.0.1:9100:9100", "127.0.0.1:9200:9200", "127.0.0.1:8474:8474"},
    "nginx": {"127.0.0.1:8080:8080"},
    **{f"wiremock-{v.replace('.', '-')}": {f"127.0.0.1:{8090 + i}:8080"} for i, v in enumerate(VERSIONS)},
}
ROLE_OF_SERVICE = {"chain": "chain", "api": "api", "chaos-proxy": "harness", "nginx": "nginx"} | {
    f"wiremock-{v.replace('.', '-')}": "wiremock" for v in VERSIONS
}


@pytest.fixture(scope="module")
def compose() -> dict:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def test_services_are_the_stack(compose: dict) -> None:
    assert set(compose["services"]) == set(ROLE_OF_SERVICE)


def test_every_service_has_a_healthcheck(compose: dict) -> None:
    for name, svc in compose["services"].items():
        hc = svc.get("healthcheck")
        assert hc, f"service {name} has no healthcheck"
        assert hc["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test {hc['test']!r}"
        assert not hc.get("disable"), f"{name}: healthcheck disabled"


def test_ports_match_reference_and_bind_loopback_only(compose: dict) -> None:
    published = {name: set(map(str, svc.get("ports", []))) for name, svc in compose["services"].items()}
    for name, ports in published.items():
        for p in ports:
            assert p.startswith("127.0.0.1:"), f"{name} publishes {p!r} on a non-loopback address; use 127.0.0.1:HOST:CONTAINER"
    assert {n: p for n, p in published.items() if p} == EXPECTED_PORTS
    # the chaos proxy shares the API's network namespace, so the API can reach its loopback-only listener
    assert compose["services"]["chaos-proxy"]["network_mode"] == "service:api"
    cmd = compose["services"]["chaos-proxy"]["command"]
    assert cmd[cmd.index("--upstream") + 1] == "http://chain:26657"
    listen = cmd[cmd.index("--listen") + 1]
    assert compose["services"]["api"]["environment"]["DAPI_CHAIN_NODE__URL"] == f"http://127.0.0.1:{listen}"


def test_image_defaults_are_the_settings_defaults(compose: dict) -> None:
    for name, svc in compose["services"].items():
        role = ROLE_OF_SERVICE[name]
        m = re.fullmatch(r"\$\{(\w+):-([^}]+)\}", svc["image"])
        assert m, f"{name}: image {svc['image']!r} is not ${{VAR:-default}}"
        assert m.group(1) == IMAGE_ENV[role], f"{name}: variable {m.group(1)}, expected {IMAGE_ENV[role]}"
        assert m.group(2) == DEFAULT_IMAGES[role], f"{name}: default {m.group(2)!r}, expected {DEFAULT_IMAGES[role]!r}"


def test_wiremocks_serve_mlnode_mocks_with_templating(compose: dict) -> None:
    for v in VERSIONS:
        svc = compose["services"][f"wiremock-{v.replace('.', '-')}"]
        assert "./mocks/mlnode:/home/wiremock:ro" in svc["volumes"]
        assert "--global-response-templating" in svc["command"]
    assert (ROOT / "mocks" / "mlnode" / "mappings").is_dir()


def test_genesis_overrides_start_at_v0_3_8(compose: dict) -> None:
    import json

    overrides = json.loads(compose["configs"]["genesis_overrides"]["content"])
    # no mlnode_version: upstream main's genesis refuses it (verified with the real binary); the API node says v0.3.8
    assert "inference" not in overrides["app_state"]
    assert overrides["app_state"]["gov"]["params"]["voting_period"].endswith("s")
    assert compose["services"]["api"]["environment"]["DAPI_CURRENT_NODE_VERSION"] == "v0.3.8"


def test_nginx_conf_has_a_route_per_wiremock_service(compose: dict) -> None:
    conf = NGINX_CONF.read_text()
    for v in VERSIONS:
        svc = f"wiremock-{v.replace('.', '-')}"
        up = re.search(rf"upstream (\w+) {{ server {re.escape(svc)}:8080; }}", conf)
        assert up, f"no upstream for {svc} in {NGINX_CONF.name}"
        assert f"location /{v}/ {{ proxy_pass http://{up.group(1)}/; }}" in conf
    assert compose["services"]["nginx"]["volumes"] == ["./mocks/nginx/compose-side-by-side.conf:/etc/nginx/nginx.conf:ro"]


# -- the compose nginx config, run on the machine's nginx with the WireMock host names pointed at stubs ----------
class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub_upstreams() -> Iterator[dict[str, ThreadingHTTPServer]]:
    servers: dict[str, ThreadingHTTPServer] = {}
    threads = []
    try:
        for v in VERSIONS:
            srv = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
            srv.paths, srv.name = [], v  # type: ignore[attr-defined]
            servers[v] = srv
            t = threading.Thread(target=srv.serve_forever, daemon=True)
            t.start()
            threads.append(t)
        yield servers
    finally:
        for srv in servers.values():
            srv.shutdown()
            srv.server_close()
        for t in threads:
            t.join(timeout=5)


def test_compose_nginx_conf_routes_versions_on_real_nginx(tmp_path: Path, stub_upstreams: dict) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx not installed (Debian: apt-get install nginx)")
    port = free_port()
    conf = NGINX_CONF.read_text()
    for v, srv in stub_upstreams.items():
        conf = conf.replace(f"server wiremock-{v.replace('.', '-')}:8080;", f"server 127.0.0.1:{srv.server_address[1]};")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("access_log /dev/stdout harness;", f"access_log {tmp_path}/access.log harness;")
    conf = conf.replace("error_log /dev/stderr info;", f"error_log {tmp_path}/error.log info;")
    temps = "".join(f"    {k}_temp_path {tmp_path}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = conf.replace("http {\n", "http {\n" + temps, 1)
    conf = f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log info;\n" + conf
    assert "server wiremock-" not in conf, "every upstream host must be replaced by a stub"
    (tmp_path / "nginx.conf").write_text(conf)
    argv = [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    with ManagedProcess(argv, name="nginx-compose-conf", log_path=tmp_path / "nginx.out") as proc:
        base = f"http://127.0.0.1:{port}"
        proc.wait_ready(
            lambda: requests.get(f"{base}/__harness/nginx-ready", timeout=1).status_code == 200,
            timeout_s=10,
            what="nginx with the compose side-by-side config",
        )
        for v in VERSIONS:
            r = requests.get(f"{base}/{v}/api/v1/state", timeout=5)
            assert (r.status_code, r.text) == (200, v)
        assert requests.get(f"{base}/api/v1/state", timeout=5).text == "v0.3.8"  # default route: current version
    # prefix stripped, as in the operator guide's `proxy_pass http://mlnode_vX/;`
    assert stub_upstreams["v0.3.8"].paths == ["/api/v1/state", "/api/v1/state"]
    assert stub_upstreams["v0.3.9"].paths == ["/api/v1/state"]
    assert stub_upstreams["v0.3.10"].paths == ["/api/v1/state"]
