"""Tests of harness/plugin.py and pytest's root: options and markers from outside (pytester), the root whatever the
arguments."""
