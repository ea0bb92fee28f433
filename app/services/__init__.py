"""What the console does, one module a concept; pages and routes import these modules (``from app.services import
rounds``) and call their functions."""

__all__ = [
    "agents",
    "apply",
    "compare",
    "config_io",
    "deliveries",
    "demo",
    "events",
    "export_python",
    "export_text",
    "handler_store",
    "handler_test",
    "inbox",
    "ingest",
    "outbox",
    "overview",
    "reconcile",
    "replay",
    "responder",
    "rounds",
    "runs",
    "skip",
    "webhook_secret",
]
