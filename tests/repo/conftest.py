"""Tests of the repository as a whole: no import cycle in harness/, one entry point (`./dev`) and the commands the
harness and the README print."""
