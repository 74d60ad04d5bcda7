"""pytest plugin (registered through the `pytest11` entry point): options, markers, fixtures and hooks.
Engines are imported lazily inside fixtures; option values are read and validated in pytest_configure.

Fixtures:
    harness_options   session  validated RunOptions
    testnet_options   module   overrides for this module's testnet (redefine it in a scenario module)
    testnet           function the Testnet for this module's options (shared by modules with the same options),
                               reset before each test (journals, scenarios); chain + API node rebuilt when dirty
    chain, api, mlnodes         shortcuts: ChainClient, ApiClient, list[MLNodeEndpoint]
    upgrade           function UpgradeRunner: `upgrade.hop("v0.3.9")` -> HopReport (marks the chain dirty)
    fresh_chain       function skips the test unless the chain runs the path's first version (always true on REBUILD
                               backends; an external testnet only until it was upgraded)

Imports inside hooks and fixtures are on purpose: pytest loads this plugin for every run, and a run loads only the
parts of the harness its tests use."""

from __future__ import annotations

import pytest

MARKERS = {
    "stable": "deterministic scenario that CI pipelines run (`pytest -m stable`)",
    "chaos": "fault-injection scenario (chaos proxy between the API node and the chain)",
    "docker": "needs a running Docker engine; skipped with a reason naming the fix when none is reachable",
    "slow": "takes more than ~10 s (under pytest-xdist these are handed out first)",
    "requires": "requires(*capabilities, versions=N, api_profile=NAME, topology=NAME): skip, naming what is missing, "
    "on a backend without these capabilities (harness.backends.contract.Capability) or with other run options",
    "upstream": "runs against the user's real Gonka binaries (needs --gonka-bin DIR or HARNESS_GONKA_BIN)",
    "network": "several participants (validators, each with its own API node and MLNodes) on one chain",
    "edge": "an edge case around the switch: MLNode faults, the upgrade plan, a crash point of the API node, a network of "
    "mixed API node builds (`pytest -m edge`)",
}
OPTIONS_KEY = pytest.StashKey["object"]()
FACTORY_KEY = pytest.StashKey["object"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    # Help texts start with a capital letter and end without a period.
    g = parser.getgroup("harness", "Gonka upgrade harness")
    g.addoption("--backend", default="embedded", help="Where the testnet runs: embedded, docker, external or gonka")
    g.addoption("--versions", default=None, help="Upgrade path, comma separated (default v0.3.8,v0.3.9,v0.3.10)")
    g.addoption("--api-profile", default="reference", help="API node behaviour under test: reference or pr228")
    g.addoption("--topology", default="single", help="MLNode topology: single or side-by-side (nginx)")
    g.addoption("--block-time", default=None, help="Embedded chain block time in seconds (default 0.2)")
    g.addoption(
        "--keep-env",
        action="store_true",
        help="Docker backend: leave the testnet running at the end, print its endpoints and a state file for harness down",
    )
    g.addoption("--bundle-dir", default=None, help="Where failure bundles go (default ./harness-bundles)")
    g.addoption(
        "--chaos-seed",
        default=None,
        help="Seed for random chaos faults (printed in reports; the same request sequence gets the same decisions)",
    )
    g.addoption("--env-file", default=None, help="External backend: file with the running testnet's URLs and key")
    g.addoption("--images", default="local", help="Docker backend images: local (built by harness images build) or upstream")
    g.addoption("--image-chain", default=None, help="Docker backend: chain image (overrides --images and IMAGE_CHAIN)")
    g.addoption("--image-api", default=None, help="Docker backend: API node image (overrides --images and IMAGE_API)")
    g.addoption("--gonka-bin", default=None, help="Gonka backend: directory with your inferenced and decentralized-api")
    g.addoption("--gonka-revision", default=None, help="Gonka backend: label for the binaries (default: from their build info)")
    g.addoption(
        "--gonka-cache",
        default=None,
        help="Gonka backend: snapshot cache of serving testnets (default ~/.cache/gonka-upgrade-harness/snapshots or "
        "HARNESS_GONKA_CACHE; 'off' starts every testnet cold)",
    )
    g.addoption("--image-wiremock", default=None, help="Docker backend: WireMock image (overrides --images and IMAGE_WIREMOCK)")


def _terminate_as_interrupt() -> None:
    """SIGTERM (a CI timeout, `kill`) ends the run like Ctrl-C: fixtures tear down, so every process, container and
    temp dir a testnet started is stopped (its children run in their own sessions and get no signal of their own)."""
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def interrupt(_sig: int, _frame: object) -> None:
            raise KeyboardInterrupt("SIGTERM")

        try:
            signal.signal(signal.SIGTERM, interrupt)
        except ValueError:  # not the main thread: leave the handler to whoever owns the process
            pass


PATH_OPTIONS = ("--gonka-bin", "--env-file", "--bundle-dir")


def _root_taken_from_a_value(config: pytest.Config) -> str | None:
    """pytest picks its root directory before plugins add their options, so `--gonka-bin DIR` (value apart) makes it
    take DIR for a path to test: the root moves there, no configuration file is found, test ids and the cache go wrong.
    The refusal names the fix; `./dev test` names the root itself."""
    if config.inipath is not None or config.known_args_namespace.rootdir:
        return None
    args = [str(a) for a in config.invocation_params.args]
    here = config.invocation_params.dir.resolve()
    for i, arg in enumerate(args[:-1]):
        if arg in PATH_OPTIONS:
            value = (here / args[i + 1]).resolve()
            inside = value == here or here in value.parents  # then the root is the current directory either way
            if not inside and (value == config.rootpath or config.rootpath in value.parents):
                return (
                    f"{arg} {args[i + 1]}: pytest took {args[i + 1]} for a path to test before the harness plugin was loaded, "
                    f"so its root directory became {config.rootpath} and no configuration file was found; write "
                    f"{arg}={args[i + 1]}, or run ./dev test (it names the repository as the root)"
                )
    return None


def pytest_configure(config: pytest.Config) -> None:
    _terminate_as_interrupt()
    misread = _root_taken_from_a_value(config)
    if misread:
        raise pytest.UsageError(misread)
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    from harness.errors import ConfigError
    from harness.options import build_options

    try:
        opts = build_options(
            backend=config.getoption("--backend"),
            versions=config.getoption("--versions"),
            api_profile=config.getoption("--api-profile"),
            topology=config.getoption("--topology"),
            block_time=config.getoption("--block-time"),
            keep_env=config.getoption("--keep-env"),
            bundle_dir=config.getoption("--bundle-dir"),
            chaos_seed=config.getoption("--chaos-seed"),
            env_file=config.getoption("--env-file"),
            images=config.getoption("--images"),
            image_chain=config.getoption("--image-chain"),
            image_api=config.getoption("--image-api"),
            image_wiremock=config.getoption("--image-wiremock"),
            gonka_bin=config.getoption("--gonka-bin"),
            gonka_revision=config.getoption("--gonka-revision"),
            gonka_cache=config.getoption("--gonka-cache"),
        )
    except ConfigError as e:
        raise pytest.UsageError(str(e)) from None
    config.stash[OPTIONS_KEY] = opts


def pytest_report_header(config: pytest.Config) -> str:
    o = config.stash.get(OPTIONS_KEY, None)
    if o is None:
        return ""
    from harness.backends.factory import describe_under_test

    return (
        f"harness: backend={o.backend} versions={','.join(o.versions)} profile={o.api_profile} "
        f"topology={o.topology} block_time={o.block_time_s}s chaos_seed={o.chaos_seed}\n"
        f"harness: under test: {describe_under_test(o)}"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _slow_first_when_distributed(config, items)
    _skip_missing_capabilities(config, items)
    _skip_upstream_without_binaries(config, items)
    if not any(item.get_closest_marker("docker") for item in items):
        return
    from harness.backends.docker.util import docker_available

    reason = docker_available()
    if reason is None:
        return
    if config.stash[OPTIONS_KEY].backend == "docker":
        raise pytest.UsageError(f"--backend docker: {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("docker"):
            item.add_marker(skip)


def _skip_upstream_without_binaries(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash[OPTIONS_KEY].gonka_bin is not None:
        return
    skip = pytest.mark.skip(
        reason="needs your Gonka binaries: --gonka-bin DIR or HARNESS_GONKA_BIN=DIR (a directory with inferenced and "
        "decentralized-api built from your gonka checkout)"
    )
    for item in items:
        if item.get_closest_marker("upstream"):
            item.add_marker(skip)


def _slow_first_when_distributed(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, hand out `slow` tests first (longest first is how a few workers finish together); the
    order within each group stays the collection order. A serial run keeps the collection order."""
    if config.getoption("numprocesses", default=None) in (None, 0):
        return
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _skip_missing_capabilities(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.requires(Capability.RESTART_API, ..., versions=3, api_profile="reference")`: skipped on a backend
    that lacks a capability, or under run options that do not meet a need, with the reason naming it."""
    from harness.backends.contract import Capability, missing_text, unmet_options
    from harness.backends.factory import capabilities_for
    from harness.errors import ConfigError

    opts = config.stash[OPTIONS_KEY]
    have = capabilities_for(opts)
    for item in items:
        needed: set[Capability] = set()
        options: dict = {}
        for mark in item.iter_markers("requires"):
            try:
                needed.update(Capability(c) for c in mark.args)
            except ValueError as e:
                known = [c.value for c in Capability]
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.requires: {e}; known: {known}") from None
            options.update(mark.kwargs)
        reasons = []
        missing = needed - have
        if missing:
            reasons.append(f"--backend {opts.backend}: {missing_text(opts.backend, missing)}")
        try:
            reasons += unmet_options(opts, options)
        except ConfigError as e:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.requires: {e}") from None
        if reasons:
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        _apply_documented_outcome(item, call, report)
        item.stash[_REPORT_KEY] = report
    return report


_REPORT_KEY = pytest.StashKey["object"]()
_TESTNETS_KEY = pytest.StashKey[list]()


def _used(request: pytest.FixtureRequest, tn) -> None:
    """Remember the testnets a test was handed, for its report (which revision ran it)."""
    request.node.stash.setdefault(_TESTNETS_KEY, []).append(tn)


def _apply_documented_outcome(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> None:
    """On a documented upstream revision, a scenario's known failure is xfailed quoting it, and a pass or any other
    failure fails naming what was documented (harness/drive/documented.py). Other builds: the report is unchanged."""
    revisions = {tn.info.upstream_revision for tn in item.stash.get(_TESTNETS_KEY, [])}
    if len(revisions) != 1 or report.skipped:  # no testnet, several builds, or the test skipped/xfailed itself
        return
    from harness.drive.documented import judge, lookup

    doc = lookup(revisions.pop(), item.nodeid)
    if doc is None:
        return
    message = str(call.excinfo.value) if report.failed and call.excinfo is not None else ""
    verdict = judge(doc, passed=report.passed, failure_text=message)
    if verdict.outcome == "xfailed":
        report.outcome = "skipped"
        report.wasxfail = verdict.text
    elif report.passed:
        report.outcome = "failed"
        report.longrepr = verdict.text
    else:
        report.sections.append(("documented outcome", verdict.text))


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session", autouse=True)
def _progress_on_the_real_stack(request: pytest.FixtureRequest):
    """On the gonka backend (minutes per start and hop), long waits say what they await and how far along they are,
    on the terminal (a live line; plain lines when it is no terminal). Not in xdist workers, whose output is not shown."""
    opts = request.config.stash.get(OPTIONS_KEY, None)
    if opts is None or opts.backend != "gonka" or hasattr(request.config, "workerinput"):
        yield
        return
    from harness.util.progress import PytestTerminal, reporting

    with reporting(PytestTerminal(request.config)):
        yield


@pytest.fixture(scope="session")
def harness_options(pytestconfig: pytest.Config):
    return pytestconfig.stash[OPTIONS_KEY]


@pytest.fixture(scope="session")
def testnet_factory(harness_options, tmp_path_factory: pytest.TempPathFactory):
    """make(**overrides) -> started Testnet; everything made is closed at session end (unless --keep-env)."""
    from harness.backends.factory import TestnetFactory

    factory = TestnetFactory(harness_options, tmp_path_factory.mktemp("testnets"))
    yield factory
    if harness_options.keep_env:
        from harness.ops.state import keep_testnets

        keep_testnets(factory.live)
    else:
        factory.close_all()


@pytest.fixture(scope="module")
def testnet_options() -> dict:
    """Overrides for this module's testnet, e.g. {"topology": "side-by-side"} or {"nodes": (...)}; redefine per module."""
    return {}


def _prepare(tn) -> None:
    """Before each test: a fresh chain where the backend can give one and the last test moved it, else clean journals."""
    from harness.backends.contract import Capability

    if tn.dirty and Capability.REBUILD in tn.capabilities:
        tn.rebuild_chain()
    else:
        tn.mlnodes_reset()
        tn.dirty = False


def _bundle_if_failed(request: pytest.FixtureRequest, tn, opts) -> None:
    rep = request.node.stash.get(_REPORT_KEY, None)
    if rep is None or not rep.failed:
        return
    from harness.report.bundle import write_bundle

    path = write_bundle(
        opts.bundle_dir,
        request.node.nodeid,
        tn,
        opts,
        runner=getattr(tn, "last_runner", None),
        failure=rep.longreprtext,
    )
    rep.sections.append(("harness failure bundle", f"bundle: {path}\n{_first_offender(tn)}"))
    tn.dirty = True


def _set_up(request: pytest.FixtureRequest, factory, opts, **overrides):
    """The shared testnet for these overrides, prepared for the test. When that fails (the testnet did not start, or
    its chain could not be rebuilt), a setup bundle with the testnet's logs is written and its path added to the
    error, so the failure can be read like any other."""
    factory.failed_start = None
    tn = None
    try:
        tn = factory.shared(**overrides)
        _prepare(tn)
        return tn
    except Exception as e:
        from harness.report.bundle import write_bundle

        failed = tn if tn is not None else factory.failed_start
        if failed is None:  # refused before anything started (ConfigError): the message says it all
            raise
        if tn is not None:
            tn.dirty = True
        path = write_bundle(opts.bundle_dir, f"{request.node.nodeid}-setup", failed, opts,
                            failure=f"set-up failed: {type(e).__name__}: {e}")  # fmt: skip
        e.add_note(f"harness setup bundle: {path}")
        raise


@pytest.fixture
def testnet(testnet_factory, testnet_options, request: pytest.FixtureRequest, harness_options):
    # Shared by every module asking for the same mocks (the factory caches it for the session); the options are
    # re-applied each test, as another module or a testnet_with() call may have reconfigured the API node since.
    tn = _set_up(request, testnet_factory, harness_options, **testnet_options)
    _used(request, tn)
    yield tn
    _bundle_if_failed(request, tn, harness_options)


@pytest.fixture
def testnet_with(testnet_factory, request: pytest.FixtureRequest, harness_options):
    """testnet_with(api_profile="pr228") -> a shared testnet for those options, reset like `testnet` and marked
    dirty (the test is expected to upgrade it); a failure writes its bundle too. `participants=3` (or a tuple of
    harness.backends.contract.ParticipantSpec) asks for a network (capability `participants`). Options that only concern the API
    node reconfigure the shared testnet with the same mocks, so do not use `testnet` in the same test."""
    handed: list = []

    def get(**overrides: object):
        tn = _set_up(request, testnet_factory, harness_options, **overrides)
        tn.dirty = True
        handed.append(tn)
        _used(request, tn)
        return tn

    yield get
    for tn in handed:
        _bundle_if_failed(request, tn, harness_options)


def _first_offender(tn) -> str:
    runner = getattr(tn, "last_runner", None)
    if runner is None or not runner.hops:
        return "no audit was run"
    off = runner.hops[-1].audit.first_offender
    return f"first offender: {off}" if off else "audit passed; see the test's assertion"


@pytest.fixture
def gonka_testnet(testnet_factory, request: pytest.FixtureRequest, harness_options):
    """The real Gonka pair from --gonka-bin (whatever --backend says): a fresh chain and API node for each test (the
    test is expected to upgrade it); a failure writes its bundle. Tests using it are marked `upstream`."""
    if harness_options.gonka_bin is None:
        pytest.skip("needs your Gonka binaries: --gonka-bin DIR or HARNESS_GONKA_BIN=DIR")
    tn = _set_up(request, testnet_factory, harness_options, backend="gonka")
    tn.dirty = True
    _used(request, tn)
    yield tn
    _bundle_if_failed(request, tn, harness_options)


@pytest.fixture
def chain(testnet):
    return testnet.chain


@pytest.fixture
def api(testnet):
    return testnet.api


@pytest.fixture
def mlnodes(testnet):
    return testnet.mlnodes


@pytest.fixture
def upgrade(testnet):
    """UpgradeRunner over this test's testnet; using it marks the chain dirty (rebuilt before the next test)."""
    from harness.drive.hop import UpgradeRunner

    runner = UpgradeRunner(testnet, progress=lambda m: print(f"[upgrade] {m}"))
    testnet.dirty = True
    return runner


@pytest.fixture
def fresh_chain(testnet, harness_options) -> None:
    """The chain runs the upgrade path's first version, or the test is skipped naming the version it found."""
    if not testnet.chain.tracks_mlnode_version():  # upstream main keeps no MLNode version: the scenario decides
        return
    now = testnet.chain.mlnode_version()
    start = harness_options.versions[0]
    if now != start:
        pytest.skip(
            f"--backend {testnet.info.backend}: the chain runs {now} and this scenario starts at {start}; "
            "it needs a fresh testnet, which this backend cannot rebuild"
        )
