"""Runs: every run, paged on the server, with filters, search and order kept in the URL; live. Checkboxes select
runs to cancel or run again together (``app.ui.components.run_bulk``).

The filters live in the query string (``/runs?status=failed&q=porto&page=2``), so a view can be bookmarked
and shared; changing one replaces the URL without a reload.
"""

import asyncio
from typing import Any
from urllib.parse import urlencode

from nicegui import events, ui
from pydantic import ValidationError

from app.errors import SearchTooSlow, field_problem
from app.protocol import KNOWN_STATUSES
from app.runtime import get_runtime
from app.services import agents, runs
from app.states import RunStatusName
from app.ui.components.run_bulk import BulkBar
from app.ui.format import id_from_row_click
from app.ui.live import Live
from app.ui.looks import color_slot
from app.ui.pages.runs_preview import PREVIEW_ID, preview_html
from app.ui.pages.runs_rows import first_page, public_row
from app.ui.shared_reads import run_page

COLUMNS: list[dict[str, Any]] = [
    {"name": "task_id", "label": "task_id", "field": "task_id", "align": "left", "sortable": True},
    {"name": "agent_id", "label": "Agent", "field": "agent", "align": "left", "sortable": True},
    {"name": "status", "label": "Status", "field": "status", "align": "left", "sortable": True},
    {"name": "round", "label": "Round", "field": "round", "align": "left", "sortable": True},
    {"name": "environment", "label": "Environment", "field": "environment", "align": "left", "sortable": True},
    {"name": "started_by", "label": "Started by", "field": "started_by", "align": "left"},
    {"name": "created_at", "label": "Created", "field": "created", "align": "left", "sortable": True},
    {"name": "updated_at", "label": "Updated", "field": "updated", "align": "left", "sortable": True},
]
WINDOW_LABELS = {"": "any time", "hour": "last hour", "day": "last 24 hours", "week": "last 7 days"}
ENVIRONMENTS = ["playground", "staging", "production"]


def page(
    live: Live,
    agent_id: str = "",
    status: str = "",
    environment: str = "",
    since: str = "",
    q: str = "",
    sort: str = "created_at",
    descending: str = "true",
    page: str = "1",
    per_page: str = "50",
) -> None:
    ui.page_title("Runs · Tooldesk")
    _RunsView(
        live,
        {
            "agent_id": agent_id,
            "status": status,
            "environment": environment,
            "since": since,
            "q": q,
            "sort": sort,
            "descending": descending,
            "page": page,
            "per_page": per_page,
        },
    )


class _RunsView:
    def __init__(self, live: Live, query: dict[str, str]) -> None:
        try:
            self.where = runs.RunFilter.model_validate({key: value for key, value in query.items() if value})
        except ValidationError:
            self.where = runs.RunFilter()
            ui.notify("Some filters in the address were not understood and were reset", type="warning")
        with ui.row().classes("w-full items-center gap-3"):
            ui.label("Runs").classes("text-2xl font-bold")
            ui.space()
            self.count = ui.label("").classes("text-sm text-grey-7").mark("runs-count")
        with ui.row().classes("w-full items-end gap-3"):
            self.search = (
                ui.input("Search", value=self.where.q or "", placeholder="tool names, arguments, results")
                .props("outlined dense clearable debounce=400 maxlength=200")
                .classes("w-72")
                .mark("runs-search")
            )
            self.search.on_value_change(lambda e: self._set(q=e.value or None))
            chosen = {self.where.agent_id: self.where.agent_id} if self.where.agent_id else {}
            self.agent = (
                ui.select(
                    {"": "every agent", **chosen},
                    value=self.where.agent_id or "",
                    label="Agent",
                    on_change=lambda e: self._set(agent_id=e.value or None),
                )
                .props("outlined dense")
                .classes("w-48")
                .mark("runs-agent")
            )
            self._filter(
                "status",
                "Status",
                {"": "every status", **{s: s for s in (*KNOWN_STATUSES, RunStatusName.LOST)}},
                "w-48",
            )
            self._filter(
                "environment", "Environment", {"": "every environment", **{e: e for e in ENVIRONMENTS}}, "w-44"
            )
            self._filter("since", "Created", WINDOW_LABELS, "w-40")
        self.bulk = BulkBar()
        self.table = (
            ui.table(
                columns=COLUMNS,
                rows=[],
                row_key="task_id",
                selection="multiple",
                pagination={
                    "page": self.where.page,
                    "rowsPerPage": self.where.per_page,
                    "sortBy": self.where.sort,
                    "descending": self.where.descending,
                    "rowsNumber": 0,
                },
            )
            .classes("w-full")
            .props("flat bordered :rows-per-page-options=[25,50,100,200]")
            .mark("runs-table")
        )
        self.table.add_slot("body-cell-status", color_slot())
        self.bulk.attach(self.table)
        self.table.on("request", self._on_request)
        self.table.on("update:pagination", self._keep_total)  # the browser's table echoes its own state on mount
        self.total = 0
        self._counted: runs.RunFilter | None = None  # the filters self.total was counted for
        self.table.on("rowClick", self._open_row)
        self._url = ""
        live.listen(self._changed, keys=self._on_key)
        self._drawn = self._rows_in_page()
        ui.timer(0, self._first_load, once=True)

    def _rows_in_page(self) -> bool:
        """The default view's first page, read while the page is built, so the browser draws the rows with the
        page instead of after its connection to the server is up (about half of the time to the first row).
        Only that view: its page is a read of the ``created_at`` index that stops after the page (about a
        millisecond at 100,000 runs), no longer than building the page's elements; every other view is read in
        a thread once the page is connected. Returns whether the rows are drawn."""
        where = self.where
        if where.model_dump(exclude={"per_page"}) != runs.RunFilter().model_dump(exclude={"per_page"}):
            return False
        rows = first_page(engine=get_runtime().engine, per_page=where.per_page)
        if not ui.context.client.has_socket_connection:  # a first response, not a move within an open tab
            ui.add_body_html(preview_html(rows, COLUMNS))  # on screen before the page's scripts have started
        self.total = len(rows) + (1 if len(rows) == where.per_page else 0)
        self.count.set_text("counting runs…")
        self._show(rows, where)
        return True

    def _open_row(self, event: events.GenericEventArguments) -> None:
        """Open the clicked run; its task_id comes back as the text it was sent as (``browser_id``)."""
        task_id = id_from_row_click(event.args, "task_id")
        if task_id is None:
            ui.notify("That row has no task_id the console can open", type="warning")
            return
        ui.navigate.to(f"/runs/{task_id}")

    def _filter(self, name: str, label: str, options: dict[str, str], width: str) -> None:
        """A select for one filter; a value from the URL that is not an option is kept as one (never an error)."""
        value = getattr(self.where, name) or ""
        if value and value not in options:
            options = {**options, value: value}
        ui.select(options, value=value, label=label, on_change=lambda e: self._set(**{name: e.value or None})).props(
            "outlined dense"
        ).classes(width).mark(f"runs-{name}")

    def _on_key(self, action: str) -> None:
        if action == "search":
            self.search.run_method("focus")

    async def _first_load(self) -> None:
        """Rows first (unless drawn with the page), then their count, then the agents for the filter: the first
        rows wait on nothing else."""
        if self._drawn:
            ui.run_javascript(f"document.getElementById('{PREVIEW_ID}')?.remove()")  # hidden by a style already
            await self._count(self.where)
        else:
            await self.refresh()
        engine = get_runtime().engine
        known = await asyncio.to_thread(lambda: agents.list_agents(engine=engine))
        options = {"": "every agent", **{a.agent_id: a.name for a in known}}
        if self.where.agent_id and self.where.agent_id not in options:
            options[self.where.agent_id] = f"{self.where.agent_id} (not listed by the platform)"
        self.agent.set_options(options, value=self.where.agent_id or "")

    async def _on_request(self, event: events.GenericEventArguments) -> None:
        pagination: Any = event.args.get("pagination") if isinstance(event.args, dict) else None
        if not isinstance(pagination, dict):  # a browser can send any event
            ui.notify("That page or page size is out of range", type="warning")
            return
        sort = pagination.get("sortBy") or "created_at"
        try:
            self.where = runs.RunFilter.model_validate(
                {
                    **self.where.model_dump(),
                    "sort": sort if sort in runs.SORTABLE else "created_at",
                    "descending": bool(pagination.get("descending")),
                    "page": int(pagination.get("page") or 1),
                    "per_page": int(pagination.get("rowsPerPage") or 50),
                }
            )
        except (ValidationError, ValueError, TypeError):
            ui.notify("That page or page size is out of range", type="warning")
            return
        await self.refresh()

    async def _set(self, **change: Any) -> None:
        try:
            self.where = runs.RunFilter.model_validate({**self.where.model_dump(), **change, "page": 1})
        except ValidationError as exc:
            ui.notify(f"Filter not applied: {field_problem(exc, where='filter')}", type="warning")
            return
        await self.refresh()

    async def _changed(self, _task_id: int = 0) -> None:
        """Runs changed (pushed, ``app.changes``): the page's rows and their count in one read that every tab on
        this view shares (``shared_reads.run_page``), drawn in one update, and none when neither changed. Until
        this view was counted once, as ``refresh``."""
        where = self.where
        if self._counted is None or _view(self._counted) != _view(where):
            await self.refresh()
            return
        try:
            items, total = await run_page(where)
        except SearchTooSlow as exc:
            self.count.set_text(exc.message)
            return
        if where is not self.where:
            return  # the filters changed meanwhile: that refresh shows its own rows
        rows = [public_row(item) for item in items]
        self.count.set_text(total.message if isinstance(total, SearchTooSlow) else f"{total:,} run(s)")
        total = self.total if isinstance(total, SearchTooSlow) else total  # the rows never wait on the count
        if rows != self.table.rows or total != self.total:
            self.total = total
            self._show(rows, where)

    def _keep_total(self, _event: events.GenericEventArguments | None = None) -> None:
        """Put ``self.total`` in the pager, unless it is there: each update sends every row again."""
        if self.table.pagination.get("rowsNumber") != self.total:
            self.table.pagination = {**self.table.pagination, "rowsNumber": self.total}
            self.table.update()

    async def refresh(self, _task_id: int = 0) -> None:
        """Show the current page for the current filters and put them in the URL, then count the matching runs:
        the rows never wait on the count (over 100,000 runs a search's count can take longer than its page).
        Until the count is in, the pager knows only that there is a next page when this one is full."""
        engine, where = get_runtime().engine, self.where
        try:
            items = await asyncio.to_thread(lambda: runs.list_runs(engine=engine, where=where))
        except SearchTooSlow as exc:
            self.count.set_text(exc.message)
            return
        if where is not self.where:
            return  # the filters changed meanwhile: that refresh shows its own rows
        same_view = self._counted is not None and _view(self._counted) == _view(where)
        if not same_view:
            start = (where.page - 1) * where.per_page
            self.total = start + len(items) + (1 if len(items) == where.per_page else 0)
            self.count.set_text("counting runs…")
        self._show([public_row(item) for item in items], where)
        url = f"/runs?{_query(where)}"
        if url != self._url:
            self._url = url
            ui.navigate.history.replace(url)
        await self._count(where)

    async def _count(self, where: runs.RunFilter) -> None:
        """Count the runs ``where`` matches and show the total, unless the filters changed meanwhile."""
        engine = get_runtime().engine
        try:
            total = await asyncio.to_thread(lambda: runs.count_runs(engine=engine, where=where))
        except SearchTooSlow as exc:
            self.count.set_text(exc.message)
            return
        if where is not self.where:
            return
        self._counted = where
        self.count.set_text(f"{total:,} run(s)")
        self.total = total
        self._keep_total()

    def _show(self, rows: list[dict[str, str]], where: runs.RunFilter) -> None:
        self.table.rows = rows
        self.table.pagination = {
            "page": where.page,
            "rowsPerPage": where.per_page,
            "sortBy": where.sort,
            "descending": where.descending,
            "rowsNumber": self.total,
        }
        self.table.update()


def _view(where: runs.RunFilter) -> dict[str, object]:
    """What decides the count: the filters and search, not the order or the page."""
    return where.model_dump(exclude={"sort", "descending", "page", "per_page"})


def _query(where: runs.RunFilter) -> str:
    """The filter as a query string, leaving out defaults."""
    defaults = runs.RunFilter().model_dump()
    return urlencode(
        {
            key: ("true" if value is True else "false" if value is False else value)
            for key, value in where.model_dump().items()
            if value not in (None, "") and value != defaults[key]
        }
    )
