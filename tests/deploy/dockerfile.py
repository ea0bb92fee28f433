"""Reading the project's ``Dockerfile`` as the image build would, so tests can replay it on the host.

``read_stages(text)`` gives each stage's instructions, continuation lines joined and comments dropped;
``env_of(instructions)`` the environment an ``ENV`` sequence leaves (``$VAR`` expanded); ``PathMap`` moves the
image's absolute paths (``/opt/venv``, ``/opt/tooldesk``, ``/data``) into a temporary folder.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
IMAGE_PATHS = ("/opt/tooldesk", "/opt/venv", "/data")
"""The image's own folders; the build and run instructions name no other absolute path of their own."""


@dataclass
class Stage:
    """One ``FROM`` and what follows it: ``name`` (the ``AS`` name, else "") and ``(keyword, arguments)`` pairs."""

    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for kw, arguments in self.instructions if kw == keyword]


def read_stages(text: str) -> list[Stage]:
    """The Dockerfile's stages in order; raises ``ValueError`` for an instruction before the first ``FROM`` other
    than ``ARG``."""
    stages: list[Stage] = []
    for keyword, arguments in _instructions(text):
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            stages.append(Stage(name=name))
        elif stages:
            stages[-1].instructions.append((keyword, arguments))
        elif keyword != "ARG":
            raise ValueError(f"{keyword} before the first FROM")
    return stages


def env_of(stage: Stage, start: dict[str, str]) -> dict[str, str]:
    """``start`` with every ``ENV key=value ...`` of ``stage`` applied in order, ``$VAR`` and ``${VAR}`` expanded
    from what is set so far."""
    env = dict(start)
    for arguments in stage.all("ENV"):
        for pair in shlex.split(arguments):
            key, _, value = pair.partition("=")
            env[key] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m[1], ""), value)
    return env


@dataclass(frozen=True)
class PathMap:
    """The image's folders under ``root`` on the host: ``/opt/venv`` -> ``root/opt/venv`` and so on."""

    root: Path

    def host(self, image_path: str) -> Path:
        return Path(self.apply(image_path))

    def apply(self, text: str) -> str:
        """``text`` with each image folder replaced by its host folder (longest first)."""
        for image_path in sorted(IMAGE_PATHS, key=len, reverse=True):
            text = text.replace(image_path, f"{self.root}{image_path}")
        return text


def _instructions(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        found.append((keyword.upper(), arguments.strip()))
    return found
