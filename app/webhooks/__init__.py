"""The receiving side: the webhook route (``route.router``) and delivery verification (``verify``)."""

__all__ = [
    "route",
    "verify",
]
