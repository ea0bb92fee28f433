"""Settings, read by pydantic-settings from ``TOOLDESK_*`` environment variables (and ``.env``).

| variable | default | meaning |
|---|---|---|
| ``TOOLDESK_HOST`` | ``127.0.0.1`` | address the console listens on |
| ``TOOLDESK_PORT`` | ``8080`` | port (also ``python -m app --port N``) |
| ``TOOLDESK_DATABASE_URL`` | ``sqlite:///tooldesk.db`` | SQLite file, relative to the working directory |
| ``TOOLDESK_PLATFORM_URL`` | empty: the embedded simulator at ``{public_url}/sim`` | base URL of the execution API |
| ``TOOLDESK_PLATFORM_API_KEY`` | ``sim-local-key`` | sent as ``Authorization: Bearer``; the embedded simulator expects it |
| ``TOOLDESK_WEBHOOK_SECRET`` | generated on first start, stored in the database | ``whsec_<base64>`` shared with the platform |
| ``TOOLDESK_PUBLIC_URL`` | ``http://127.0.0.1:{port}`` | what the platform is told to call; webhook at ``/webhooks/sudoiq`` |
| ``TOOLDESK_SCENARIOS_DIR`` | ``fixtures/scenarios`` of the project | the embedded simulator's agents, one JSON file each |
| ``TOOLDESK_ROUND_TTL`` | ``600`` | seconds the embedded simulator gives a round before it expires |
| ``TOOLDESK_STEP_DELAY`` | ``0.3`` | seconds the embedded simulator waits between a run's state changes |
| ``TOOLDESK_OUTBOX_RETRY`` | ``1`` | seconds before the outbox's first retry of a submission (then doubling, up to 60) |
| ``TOOLDESK_SANDBOX_WORKERS`` | ``2`` | warm worker processes for Python handlers |
| ``TOOLDESK_SANDBOX_TIMEOUT`` | ``5`` | seconds a Python handler may run |
| ``TOOLDESK_SANDBOX_MEMORY_MB`` | ``256`` | megabytes a Python handler may allocate |
| ``TOOLDESK_RETRY_SCHEDULE`` | ``0.5,1,2,5,10`` | seconds between the simulator's delivery retries |

A bad value raises ``SettingsError`` naming the variable and what it expects;
``python -m app`` prints it and exits with status 2.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.errors import SettingsError
from app.simulator.scenario import DEFAULT_SCENARIOS_DIR

WEBHOOK_PATH = "/webhooks/sudoiq"
SIMULATOR_PREFIX = "/sim"


class Settings(BaseSettings):
    """All of the console's settings; see the module docstring for the table."""

    model_config = SettingsConfigDict(env_prefix="TOOLDESK_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    database_url: str = "sqlite:///tooldesk.db"
    platform_url: str = ""
    platform_api_key: str = "sim-local-key"
    webhook_secret: str = ""
    public_url: str = ""
    scenarios_dir: Path = DEFAULT_SCENARIOS_DIR
    round_ttl: float = Field(default=600.0, gt=0, le=30 * 86400, allow_inf_nan=False)
    step_delay: float = Field(default=0.3, ge=0, le=60, allow_inf_nan=False)
    outbox_retry: float = Field(default=1.0, gt=0, le=60, allow_inf_nan=False)
    sandbox_workers: int = Field(default=2, ge=1, le=32)
    sandbox_timeout: float = Field(default=5.0, gt=0, le=300, allow_inf_nan=False)
    sandbox_memory_mb: int = Field(default=256, ge=32, le=65536)
    sandbox_bwrap: str = Field(
        default="bwrap",
        description="bubblewrap (a path, or a name looked up on PATH) that confines Python handlers' workers",
    )
    sandbox_unconfined: bool = Field(
        default=False,
        description="run Python handlers where bubblewrap cannot confine them, with process-level containment "
        "only (a clean environment, a memory cap, the nobody user when root); by default they are disabled there",
    )
    retry_schedule: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [0.5, 1, 2, 5, 10])

    @field_validator("database_url")
    @classmethod
    def _sqlite_only(cls, value: str) -> str:
        if not value.startswith("sqlite:///") or value.removeprefix("sqlite:///") in {"", ":memory:"}:
            raise ValueError("expected a SQLite file URL such as sqlite:///tooldesk.db")
        return value

    @field_validator("platform_api_key")
    @classmethod
    def _header_safe(cls, value: str) -> str:
        if not value or not value.isascii() or not value.isprintable() or " " in value:
            raise ValueError("expected printable ASCII without spaces (it is sent in the Authorization header)")
        return value

    @field_validator("platform_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value

    @field_validator("scenarios_dir")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"expected a folder of scenario *.json files; {value} is not a folder")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _whsec(cls, value: str) -> str:
        value = value.strip()
        if value:
            check_secret(value)
        return value

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = [float(part) for part in value.split(",") if part.strip()]
            except ValueError:
                raise ValueError(f"expected seconds separated by commas, such as 0.5,1,2; got {value!r}") from None
        if isinstance(value, list) and not all(isinstance(v, float | int) and 0 <= v <= 3600 for v in value):
            raise ValueError("expected each retry delay between 0 and 3600 seconds")
        return value

    @property
    def embedded_simulator(self) -> bool:
        """True when no platform URL is set: the console serves the simulator under ``/sim``."""
        return not self.platform_url

    @property
    def base_url(self) -> str:
        """The console's own address as the platform sees it, without a trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address needs brackets in a URL
        return self.public_url or f"http://{host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    @property
    def api_base_url(self) -> str:
        """Where the platform client sends requests."""
        return self.platform_url or self.base_url + SIMULATOR_PREFIX

    @property
    def database_path(self) -> str:
        return self.database_url.removeprefix("sqlite:///")


def check_secret(value: str) -> str:
    """Return ``value`` if it is ``whsec_<base64>`` of at least 16 bytes; raise ``ValueError`` otherwise."""
    if not value.startswith("whsec_"):
        raise ValueError("expected whsec_ followed by base64 (Standard Webhooks secret format)")
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise ValueError("the part after whsec_ is not valid base64") from None
    if len(key) < 16:
        raise ValueError(f"the secret decodes to {len(key)} bytes; use at least 16")
    return value


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once. Raises ``SettingsError`` on a bad value."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "TOOLDESK_" + str(error["loc"][0]).upper() if error["loc"] else "settings"
            problems.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
        raise SettingsError("bad setting: " + "; ".join(problems)) from None
