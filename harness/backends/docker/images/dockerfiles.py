"""The Dockerfiles of the local images (their text is part of the image tag's input hash)."""

from __future__ import annotations

# Built with `--network host` from a context holding pyproject.toml, requirements.txt (its dependencies), a stub
# README.md, harness/, mocks/ and extra-ca/ (the host's extra CA certificates, so pip reaches PyPI through an
# HTTPS-intercepting proxy when the host has one; empty otherwise).
HARNESS_DOCKERFILE = """\
FROM gonka-harness/debian:bookworm
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PYTHONDONTWRITEBYTECODE=1
COPY extra-ca/ /usr/local/share/ca-certificates/
# policy-rc.d: no service may start while packages install (nginx would bind port 80 on the host network).
RUN printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \\
 && apt-get update -qq \\
 && apt-get install -y -qq --no-install-recommends ca-certificates python3 python3-venv openjdk-17-jre-headless nginx \\
 && update-ca-certificates \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv
WORKDIR /opt/gonka-harness
# Dependencies first: a source change rebuilds only the last layers.
COPY requirements.txt ./
RUN pip install -q -r requirements.txt \\
 && mkdir -p /opt/wiremock \\
 && ln -s "$(python -c 'import pathlib, wiremock; \\
print(sorted((pathlib.Path(wiremock.__file__).parent / "server").glob("wiremock-standalone-*.jar"))[-1])')" \\
    /opt/wiremock/wiremock-standalone.jar \\
 && java -version 2>&1 | head -1 && nginx -v
COPY pyproject.toml README.md ./
COPY harness/ harness/
COPY mocks/ mocks/
RUN pip install -q --no-deps --no-build-isolation -e . && python -c "import harness.cli"
CMD ["harness", "--help"]
"""

# The upstream wiremock/wiremock image's interface: working dir /home/wiremock (mappings/, __files/), arguments
# appended to the java command, port 8080 unless `--port`. The MLNode mappings are baked in; mounting
# mocks/mlnode at /home/wiremock replaces them. WireMock 2.35 has no bundled webhook extension, so the harness's
# (mocks/mlnode/extensions, same parameters as 3.x's `webhook`) is on the classpath, as harness.mlnode.wiremock does.
WIREMOCK_DOCKERFILE = """\
FROM {HARNESS_IMAGE}
RUN mkdir -p /home/wiremock && cp -a /opt/gonka-harness/mocks/mlnode/. /home/wiremock/ \\
 && mkdir -p /home/wiremock/mappings /home/wiremock/__files
WORKDIR /home/wiremock
EXPOSE 8080
ENTRYPOINT ["java", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", \
    "-cp", "/opt/wiremock/wiremock-standalone.jar:/opt/gonka-harness/mocks/mlnode/extensions/harness-webhook.jar", \
    "com.github.tomakehurst.wiremock.standalone.WireMockServerRunner", \
    "--extensions", "org.gonka.harness.wiremock.WebhookAction"]
"""
