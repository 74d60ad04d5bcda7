# Root conftest: the harness plugin is loaded through its pytest11 entry point (harness.plugin).
# Nothing else lives here on purpose; shared fixtures are in harness/plugin.py and tests/conftest.py.
