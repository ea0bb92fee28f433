"""Settings, read by pydantic-settings from ``TOOLDESK_*`` environment variables (and ``.env``).

The variables, their defaults and meanings are ``settings_table()``, the README's Settings table
(``python -m app settings`` prints it), made from the fields' descriptions below.

A bad value raises ``SettingsError`` naming the variable and what it expects;
``python -m app`` prints it and exits with status 2.
"""

from __future__ import annotations

import base64
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app import database_url
from app.errors import SettingsError
from app.simulator.scenario import DEFAULT_SCENARIOS_DIR

WEBHOOK_PATH = "/webhooks/sudoiq"

SIMULATOR_PREFIX = "/sim"


class Settings(BaseSettings):
    """All of the console's settings: each field's ``description`` and default make ``settings_table()``."""

    model_config = SettingsConfigDict(
        env_prefix="TOOLDESK_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    host: str = Field(default="127.0.0.1", description="address the console listens on")
    port: int = Field(default=8080, ge=1, le=65535, description="port; also `python -m app --port N`")
    database_url: str = Field(
        default="sqlite:///tooldesk.db",
        description="the SQLite file (relative to the working directory), or a PostgreSQL database: "
        "`postgresql+psycopg://user:password@host:5432/name` (psycopg 3; `postgresql://` means the same)",
    )
    platform_url: str = Field(
        default="",
        description="base URL of the platform's execution API",
        json_schema_extra={"shown_default": "empty: the embedded simulator at `{public url}/sim`"},
    )
    platform_api_key: str = Field(
        default="sim-local-key",
        description="sent as `Authorization: Bearer`; the embedded simulator expects it (set it to call `/sim` "
        "yourself: when it is not set, the embedded simulator gets a random key at each start, so nobody else can "
        "answer rounds or make faults through it)",
        json_schema_extra={"shown_default": "with the embedded simulator: random, made at each start"},
    )
    webhook_secret: str = Field(
        default="",
        description="`whsec_<base64>`, shared with the platform (and the embedded simulator)",
        json_schema_extra={"shown_default": "generated on first start and kept in the database"},
    )
    secret_rotation_window: float = Field(
        default=86400.0, ge=0, le=30 * 86400, allow_inf_nan=False,
        description="seconds the previous webhook secret stays accepted after *Rotate* (Users and tokens page); 0 "
        "refuses it at once",
    )  # fmt: skip
    public_url: str = Field(
        default="",
        description="what the platform is told to call; the webhook is `{public url}/webhooks/sudoiq`",
        json_schema_extra={"shown_default": "`http://{host}:{port}` (an IPv6 host in brackets)"},
    )
    trusted_proxies: str = Field(
        default="",
        description="reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed: comma-separated "
        "addresses or networks (`10.0.0.0/8`), `*` for any (uvicorn's `forwarded_allow_ips`); the client's "
        "address, which the refusal rate limit and the sign-in slow-down count by, then comes from them",
        json_schema_extra={"shown_default": "empty: none; the connection's own address is the client's"},
    )
    scenarios_dir: Path = Field(
        default=DEFAULT_SCENARIOS_DIR,
        description="the embedded simulator's agents, one JSON file each",
        json_schema_extra={"shown_default": "`fixtures/scenarios` of the project"},
    )
    round_ttl: float = Field(
        default=600.0, gt=0, le=30 * 86400, allow_inf_nan=False,
        description="seconds the embedded simulator gives a round before it expires",
    )  # fmt: skip
    step_delay: float = Field(
        default=0.3, ge=0, le=60, allow_inf_nan=False, description="seconds between a simulated run's state changes"
    )
    retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [0.5, 1, 2, 5, 10], description="seconds between the simulator's webhook retries"
    )
    outbox_retry: float = Field(
        default=1.0, gt=0, le=60, allow_inf_nan=False,
        description="seconds before the outbox retries a submission the platform did not take "
        "(then doubling, up to 60)",
    )  # fmt: skip
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, le=100_000_000,
        description="bytes a webhook body may have; a longer one is answered 413 as soon as the limit is passed "
        "(or at once, by its Content-Length), without reading the rest",
    )  # fmt: skip
    refused_retention: float = Field(
        default=168.0, gt=0, le=24 * 3650, allow_inf_nan=False,
        description="hours a refused delivery is kept; older ones are removed in the background (verified ones "
        "never are)",
    )  # fmt: skip
    refused_keep: int = Field(
        default=10_000, ge=1, le=10_000_000,
        description="refused deliveries kept at most; the oldest beyond it are removed in the background",
    )  # fmt: skip
    refused_rate: int = Field(
        default=60, ge=1, le=1_000_000,
        description="refused webhook requests stored per source address and minute (a burst of as many at once); "
        "past it the answer is 429 with `Retry-After` and only a count is kept",
    )  # fmt: skip
    ingest_queue: int = Field(
        default=1000, ge=1, le=100_000,
        description="webhook deliveries waiting for their commit at most; past it a delivery is answered 503 with "
        "`Retry-After` at once and not stored (the platform sends it again)",
    )  # fmt: skip
    sandbox_workers: int = Field(default=4, ge=1, le=32, description="warm worker processes for Python handlers")
    sandbox_timeout: float = Field(
        default=5.0, gt=0, le=300, allow_inf_nan=False, description="seconds a Python handler may run"
    )
    sandbox_memory_mb: int = Field(default=256, ge=32, le=65536, description="megabytes a Python handler may allocate")
    sandbox_bwrap: str = Field(
        default="bwrap",
        description="bubblewrap, which confines Python handlers' workers (a path, or a name looked up on PATH)",
    )
    sandbox_unconfined: bool = Field(
        default=False,
        description="`true`: run Python handlers where bubblewrap cannot confine them, with process-level "
        "containment only (a clean environment, a memory cap, the nobody user when root); otherwise they are "
        "disabled there",
        json_schema_extra={"shown_default": "`false`"},
    )
    template_workers: int = Field(
        default=2, ge=1, le=32,
        description="worker processes that render rules handlers' templates and run their regexes",
    )  # fmt: skip
    template_timeout: float = Field(
        default=2.0, gt=0, le=300, allow_inf_nan=False,
        description="seconds a rules handler's templates and regexes may take for one call; then its worker is "
        "stopped and the call gets an error result",
    )  # fmt: skip
    template_memory_mb: int = Field(
        default=256, ge=32, le=65536,
        description="megabytes a rules handler's templates and regexes may allocate for one call",
    )  # fmt: skip
    handler_threads: int = Field(
        default=4, ge=1, le=64,
        description="threads for handlers' blocking work (database reads and writes), apart from the threads "
        "that store webhook deliveries",
    )  # fmt: skip

    auth: bool = Field(
        default=True,
        description="`off`: no sign-in, everyone is an admin; accepted only when `TOOLDESK_HOST` is a loopback "
        "address (start-up refuses otherwise)",
        json_schema_extra={"shown_default": "`on`"},
    )
    session_idle_timeout: float = Field(
        default=8 * 3600.0, gt=0, le=30 * 86400, allow_inf_nan=False,
        description="seconds a browser's sign-in lasts without being used; then it signs in again",
    )  # fmt: skip
    reconnect_timeout: float = Field(
        default=60.0, ge=3, le=3600, allow_inf_nan=False,
        description="seconds an open page may stay offline and reconnect without reloading (what it holds is kept)",
    )  # fmt: skip
    signin_link_ttl: float = Field(
        default=86400.0, gt=0, le=30 * 86400, allow_inf_nan=False,
        description="seconds the first-start sign-in link (printed to the terminal) stays valid; it works once",
    )  # fmt: skip

    @field_validator("database_url")
    @classmethod
    def _sqlite_file_or_postgresql(cls, value: str) -> str:
        return database_url.checked(value)

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
        if value:  # a bracket left open or a port past 65535 failed later, in the Host check, as a traceback
            try:
                parts = urlsplit(value)
                parts.port  # noqa: B018 -- reading it checks it
            except ValueError as exc:
                raise ValueError(f"expected an http:// or https:// URL, got {value!r} ({exc})") from None
            if not parts.hostname:
                raise ValueError(f"expected an http:// or https:// URL, got {value!r} (no host)")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"expected addresses or networks separated by commas, or *; {item!r} is neither"
                ) from None
        return ",".join(items)

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
    def loopback(self) -> bool:
        """True when the console listens only on a loopback address (127.0.0.0/8, ::1, localhost)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def secure_cookies(self) -> bool:
        """True when the console's public URL is https: cookies are then marked ``Secure``."""
        return self.base_url.startswith("https://")

    @property
    def database_is_sqlite(self) -> bool:
        """True for a SQLite file; False for PostgreSQL (the only other database accepted)."""
        return self.database_url.startswith("sqlite:///")

    @property
    def database_path(self) -> str:
        """The SQLite file's path as written; empty for PostgreSQL (no file: no console lock, no file probe)."""
        return self.database_url.removeprefix("sqlite:///") if self.database_is_sqlite else ""

    @property
    def database_label(self) -> str:
        """The database for a message: the SQLite file's path, or the PostgreSQL URL with its password hidden."""
        return self.database_path or database_url.shown(self.database_url)


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


SECRET_SETTINGS = frozenset({"webhook_secret", "platform_api_key"})
"""Settings whose values are never echoed in an error message or a log."""


def settings_table() -> str:
    """The Markdown table of every setting, one row a field of ``Settings``: ``| `TOOLDESK_<NAME>` | default |
    meaning |``, the default shown as written in the environment unless the field says otherwise
    (``shown_default``). The README's Settings table is this text."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        shown = extra.get("shown_default") or f"`{_as_written(field.get_default(call_default_factory=True))}`"
        rows.append(f"| `TOOLDESK_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(rows) + "\n"


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once. Raises ``SettingsError`` on a bad value."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            name = "TOOLDESK_" + field.upper() if field else "settings"
            value = error.get("input")
            if field == "database_url" and isinstance(value, str):
                value = database_url.shown(value)  # a PostgreSQL URL may carry a password
            shown = f"got {len(str(value))} characters, not shown" if field in SECRET_SETTINGS else f"got {value!r}"
            problems.append(f"{name}: {error['msg']} ({shown})")
        raise SettingsError("bad setting: " + "; ".join(problems)) from None


def _as_written(value: object) -> str:
    """A default as it would be set in the environment: ``600.0`` -> ``600``, a list -> ``0.5,1,2``."""
    if isinstance(value, list):
        return ",".join(_as_written(item) for item in value)
    return f"{value:g}" if isinstance(value, float) else str(value)
