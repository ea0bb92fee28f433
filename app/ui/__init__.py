"""The console's pages: thin layouts over services. ``layout.root`` is the frame every page lives in."""

__all__ = [
    "format",
    "layout",
    "live",
    "looks",
]
