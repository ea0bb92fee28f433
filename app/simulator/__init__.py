"""The embedded platform simulator: HTTP API, run engine, signed webhook delivery.

- ``scenario``: the JSON scenario format and its loader (``fixtures/scenarios``).
- ``engine``: ``Simulator``, the platform that plays scenarios; ``progress``: how its runs move on by themselves.
- ``storage``: ``open_store(url)``, the ``sim_*`` tables its runs are kept in, so they outlive a restart.
- ``refusals``: ``SimulatorError``, idempotency keys, results checked against a round's calls.
- ``delivery``: signed, retried webhook POSTs, in order per task.
- ``faults``: what it does wrong on purpose (duplicate, reorder, delay, drop; 503s; an outage).
- ``api``: ``build_router(simulator)``, the contract's endpoints; ``control``: its own ``/_control`` ones.
- ``standalone``: ``serve_standalone(...)``, the simulator as its own server, behind ``gate.Gate``.
"""

from app.simulator.api import build_router
from app.simulator.delivery import DeliveryAttempt
from app.simulator.engine import Simulator
from app.simulator.refusals import SimulatorError
from app.simulator.scenario import DEFAULT_SCENARIOS_DIR, Scenario, ScenarioError, load_scenarios
from app.simulator.standalone import build_standalone_app, serve_standalone
from app.simulator.storage import SimStore, open_store

__all__ = [
    "DEFAULT_SCENARIOS_DIR",
    "DeliveryAttempt",
    "Scenario",
    "ScenarioError",
    "SimStore",
    "Simulator",
    "SimulatorError",
    "build_router",
    "build_standalone_app",
    "load_scenarios",
    "open_store",
    "serve_standalone",
]
