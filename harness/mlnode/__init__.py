"""MLNode mocks: WireMock mappings generator, WireMock/nginx runners, journal reader (see harness/mlnode/README.md)."""

from harness.mlnode.journal import Journal, JournalError
from harness.mlnode.mappings import write_mappings
from harness.mlnode.nginx import NginxSideBySide, find_nginx
from harness.mlnode.wiremock import WireMockServer, find_java, start_many, stop_many, wiremock_jar

__all__ = [
    "Journal",
    "JournalError",
    "NginxSideBySide",
    "WireMockServer",
    "find_java",
    "find_nginx",
    "start_many",
    "stop_many",
    "wiremock_jar",
    "write_mappings",
]
