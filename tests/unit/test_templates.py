"""Rendering response templates: variables, JSON templates, errors with lines, sandbox and size guards."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.handlers import templates
from app.handlers.templates import (
    MAX_OUTPUT_CHARS,
    TemplateContext,
    TemplateError,
    check_template,
    prepare_faker,
    render,
)

NOW = datetime(2026, 11, 29, 17, 0, 2, tzinfo=UTC)


def make_context(**changes: Any) -> TemplateContext:
    fields: dict[str, Any] = {
        "args": {"city": "Lisbon", "days": 3},
        "agent_id": "5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f",
        "task_id": 1042,
        "round": 2,
        "results": {"get_weather": '{"temp_c": 19}', "get_current_time": "17:00"},
        "now": NOW,
        "seed": 7,
    }
    return TemplateContext(**(fields | changes))


def test_render_args_and_ids():
    text = render(
        "{{ args.city }} for {{ args.days }} days; {{ agent_id[:8] }} task {{ task_id }} round {{ round }}",
        make_context(),
    )
    assert text == "Lisbon for 3 days; 5f0c6b2e task 1042 round 2"


def test_render_results_of_earlier_calls():
    assert render("{{ results.get_weather }}", make_context()) == '{"temp_c": 19}'
    assert render("{{ (results.get_weather | fromjson).temp_c }}", make_context()) == "19"


def test_render_now_is_utc_datetime():
    assert (
        render("{{ now.isoformat() }} {{ now.strftime('%H:%M') }}", make_context()) == "2026-11-29T17:00:02+00:00 17:00"
    )


def test_render_fake_same_seed_same_name():
    first = render("{{ fake.name() }} {{ fake.city() }}", make_context(seed=7))
    assert first == render("{{ fake.name() }} {{ fake.city() }}", make_context(seed=7))
    assert first != render("{{ fake.name() }} {{ fake.city() }}", make_context(seed=8))


def test_render_fake_from_a_spare_is_as_a_fresh_one_and_never_reused():
    """A rules worker builds the next render's Faker between calls (``prepare_faker``): the render takes it, gives
    what a fresh Faker would, and the next render does not get it again, even after a template changed it."""
    template = "{{ fake.name() }} {{ fake.city() }} {{ fake.random_int(1, 10**6) }}"
    fresh = render(template, make_context(seed=11))
    prepare_faker()
    spare = templates._spare[0]
    assert render(template, make_context(seed=11)) == fresh
    assert templates._spare == []
    spare.seed_instance(0)  # as a template could
    prepare_faker()
    assert templates._spare[0] is not spare
    assert render(template, make_context(seed=11)) == fresh


def test_render_tojson_filter():
    assert json.loads(render("{{ args | tojson }}", make_context())) == {"city": "Lisbon", "days": 3}


def test_render_json_template_renders_strings_and_encodes():
    template = {"place": "{{ args.city }}", "days": 3, "tags": ["t{{ task_id }}", None, True]}
    text = render(template, make_context())
    assert json.loads(text) == {"place": "Lisbon", "days": 3, "tags": ["t1042", None, True]}


def test_render_json_template_keeps_non_ascii():
    assert render(["{{ args.city }}"], make_context(args={"city": "Bræðratunga"})) == '["Bræðratunga"]'


def test_render_keeps_trailing_newline():
    assert render("{{ args.city }}\n", make_context()) == "Lisbon\n"


def test_render_undefined_variable_names_line():
    with pytest.raises(TemplateError, match=r"line 3: undefined value: .*'country'"):
        render("a\nb\n{{ args.country }}", make_context())


def test_render_undefined_in_json_template_names_path():
    with pytest.raises(TemplateError, match=r"data\.1, line 1: undefined value: 'nope' is undefined"):
        render({"data": ["ok", "{{ nope }}"]}, make_context())


def test_render_sandbox_escape_blocked():
    with pytest.raises(TemplateError, match=r"line 2: blocked by the sandbox: .*__class__"):
        render("x\n{{ ''.__class__.__mro__[1].__subclasses__() }}", make_context())


def test_render_huge_range_blocked():
    with pytest.raises(TemplateError, match=r"range of 1000000000 items \(limit 100000\)"):
        render("{% for i in range(10**9) %}{{ i }}{% endfor %}", make_context())


def test_render_nested_ranges_blocked_by_total():
    source = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match="more than 1000000 items in all"):
        render(source, make_context())


def test_render_huge_power_blocked():
    with pytest.raises(TemplateError, match="exponent 387420489 is over 1000"):
        render("{{ 9 ** (9 ** 9) }}", make_context())


def test_render_huge_repeat_blocked():
    with pytest.raises(TemplateError, match="repeating a value 1000000000 times"):
        render("{{ 'x' * 10**9 }}", make_context())


def test_render_output_cap():
    with pytest.raises(TemplateError, match=f"output over {MAX_OUTPUT_CHARS} characters"):
        render("{% for i in range(50000) %}12345{% endfor %}", make_context())


def test_render_syntax_error_names_line():
    with pytest.raises(TemplateError, match="line 2: syntax error"):
        render("ok\n{% if %}", make_context())


def test_render_runtime_error_is_template_error():
    with pytest.raises(TemplateError, match="line 1: ZeroDivisionError"):
        render("{{ 1 / 0 }}", make_context())


def test_render_bad_fromjson_is_template_error():
    with pytest.raises(TemplateError, match="fromjson: not JSON"):
        render("{{ results.get_current_time | fromjson }}", make_context())


def test_check_template_valid_is_empty():
    assert check_template({"a": ["{{ args.city }}", 1], "b": "{% if round > 1 %}again{% endif %}"}) == []


def test_check_template_reports_path_and_line():
    problems = check_template({"a": ["fine", "x\n{% for %}"]})
    assert [(p.path, p.line) for p in problems] == [("a.1", 2)]
    assert problems[0].text.startswith("a.1, line 2: ")


def test_check_template_does_not_render():
    assert check_template("{{ nope.deeper }} {{ 1 / 0 }}") == []


def test_render_refuses_string_growth_before_building_it():
    from app.handlers.templates import TemplateContext, TemplateError, render

    ctx = TemplateContext(args={}, agent_id="a", task_id=1, round=1, results={}, now=datetime.now(UTC), seed=1)
    for template in ("{{ ('a'*100000).replace('a','a'*100000)|length }}", "{{ 'x'.ljust(50000000) }}"):
        with pytest.raises(TemplateError, match="would make a value of about"):
            render(template, ctx)
    assert render("{{ 'ok'.replace('o', '0') }}", ctx) == "0k"
