"""The lock files pin every dependency ``pyproject.toml`` names, and agree with each other, so ``make run``,
``make test`` and the image install the same versions (the files are made by pip-tools: ``make lock``)."""

from __future__ import annotations

import re
import tomllib

from tests.deploy.dockerfile import ROOT


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def _pins(file_name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / file_name).read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            name, _, version = line.partition("==")
            assert version, f"{file_name}: {line!r} is not pinned with =="
            pins[_name(name)] = version.split(";")[0].strip()
    return pins


def test_lock_files_pin_every_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, test = _pins("requirements.lock"), _pins("requirements-test.lock")
    missing_runtime = sorted({_name(r) for r in project["dependencies"]} - runtime.keys())
    missing_test = sorted({_name(r) for r in project["optional-dependencies"]["test"]} - test.keys())
    assert not missing_runtime, f"not in requirements.lock: {missing_runtime}: run make lock"
    assert not missing_test, f"not in requirements-test.lock: {missing_test}: run make lock"


def test_test_lock_keeps_the_runtime_versions():
    runtime, test = _pins("requirements.lock"), _pins("requirements-test.lock")
    differ = {name: (version, test.get(name)) for name, version in runtime.items() if test.get(name) != version}
    assert not differ, f"requirements-test.lock differs from requirements.lock: {differ}: run make lock"


def test_runtime_lock_has_no_test_tools():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tools = {_name(r) for r in project["optional-dependencies"]["test"]}
    assert not tools & _pins("requirements.lock").keys()
