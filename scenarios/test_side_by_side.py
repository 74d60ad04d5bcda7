"""Scenario 2: the upgrade path on the side-by-side topology of the MLNode operator guide: real nginx
routes /<version>/ to one WireMock per version (prefix stripped); the audit attributes each request to
the version whose backend served it."""

import pytest

from harness.drive.assertions import assert_hop_clean

pytestmark = [
    pytest.mark.stable,
    pytest.mark.slow,
    pytest.mark.requires("side_by_side", api_profile="reference"),
    pytest.mark.usefixtures("fresh_chain"),
]


@pytest.fixture(scope="module")
def testnet_options():
    return {"topology": "side-by-side"}


def test_upgrade_path_side_by_side(testnet, upgrade, harness_options):
    for version in harness_options.versions[1:]:
        hop = upgrade.hop(version)
        assert_hop_clean(hop, testnet)
