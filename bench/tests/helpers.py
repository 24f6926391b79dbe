"""Shared by the bench tests: puts bench/lib on the import path, makes
executable stand-ins for Lambda bootstraps and for `tmctl statements`, and
reads the recorded outputs of the latter."""

import os
import stat
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(TESTS, "..", "lib")
sys.path.insert(0, LIB)


def fake_bootstrap(directory, name="bootstrap"):
    """An executable at directory/name that runs fake_bootstrap.py with this
    Python (the bootstrap's PATH is Lambda's, which may not find it)."""
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'#!/bin/sh\nexec "{sys.executable}" "{os.path.join(TESTS, "fake_bootstrap.py")}"\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def fake_tmctl(directory):
    """An executable at directory/tmctl answering `tmctl statements` from
    the recorded outputs (fake_tmctl.py)."""
    path = os.path.join(directory, "tmctl")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'#!/bin/sh\nexec "{sys.executable}" "{os.path.join(TESTS, "fake_tmctl.py")}" "$@"\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def fixture(name):
    """The text of a recorded `tmctl statements` output."""
    with open(os.path.join(TESTS, "fixtures", "statements", name), encoding="utf-8") as f:
        return f.read()
