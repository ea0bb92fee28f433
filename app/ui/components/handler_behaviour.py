"""Latency, simulated failures and the fallback time (``app.handlers.faults.Behaviour``) as editor fields, for every
handler kind."""

from __future__ import annotations

from typing import Any

from nicegui import ui

FIXED, RANDOM = "fixed", "random range"


class BehaviourFields:
    """An expansion with latency (fixed or a random range, in ms) and a failure probability with its message; and,
    apart from it, "answer N s before expiry if nobody has" (the tool's fallback, ``app.services.fallback``)."""

    def __init__(self, behaviour: dict[str, Any]) -> None:
        maximum = behaviour.get("latency_max_ms")
        probability = float(behaviour.get("fail_probability") or 0)
        latency = int(behaviour.get("latency_ms") or 0)
        with (
            ui.expansion("Latency and failures", icon="speed", caption=_caption(latency, maximum, probability))
            .classes("w-full")
            .props("dense header-class=text-bold")
            .mark("behaviour") as self.expansion
        ):
            ui.label(
                "Each call waits the latency, then, with the failure probability, gets the failure message as an "
                "error result instead of the handler's answer. Keep latency well below the round's expiry."
            ).classes("text-sm text-grey-7")
            with ui.row().classes("w-full items-center gap-3"):
                self.latency_mode = (
                    ui.toggle([FIXED, RANDOM], value=RANDOM if maximum is not None else FIXED, on_change=self._show)
                    .props("dense no-caps size=sm")
                    .mark("behaviour-latency-mode")
                )
                self.latency = (
                    ui.number("Latency (ms)", value=latency, min=0, max=60_000, step=50, format="%.0f")
                    .props("outlined dense")
                    .classes("w-36")
                    .mark("behaviour-latency")
                )
                self.latency_max = (
                    ui.number("Max latency (ms)", value=maximum or latency, min=0, max=60_000, step=50, format="%.0f")
                    .props("outlined dense")
                    .classes("w-36")
                    .mark("behaviour-latency-max")
                )
            with ui.row().classes("w-full items-center gap-3 no-wrap"):
                self.probability = (
                    ui.number("Failure probability (0 to 1)", value=probability, min=0, max=1, step=0.05)
                    .props("outlined dense")
                    .classes("w-52")
                    .mark("behaviour-fail-probability")
                )
                self.message = (
                    ui.input("Failure message", value=behaviour.get("fail_message", "simulated failure"))
                    .props("outlined dense maxlength=2000")
                    .classes("grow")
                    .mark("behaviour-fail-message")
                )
        fallback = behaviour.get("fallback_seconds")
        with ui.row().classes("w-full items-center gap-3 no-wrap").mark("fallback"):
            self.fallback = (
                ui.checkbox("Fallback: answer", value=fallback is not None).props("dense").mark("fallback-on")
            )
            self.fallback_seconds = (
                ui.number("seconds", value=fallback or 30, min=1, max=86_400, step=1, format="%.0f")
                .props("outlined dense")
                .classes("w-28")
                .bind_enabled_from(self.fallback, "value")
                .mark("fallback-seconds")
            )
            ui.label("before expiry if nobody has, in any mode").classes("text-sm")
            ui.icon("help_outline", size="xs").classes("text-grey-6").tooltip(
                "A round still pending that many seconds before it expires is answered by this handler and "
                "submitted, if every other call of the round has a fallback or a handler's draft too."
            )
        self._show()

    def value(self) -> dict[str, Any]:
        """The ``Behaviour`` dict; out-of-range numbers pass through for the service to name."""
        ranged = self.latency_mode.value == RANDOM
        return {
            "latency_ms": _int(self.latency.value),
            "latency_max_ms": _int(self.latency_max.value) if ranged else None,
            "fail_probability": float(self.probability.value or 0),
            "fail_message": self.message.value or "simulated failure",
            "fallback_seconds": _int(self.fallback_seconds.value) if self.fallback.value else None,
        }

    def _show(self) -> None:
        ranged = self.latency_mode.value == RANDOM
        self.latency.props["label"] = "Min latency (ms)" if ranged else "Latency (ms)"
        self.latency_max.set_visibility(ranged)


def _caption(latency: int, maximum: int | None, probability: float) -> str:
    wait = f"{latency}–{maximum} ms" if maximum is not None else f"{latency} ms"
    fails = f"fails {probability:.0%} of calls" if probability else "never fails"
    return f"waits {wait}, {fails}"


def _int(value: float | None) -> int:
    return round(value or 0)
