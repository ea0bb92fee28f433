"""The container image's install and start, replayed on the host (base images cannot be pulled where the tests run).

The ``Dockerfile`` is read, not copied: the build stage's ``COPY`` and ``RUN`` lines run as written in a clean
virtualenv (the image's folders moved under a temporary folder, pip's cache kept for speed), then the console is
started with the run stage's ``ENV``, ``WORKDIR`` and ``CMD`` (only the port is a free one), and must answer its
probes, keep sign-in on, write its database into the volume, and pass the image's own ``HEALTHCHECK``. What the
replay cannot do: the base image, ``apt-get install bubblewrap`` (the Makefile installs it on the host) and
``USER`` (README, "Deploy").
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.builders import free_port, stop_process
from tests.deploy.dockerfile import DOCKERFILE, ROOT, PathMap, Stage, env_of, read_stages

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
INSTALL_TIMEOUT = 900.0


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return read_stages(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def image(stages: list[Stage], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PathMap, dict[str, str]]]:
    """The build stage replayed: its folders under a temporary root, and the environment its RUN lines had."""
    root = tmp_path_factory.mktemp("image")
    paths = PathMap(root)
    build = _stage(stages, "build")
    env = env_of(build, _base_env(root))
    env.pop("PIP_NO_CACHE_DIR", None)  # the image keeps no cache; here pip's cache makes the replay fast
    for keyword, arguments in build.instructions:
        if keyword == "COPY":
            source, destination = arguments.split()
            _copy(ROOT / source, paths.host(destination))
        elif keyword == "RUN":
            command = paths.apply(arguments).replace("--no-cache-dir", "")
            done = subprocess.run(
                command, shell=True, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
            assert done.returncode == 0, f"RUN {arguments}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        else:
            assert keyword == "ENV", f"the replay does not know {keyword} in the build stage"
    yield paths, env


def test_dockerfile_copies_only_what_the_build_context_keeps(stages: list[Stage]):
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [arguments.split()[0] for arguments in _stage(stages, "build").all("COPY")]
    assert sources, "the build stage copies nothing"
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the project"
        parts = Path(source).parts
        hits = [p for p in ignored if any(fnmatch.fnmatch("/".join(parts[: i + 1]), p) for i in range(len(parts)))]
        assert not hits, f"COPY {source} is left out of the build context by .dockerignore {hits}"


def test_run_stage_listens_everywhere_with_sign_in_on(stages: list[Stage]):
    env = env_of(stages[-1], {})
    assert env["TOOLDESK_HOST"] == "0.0.0.0"
    assert env["TOOLDESK_PORT"] == "8080"
    assert env["TOOLDESK_AUTH"] == "on"
    assert env["TOOLDESK_PUBLIC_URL"] == "http://localhost:8080"  # else even the embedded simulator is refused
    assert env["TOOLDESK_DATABASE_URL"] == "sqlite:////data/tooldesk.db"
    user = stages[-1].all("USER")
    assert user and not user[-1].startswith("0"), "the console must not run as root"
    for arguments in stages[-1].all("COPY"):
        source, destination = arguments.removeprefix("--from=build ").split()
        assert source == destination, "the run stage takes the build stage's folders as they are"


def test_image_install_then_cmd_answers_probes(
    stages: list[Stage], image: tuple[PathMap, dict[str, str]], tmp_path: Path
):
    paths, _build_env = image
    final = stages[-1]
    port = free_port()  # instead of 8080, wherever the image names it (the port, the public URL)
    image_env = env_of(final, _base_env(paths.root))
    env = {key: paths.apply(value).replace(":8080", f":{port}") for key, value in image_env.items()}
    env["TOOLDESK_PORT"] = str(port)
    workdir = paths.host(final.all("WORKDIR")[-1])
    workdir.mkdir(parents=True, exist_ok=True)
    command = json.loads(final.all("CMD")[-1])
    assert command[0] == "python", command
    venv_python = paths.host("/opt/venv/bin/python")
    absent = subprocess.run([venv_python, "-c", "import pytest"], capture_output=True, check=False)
    assert absent.returncode != 0, "the image's virtualenv has the test tools: it must install requirements.lock only"

    log_path = tmp_path / "console.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(process, url, log_path)
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        page = httpx.get(f"{url}/runs", timeout=10)
        assert page.status_code == 303 and page.headers["location"].startswith("/signin"), "sign-in must stay on"
        assert "sign in as 'admin' with this link" in log_path.read_text()
        database = paths.host(env["TOOLDESK_DATABASE_URL"].removeprefix("sqlite:///").replace(str(paths.root), ""))
        assert database.is_file() and database.parent == workdir, "the database must live in the volume"
        healthcheck = _healthcheck(final)
        checked = subprocess.run(healthcheck, env=env, capture_output=True, text=True, timeout=30, check=False)
        assert checked.returncode == 0, checked.stderr
    finally:
        stop_process(process, within=STOP_TIMEOUT)


def _stage(stages: list[Stage], name: str) -> Stage:
    found = [stage for stage in stages if stage.name == name]
    assert found, f"the Dockerfile has no stage named {name!r}"
    return found[0]


def _base_env(root: Path) -> dict[str, str]:
    """What a base image gives: ``python`` (3.11, as here) on PATH, a HOME, and this machine's pip settings (how it
    reaches its package index)."""
    bin_dir = root / "base-bin"
    if not bin_dir.exists():
        bin_dir.mkdir(parents=True)
        (bin_dir / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    home = root / "home"
    home.mkdir(exist_ok=True)
    pip = {key: value for key, value in os.environ.items() if key.startswith("PIP_")}
    return {**pip, "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copy2(source, destination)


def _healthcheck(stage: Stage) -> list[str]:
    arguments = stage.all("HEALTHCHECK")[-1]
    assert " CMD [" in f" {arguments}", "HEALTHCHECK must use the exec form (the slim image has no curl)"
    return list(json.loads(arguments[arguments.index("CMD ") + 4 :]))


def _wait_for_health(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the console exited with {process.returncode}; log:\n{log_path.read_text()}")
        try:
            response = httpx.get(f"{url}/healthz", timeout=2)
        except httpx.TransportError as exc:
            last = repr(exc)
        else:
            if response.status_code == 200:
                assert response.json() == {"status": "ok"}
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        time.sleep(0.2)
    raise AssertionError(f"no /healthz within {START_TIMEOUT:.0f} s ({last}); log:\n{log_path.read_text()}")
