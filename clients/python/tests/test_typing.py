"""The package's public API is typed (py.typed ships with it): mypy finds no issue with every definition annotated."""
import importlib.util
import os
import subprocess
import sys

import pytest

PACKAGE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src", "scarcity_client"))


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy not installed (Debian: python3-mypy)")
def test_mypy_finds_no_issue_in_the_package():
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", PACKAGE], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(PACKAGE)))  # clients/python: its pyproject.toml configures mypy
    assert result.returncode == 0, result.stdout + result.stderr
