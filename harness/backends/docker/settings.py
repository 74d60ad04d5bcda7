"""Image names for the docker backend and docker-compose.yml, defined once.

DEFAULT_IMAGES   the upstream images (`--images upstream`, the compose defaults). They live on ghcr.io / Docker Hub;
                 the docker backend has not yet run them (unverified; the local images are what CI runs).
LOCAL_IMAGES     images `harness images build` makes with no registry (`--images local`): one harness image runs
                 simnet (chain), the reference API node, the chaos proxy and nginx; a thin WireMock image runs the
                 jar bundled in the PyPI `wiremock` package with the upstream wiremock image's interface
                 (working dir /home/wiremock, arguments appended, port 8080 unless `--port`).
                 `:local` always points at the newest build; `:<inputs hash>` tags pin one build.
IMAGE_ENV        the environment variable (compose interpolation and settings) that overrides each image.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from harness.errors import ConfigError

DEFAULT_IMAGES: dict[str, str] = {
    "chain": "ghcr.io/product-science/inferenced",
    "api": "ghcr.io/product-science/api",
    "wiremock": "wiremock/wiremock:3.9.1",
    "nginx": "nginx:1.28.0",
    "harness": "gonka-harness/harness:local",  # chaos proxy; built locally in every mode
}

BASE_IMAGE = "gonka-harness/debian:bookworm"
HARNESS_REPO = "gonka-harness/harness"
WIREMOCK_REPO = "gonka-harness/wiremock"
LOCAL_TAG = "local"

LOCAL_IMAGES: dict[str, str] = {
    "chain": f"{HARNESS_REPO}:{LOCAL_TAG}",  # `harness simnet`
    "api": f"{HARNESS_REPO}:{LOCAL_TAG}",  # `harness apinode`
    "wiremock": f"{WIREMOCK_REPO}:{LOCAL_TAG}",
    "nginx": f"{HARNESS_REPO}:{LOCAL_TAG}",  # Debian nginx inside the harness image
    "harness": f"{HARNESS_REPO}:{LOCAL_TAG}",
}

IMAGE_ENV: dict[str, str] = {
    "chain": "IMAGE_CHAIN",
    "api": "IMAGE_API",
    "wiremock": "IMAGE_WIREMOCK",
    "nginx": "IMAGE_NGINX",
    "harness": "IMAGE_HARNESS",
}

IMAGE_SETS = ("upstream", "local")


def resolve_images(
    images: str = "upstream", overrides: Mapping[str, str | None] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Image per role: the chosen set, then IMAGE_* environment variables, then explicit overrides (--image-chain ...)."""
    if images not in IMAGE_SETS:
        raise ConfigError(f"--images {images!r}: expected one of {', '.join(IMAGE_SETS)}")
    out = dict(DEFAULT_IMAGES if images == "upstream" else LOCAL_IMAGES)
    env = os.environ if env is None else env
    for role, var in IMAGE_ENV.items():
        if env.get(var):
            out[role] = env[var]
    for role, ref in (overrides or {}).items():
        if role not in out:
            raise ConfigError(f"unknown image role {role!r}: expected one of {', '.join(out)}")
        if ref:
            out[role] = ref
    return out
