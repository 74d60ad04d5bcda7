"""The pytest plugin, tested from outside with pytester: options validated at start-up, markers registered."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "k8s"], "--backend: 'k8s' is not one of embedded, docker, external"),
        (["--api-profile", "pr999"], "--api-profile: 'pr999' is not one of reference, pr228"),
        (["--topology", "mesh"], "--topology: 'mesh' is not one of single, side-by-side"),
        (["--versions", "v0.3.8,0.3.9"], "--versions: '0.3.9' is not a valid MLNode version"),
        (["--versions", "v0.3.8"], "--versions: need at least two versions"),
        (["--block-time", "fast"], "--block-time: 'fast' is not a number of seconds"),
        (["--block-time", "0"], "--block-time: 0.0 is out of range"),
        (["--chaos-seed", "x1"], "--chaos-seed: 'x1' is not an integer"),
        (["--backend", "external"], "--backend external needs --env-file"),
    ],
)
def test_bad_option_fails_at_startup_naming_it(pytester: pytest.Pytester, args, message):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_markers_registered_and_header(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.stable
        @pytest.mark.chaos
        @pytest.mark.slow
        def test_x(): pass
        """
    )
    result = pytester.runpytest_subprocess("--strict-markers", "--versions", "v0.3.8,v0.3.9")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["harness: backend=embedded versions=v0.3.8,v0.3.9 profile=reference*"])


def test_docker_tests_skip_with_reason_when_no_engine(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.docker
        def test_needs_docker(): assert False, "must not run"
        """
    )
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=1)
    # the -rs summary line carries the reason: where no engine answered, and the command that starts one
    result.stdout.fnmatch_lines(["SKIPPED*no Docker engine reachable at unix:///nonexistent/docker.sock*docker-engine.sh*"])


def test_requires_skips_on_unmet_options_naming_them(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.requires(versions=3)
        def test_three(): assert False, "must not run"
        @pytest.mark.requires(api_profile="reference")
        def test_reference(): assert False, "must not run"
        @pytest.mark.requires(topology="single")
        def test_single(): pass
        """
    )
    result = pytester.runpytest_subprocess("-rs", "--versions", "v0.3.8,v0.3.9", "--api-profile", "pr228")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED*needs at least 3 versions in --versions, got v0.3.8,v0.3.9*",
            "SKIPPED*needs --api-profile reference (it asserts that contract), got pr228*",
        ]
    )


def test_requires_with_an_unknown_option_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile("import pytest\n@pytest.mark.requires(colour='red')\ndef test_x(): pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown option need 'colour'*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keep-env"], "--keep-env: the embedded testnet cannot outlive pytest*harness up*--backend external"),
        (["--keep-env", "--backend", "external", "--env-file", "env"], "--keep-env: the harness never tears an external"),
    ],
)
def test_keep_env_is_refused_where_the_testnet_cannot_be_kept(pytester: pytest.Pytester, args, message):
    pytester.makepyfile("def test_x(): pass")
    pytester.makefile("", env="HARNESS_CHAIN_RPC=http://127.0.0.1:1\n")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_a_testnet_that_fails_to_start_leaves_a_setup_bundle(pytester: pytest.Pytester, tmp_path):
    """The testnet's start fails (here: its MLNode mocks): the test errors at set-up, naming a bundle that holds the
    failure and the testnet's options, like a failing test's bundle."""
    pytester.makeconftest(
        """
        from harness.backends.embedded.testnet import EmbeddedTestnet
        from harness.errors import StartupError

        def refuse(self):
            raise StartupError("mlnode-1: WireMock did not come up (for the test)")

        EmbeddedTestnet._start_mocks = refuse
        """
    )
    pytester.makepyfile("def test_x(testnet): pass")
    bundles = tmp_path / "bundles"
    result = pytester.runpytest_subprocess("--bundle-dir", str(bundles))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*harness setup bundle: *test_x-setup*"])
    [bundle] = list(bundles.iterdir())
    failure = (bundle / "failure.txt").read_text()
    assert "set-up failed: StartupError: mlnode-1: WireMock did not come up (for the test)" in failure
    assert (bundle / "options.json").is_file()
