"""The console's tables of runs, deliveries, rounds and handlers as they were when migrations began (revision
``0001_baseline``), frozen as plain SQLAlchemy Core tables; ``other_tables`` holds the rest (users, tokens, the
audit, the embedded simulator's ``sim_*`` tables) in the same ``metadata``.

A frozen copy, never the models: the models move on with each later revision, and the baseline must keep making
what it made. Python-side defaults are kept because ``adopt`` gives a column it adds to an older database that
value as its SQL ``DEFAULT``. Do not edit: change the schema with a new revision.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)

metadata = MetaData()

Table(
    "agent",
    metadata,
    Column("agent_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("description", String, nullable=False, default=""),
    Column("tools", JSON, nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("synced_at", Float, nullable=False),
)


Table(
    "delivery",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("received_at", Float, nullable=False),
    Column("webhook_id", String, nullable=True),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("verdict", String, nullable=False),
    Column("message", String, nullable=False, default=""),
    Column("answered_status", Integer, nullable=False),
    Column("task_id", Integer, nullable=True),
    Column("sequence", Integer, nullable=True),
    Column("status", String, nullable=True),
    Column("replay_of", Integer, nullable=True),
    Column("body_length", Integer, nullable=True),
    Column("body_sha256", String, nullable=True),
    Column("body_truncated", Boolean, nullable=False, default=False),
    Column("console_made", Boolean, nullable=False, default=False),
    Index("ix_delivery_received_at", "received_at", "verdict"),
    Index("ix_delivery_task_id", "task_id"),
    Index("ix_delivery_verdict", "verdict"),
    Index("ix_delivery_webhook_id", "webhook_id"),
    Index(
        "uq_delivery_webhook_id",
        "webhook_id",
        unique=True,
        sqlite_where=text("verdict IN ('applied', 'history')"),
        postgresql_where=text("verdict IN ('applied', 'history')"),
    ),
)


Table(
    "draft",
    metadata,
    Column("answered_kind", String, nullable=False, default="person"),
    Column("answered_version", Integer, nullable=True),
    Column("answered_user", String, nullable=True),
    Column("answered_replay_of", Integer, nullable=True),
    Column("id", Integer, primary_key=True),
    Column("round_id", Integer, nullable=False),
    Column("tool_call_id", String, nullable=False),
    Column("mode", String, nullable=False),
    Column("output", String, nullable=False),
    Column("is_error", Boolean, nullable=False, default=False),
    Column("note", String, nullable=False, default=""),
    Column("logs", String, nullable=False, default=""),
    Column("duration_ms", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
    Column("as_json", Boolean, nullable=False, default=False),
    Column("updated_at", Float, nullable=True),
    Column("claimed_at", Float, nullable=True),
    Index("ix_draft_round_id", "round_id"),
    Index(
        "uq_draft_typed",
        "round_id",
        "tool_call_id",
        "answered_user",
        unique=True,
        sqlite_where=text("mode = 'typed'"),
        postgresql_where=text("mode = 'typed'"),
    ),
)


Table(
    "event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String, nullable=False),
    Column("summary", String, nullable=False),
    Column("delivery_id", Integer, nullable=True),
    Column("round_id", Integer, nullable=True),
    Column("console_made", Boolean, nullable=False, default=False),
    Index("ix_event_task_id", "task_id"),
)


Table(
    "handler",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("agent_id", String, nullable=False),
    Column("tool_name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("mode", String, nullable=False, default="manual"),
    Column("spec", JSON, nullable=False),
    Column("behaviour", JSON, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("agent_id", "tool_name"),
    Index("ix_handler_agent_id", "agent_id"),
)


Table(
    "handler_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handler_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String, nullable=False),
    Column("mode", String, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("behaviour", JSON, nullable=False),
    Column("saved_at", Float, nullable=False),
    Column("note", String, nullable=False, default=""),
    Index("ix_handler_version_handler_id", "handler_id"),
)


Table(
    "outbox",
    metadata,
    Column("answered_kind", String, nullable=False, default="person"),
    Column("answered_version", Integer, nullable=True),
    Column("answered_user", String, nullable=True),
    Column("answered_replay_of", Integer, nullable=True),
    Column("id", Integer, primary_key=True),
    Column("round_id", Integer, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("agent_id", String, nullable=False),
    Column("body", JSON, nullable=False),
    Column("idempotency_key", String, nullable=False),
    Column("sources", JSON, nullable=False),
    Column("state", String, nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", String, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float, nullable=True),
    Index("ix_outbox_round_id", "round_id", unique=True),
    Index("ix_outbox_state", "state"),
)


Table(
    "round",
    metadata,
    Column("answered_kind", String, nullable=True),
    Column("answered_version", Integer, nullable=True),
    Column("answered_user", String, nullable=True),
    Column("answered_replay_of", Integer, nullable=True),
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, nullable=False),
    Column("agent_id", String, nullable=False),
    Column("round", Integer, nullable=False),
    Column("state", String, nullable=False, default="pending"),
    Column("expires_at", String, nullable=True),
    Column("opened_at", Float, nullable=False),
    Column("submitted_at", Float, nullable=True),
    Column("acknowledged_at", Float, nullable=True),
    Column("message", String, nullable=False, default=""),
    UniqueConstraint("task_id", "round"),
    Index("ix_round_state", "state"),
    Index("ix_round_submitted_at", "submitted_at"),
    Index("ix_round_task_id", "task_id"),
)


Table(
    "run",
    metadata,
    Column("task_id", Integer, primary_key=True),
    Column("agent_id", String, nullable=False),
    Column("status", String, nullable=False),
    Column("sequence", Integer, nullable=False, default=0),
    Column("round", Integer, nullable=True),
    Column("environment", String, nullable=True),
    Column("string_inputs", JSON, nullable=True),
    Column("result", JSON, nullable=True),
    Column("error", JSON, nullable=True),
    Column("started_by", String, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("replay_of", Integer, nullable=True),
    Column("replay_until", Integer, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("handler_set", String, nullable=False, default="saved"),
    Index("ix_run_agent_id", "agent_id"),
    Index("ix_run_created_at", "created_at"),
    Index("ix_run_status", "status"),
)


Table(
    "setting",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)


Table(
    "tool_call",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("round_id", Integer, ForeignKey("round.id"), nullable=False),
    Column("tool_call_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("position", Integer, nullable=False),
    Column("arguments_text", String, nullable=True),
    Column("arguments_problem", String, nullable=True),
    Index("ix_tool_call_round_id", "round_id"),
)


Table(
    "tool_result",
    metadata,
    Column("answered_kind", String, nullable=False, default="person"),
    Column("answered_version", Integer, nullable=True),
    Column("answered_user", String, nullable=True),
    Column("answered_replay_of", Integer, nullable=True),
    Column("id", Integer, primary_key=True),
    Column("round_id", Integer, ForeignKey("round.id"), nullable=False),
    Column("tool_call_id", String, nullable=False),
    Column("output", String, nullable=False),
    Column("is_error", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Index("ix_tool_result_round_id", "round_id"),
)
