"""Docker helpers and image-build inputs that need no Docker engine (the engine tests are test_docker_images.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.backends.docker import util as docker_util
from harness.backends.docker.images import build as images_build
from harness.backends.docker.settings import DEFAULT_IMAGES, IMAGE_ENV, LOCAL_IMAGES, resolve_images
from harness.errors import ConfigError, DependencyMissing
from harness.util.ports import free_port
from tests.support import REPO

ROOT = REPO


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("DOCKER_HOST", url)
    return url


def test_unreachable_engine_names_the_fix(no_engine: str) -> None:
    reason = docker_util.docker_available(timeout_s=2)
    assert reason is not None
    assert "scripts/docker-engine.sh" in reason
    assert no_engine in reason


def test_images_build_without_engine_is_dependency_missing(no_engine: str) -> None:
    with pytest.raises(DependencyMissing, match=r"bash scripts/docker-engine\.sh"):
        images_build.build_images()


def test_images_build_rejects_unknown_image_name() -> None:
    with pytest.raises(ConfigError, match=r"--only 'chain'.*base, harness, wiremock"):
        images_build.build_images(only="chain")


def test_empty_label_filter_is_refused() -> None:
    with pytest.raises(ValueError, match="no label filter"):
        docker_util.reap({})
    with pytest.raises(ValueError, match="no label filter"):
        docker_util.count_by_label({})


def test_session_labels_carry_session_and_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    labels = docker_util.session_labels("s1", component="chain")
    assert labels == {
        "gonka-harness": "1",
        "gonka-harness.session": "s1",
        "gonka-harness.worker": "gw3",
        "gonka-harness.component": "chain",
    }


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "harness").mkdir(parents=True)
    (root / "mocks" / "mlnode").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='x'\ndependencies=[]\n")
    (root / "harness" / "a.py").write_text("A = 1\n")
    (root / "mocks" / "mlnode" / "m.json").write_text("{}")
    return root


def test_inputs_hash_follows_sources_only(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    h0 = images_build.inputs_hash(root)
    assert len(h0) == 12
    assert set(h0) <= set("0123456789abcdef"), h0
    (root / "harness" / "__pycache__").mkdir()
    (root / "harness" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert images_build.inputs_hash(root) == h0, "bytecode must not change the tag"
    (root / "mocks" / "mlnode" / "m.json").write_text('{"x": 1}')
    h1 = images_build.inputs_hash(root)
    assert h1 != h0
    shutil.move(root / "harness" / "a.py", root / "harness" / "b.py")
    assert images_build.inputs_hash(root) not in (h0, h1), "a rename must change the tag"


def test_build_context_holds_the_source_tree(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    images_build._harness_context(ROOT, ctx)
    assert (ctx / "Dockerfile").read_text().startswith("FROM gonka-harness/debian:bookworm")
    assert (ctx / "harness" / "cli.py").read_text() == (ROOT / "harness" / "cli.py").read_text()
    assert (ctx / "mocks" / "mlnode").is_dir()
    assert not list(ctx.rglob("__pycache__"))
    reqs = (ctx / "requirements.txt").read_text().splitlines()
    assert "cosmpy==0.12.2" in reqs
    assert "setuptools>=68" in reqs


def test_apt_mirror_comes_from_apt_sources_or_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DEBIAN_MIRROR", "http://mirror.example/debian")
    assert images_build.apt_mirror() == "http://mirror.example/debian"
    monkeypatch.delenv("HARNESS_DEBIAN_MIRROR")
    assert images_build.apt_mirror().startswith("http")


def test_resolve_images_precedence() -> None:
    assert resolve_images("upstream", env={}) == DEFAULT_IMAGES
    assert resolve_images("local", env={}) == LOCAL_IMAGES
    env = {IMAGE_ENV["chain"]: "my/chain:1"}
    got = resolve_images("upstream", overrides={"api": "my/api:2", "chain": None}, env=env)
    assert got["chain"] == "my/chain:1"
    assert got["api"] == "my/api:2"
    assert got["wiremock"] == DEFAULT_IMAGES["wiremock"]
    with pytest.raises(ConfigError, match="--images 'remote'"):
        resolve_images("remote")
    with pytest.raises(ConfigError, match="unknown image role 'db'"):
        resolve_images("upstream", overrides={"db": "x"}, env={})
