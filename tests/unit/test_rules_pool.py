"""Rules handlers in their worker processes: the same answers as in-process, and every limit ends in an error
result naming its setting while the console's own memory stays put."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from app.handlers.rules import RulesSpec, answer_rules, check_rules, rules_json
from app.handlers.rules_pool import RulesPool
from app.handlers.templates import TemplateContext

on_module_loop = pytest.mark.asyncio(loop_scope="module")

C12 = '{% set s = "x" * 40000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}done'
REGEX_BOMB = "((a{1000}){1000}){1000}"
GROWTH_MB = 100  # the console's peak memory may not grow by this much while a worker fails


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool() -> AsyncIterator[RulesPool]:
    """Two warm workers with a 0.5 s timeout and 64 MB each, shared by the module's tests."""
    workers = RulesPool(workers=2, timeout=0.5, memory_mb=64)
    await workers.start()
    yield workers
    await workers.aclose()


def make_context(args: dict[str, Any] | None = None) -> TemplateContext:
    return TemplateContext(
        args={"city": "Oslo"} if args is None else args,
        agent_id="agent-1",
        task_id=1042,
        round=1,
        results={"get_weather": '{"temp_c": 19}'},
        now=datetime(2026, 11, 29, 17, 0, 2, tzinfo=UTC),
        seed=7,
    )


def respond(output: str, *when: dict[str, Any]) -> RulesSpec:
    return RulesSpec.model_validate({"rules": [{"name": "r", "when": list(when), "response": {"output": output}}]})


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


@on_module_loop
async def test_answer_same_as_in_process(pool: RulesPool) -> None:
    spec = respond(
        "{{ args.city }} {{ fake.name() }} {{ (results.get_weather | fromjson).temp_c }} {{ now.isoformat() }}",
        {"kind": "regex", "path": "city", "value": "^O"},
    )
    assert await pool.answer(rules_json(spec), make_context()) == answer_rules(spec, make_context())


@on_module_loop
async def test_answer_no_rule_matched_names_nearest(pool: RulesPool) -> None:
    spec = respond("x", {"kind": "equals", "path": "city", "value": "Bergen"})
    answer = await pool.answer(rules_json(spec), make_context())
    assert answer.is_error
    assert "city: expected 'Bergen', got 'Oslo'" in answer.output


@on_module_loop
async def test_answer_looping_template_stopped_naming_timeout(pool: RulesPool) -> None:
    answer = await pool.answer(rules_json(respond(C12)), make_context())
    assert answer.is_error
    assert answer.output.startswith("template render stopped after 0.5 s (limit TOOLDESK_TEMPLATE_TIMEOUT)")
    assert (await pool.answer(rules_json(respond("ok")), make_context())).output == "ok"  # a fresh worker answers


@on_module_loop
async def test_answer_loops_in_parallel_each_stopped(pool: RulesPool) -> None:
    answers = await asyncio.gather(*(pool.answer(rules_json(respond(C12)), make_context()) for _ in range(4)))
    assert all("TOOLDESK_TEMPLATE_TIMEOUT" in answer.output for answer in answers)


@on_module_loop
@pytest.mark.parametrize(
    "template",
    [
        '{{ "%0300000000d" % 1 }}',
        "{{ fake.pystr(min_chars=10**8, max_chars=10**8) }}",
        "{{ fake.text(max_nb_chars=10**9) }}",
    ],
)
async def test_answer_oversized_value_is_error_console_memory_flat(pool: RulesPool, template: str) -> None:
    before = peak_mb()
    answer = await pool.answer(rules_json(respond(template)), make_context())
    assert answer.is_error
    assert "TOOLDESK_TEMPLATE_MEMORY_MB" in answer.output or "TOOLDESK_TEMPLATE_TIMEOUT" in answer.output
    assert peak_mb() - before < GROWTH_MB


@on_module_loop
async def test_answer_regex_compile_bomb_is_error_console_memory_flat(pool: RulesPool) -> None:
    before = peak_mb()
    spec = respond("x", {"kind": "regex", "path": "city", "value": REGEX_BOMB})
    answer = await pool.answer(rules_json(spec), make_context())
    assert answer.is_error
    assert "too deeply nested or too large to compile" in answer.output or "TOOLDESK_TEMPLATE" in answer.output
    assert peak_mb() - before < GROWTH_MB


def test_check_rules_regex_compile_bomb_names_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import get_settings

    monkeypatch.setenv("TOOLDESK_TEMPLATE_MEMORY_MB", "64")
    get_settings.cache_clear()
    before = peak_mb()
    problems = check_rules(respond("x", {"kind": "regex", "path": "city", "value": REGEX_BOMB}))
    assert [p.field for p in problems] == ["when[0].value"]
    assert "limit TOOLDESK_TEMPLATE_MEMORY_MB" in problems[0].text or "TOOLDESK_TEMPLATE_TIMEOUT" in problems[0].text
    assert peak_mb() - before < GROWTH_MB


def test_check_rules_counted_repetition_that_compiles_is_fine() -> None:
    assert check_rules(respond("x", {"kind": "regex", "path": "code", "value": r"^[A-Z]{3}\d{2,4}$"})) == []


def test_check_rules_counted_repetition_syntax_error_reported() -> None:
    problems = check_rules(respond("x", {"kind": "regex", "path": "code", "value": "a{2}("}))
    assert problems and "bad regex" in problems[0].text
