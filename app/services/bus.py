"""Change notifications from services to open pages.

``changes.emit(task_id)`` after a commit that changed a run, a round or the
agent list (``task_id`` 0 for the agent list). The root layout of each browser
tab subscribes once and refreshes what it shows (NiceGUI ``Event``: callbacks
run in the subscriber's own client context and end with that client).
"""

from __future__ import annotations

from nicegui import Event

changes: Event[int] = Event()
