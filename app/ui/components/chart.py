"""``Chart``: ``ui.echart`` that may leave the page before its chart is drawn.

NiceGUI's component (``nicegui/elements/echart/echart.js``) makes its ECharts instance in ``mounted`` only after
an ``await``, but ``beforeUnmount`` calls ``this.chart.dispose()`` unconditionally. A chart taken off the page in
between (leaving the Overview just after opening it, while the ECharts bundle loads) logs "TypeError: Cannot read
properties of undefined (reading 'dispose')", and the instance made afterwards draws into the detached element
and is never disposed. ``chart.js`` is NiceGUI's component with those hooks made safe.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from nicegui import ui

ECHART_COMPONENT = Path(inspect.getfile(ui.echart)).parent
"""NiceGUI's ECharts component folder, served so that ``chart.js`` can extend its ``echart.js``."""


class Chart(ui.echart, component="chart.js", esm={"nicegui-echart-component": str(ECHART_COMPONENT)}):
    """``ui.echart`` with NiceGUI's component made safe for a chart removed before it was drawn."""
