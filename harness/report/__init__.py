"""Failure bundles and report rendering."""
