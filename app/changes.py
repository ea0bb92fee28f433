"""Change notifications to open pages: NiceGUI's ``Event``, so it lives outside ``services/``.

``changes.emit(task_id)`` after a commit that changed a run, a round or the
agent list (``task_id`` 0 for the agent list and handlers). Only ``Runtime``
emits (its after-change methods, and the ``on_change`` callable it hands the
outbox and the responder); services never import this module. The root layout
of each browser tab subscribes once and refreshes what it shows (callbacks run
in the subscriber's own client context and end with that client).
"""

from __future__ import annotations

from nicegui import Event

changes: Event[int] = Event()
