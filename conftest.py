# Root conftest: the harness plugin is loaded through its pytest11 entry point (harness.plugin). Shared fixtures are
# in harness/plugin.py and tests/conftest.py. This repository's own runs also check that tests leave no temp folders
# (harness/util/tmpguard.py).
pytest_plugins = ["harness.util.tmpguard"]
