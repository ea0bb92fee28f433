"""One module a page, each with a ``page(...)`` that ``app.ui.layout`` routes to."""

__all__ = [
    "agents",
    "compare",
    "deliveries",
    "handlers_page",
    "inbox",
    "overview",
    "run",
    "runs",
]
