"""The client for the platform's execution API (``client.PlatformClient``)."""

__all__ = [
    "client",
]
