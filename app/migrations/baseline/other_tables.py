"""Users, sign-in sessions and tickets, API tokens, the audit and the embedded simulator's ``sim_*`` tables as they
were when migrations began, frozen in ``tables.metadata`` (see ``tables``). Do not edit."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from app.migrations.baseline.tables import metadata

Table(
    "apitoken",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False),
    Column("role", String, nullable=False),
    Column("token_hash", String, nullable=False),
    Column("prefix", String, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String, nullable=False, default=""),
    Column("last_used_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    Index("ix_apitoken_token_hash", "token_hash", unique=True),
)


Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("who", String, nullable=False),
    Column("action", String, nullable=False),
    Column("detail", String, nullable=False, default=""),
    Index("ix_audit_at", "at"),
)


Table(
    "user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False),
    Column("role", String, nullable=False),
    Column("password_hash", String, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Index("ix_user_name", "name", unique=True),
)


Table(
    "signinsession",
    metadata,
    Column("id_hash", String, primary_key=True),
    Column("user_id", Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("address", String, nullable=False, default=""),
    Index("ix_signinsession_user_id", "user_id"),
)


Table(
    "signinticket",
    metadata,
    Column("ticket_hash", String, primary_key=True),
    Column("user_id", Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("then", String, nullable=False, default="/"),
    Index("ix_signinticket_user_id", "user_id"),
)


Table(
    "sim_delivery",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("webhook_id", String, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Column("queued_at", Float, nullable=False),
    UniqueConstraint("webhook_id"),
)


Table(
    "sim_idempotency_key",
    metadata,
    Column("key", String, primary_key=True),
    Column("fingerprint", String, nullable=False),
    Column("reply", JSON, nullable=False),
    Column("stored_at", Float, nullable=False),
)


Table(
    "sim_run",
    metadata,
    Column("task_id", Integer, primary_key=True, autoincrement=False),
    Column("agent_id", String, nullable=False),
    Column("state", String, nullable=False),
    Column("status", JSON, nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("outputs", JSON, nullable=False),
    Column("errors", JSON, nullable=False),
    Column("next_step", Integer, nullable=False),
    Column("calls", JSON, nullable=False),
    Column("used_ids", JSON, nullable=False),
    Column("deadline", Float, nullable=False),
    Column("failure", JSON, nullable=True),
    Column("updated_at", Float, nullable=False),
    Index("ix_sim_run_state", "state"),
)


Table(
    "sim_tool_responses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, nullable=False),
    Column("round", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Column("received_at", Float, nullable=False),
    Index("ix_sim_tool_responses_task_id", "task_id"),
)
