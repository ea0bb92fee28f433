"""PostgreSQL's own objects for the runs search and the run counts; nothing on SQLite (its baseline has FTS5).

Revision ID: 0003_postgres_search
Revises: 0002_foreign_keys

- The runs search (``app.services.run_search_pg``): the ``pg_trgm`` extension and a GIN ``gin_trgm_ops`` index
  on each searched field's folded expression, a frozen copy of the one the search writes (the planner uses an
  index only for the very same expression): a tool call's name, arguments and arguments as sent, a tool result's
  output, the run's result.
- The run counts (``app.run_counts``): table ``run_count`` of signed changes, one row per run insert, status
  change and delete, written by triggers in the writer's transaction. Rows are only ever added (several consoles
  write at once: a row per status updated in place would make every writer wait for the others' commits);
  ``run_counts`` sums them and folds them into one row per status now and then. Filled from the runs stored.
"""

from __future__ import annotations

from alembic import op

revision = "0003_postgres_search"
down_revision: str | None = "0002_foreign_keys"
branch_labels = None
depends_on = None


def _folded(field: str) -> str:
    return f'(lower(substr({field}, 1, 10000) COLLATE "und-x-icu"))'


INDEXES = {
    "ix_tool_call_name_search": ("tool_call", _folded("name")),
    "ix_tool_call_arguments_search": ("tool_call", _folded("CAST(arguments AS TEXT)")),
    "ix_tool_call_arguments_text_search": ("tool_call", _folded("arguments_text")),
    "ix_tool_result_output_search": ("tool_result", _folded("output")),
    "ix_run_result_search": (
        "run",
        _folded("CAST(replace(CAST(result AS TEXT), '\\u0000', '\\ufffd') AS JSON) #>> '{}'"),
    ),
}
"""Index name: (table, indexed expression). The result's escaped U+0000 becomes U+FFFD before ``#>>`` reads it:
PostgreSQL's text cannot hold U+0000, and ``#>>`` raises on it, which would refuse the run's every write."""

_RUN_COUNT = (
    "CREATE TABLE run_count (status VARCHAR NOT NULL, runs BIGINT NOT NULL)",
    "CREATE INDEX ix_run_count_status ON run_count (status)",
    "INSERT INTO run_count (status, runs) SELECT status, count(*) FROM run GROUP BY status",
    """CREATE FUNCTION run_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO run_count (status, runs) VALUES (OLD.status, -1);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO run_count (status, runs) VALUES (NEW.status, 1);
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER run_count_insert AFTER INSERT ON run FOR EACH ROW EXECUTE FUNCTION run_count_change()",
    "CREATE TRIGGER run_count_update AFTER UPDATE OF status ON run FOR EACH ROW "
    "WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION run_count_change()",
    "CREATE TRIGGER run_count_delete AFTER DELETE ON run FOR EACH ROW EXECUTE FUNCTION run_count_change()",
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, expression) in INDEXES.items():
        conn.exec_driver_sql(f'CREATE INDEX {name} ON "{table}" USING gin ({expression} gin_trgm_ops)')
    for statement in _RUN_COUNT:
        conn.exec_driver_sql(statement)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for trigger in ("run_count_insert", "run_count_update", "run_count_delete"):
        conn.exec_driver_sql(f'DROP TRIGGER {trigger} ON "run"')
    conn.exec_driver_sql("DROP FUNCTION run_count_change()")
    conn.exec_driver_sql("DROP TABLE run_count")
    for name in INDEXES:
        conn.exec_driver_sql(f"DROP INDEX {name}")
