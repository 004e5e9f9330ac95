"""Prompt templates: plain-substitution detection, and the fast path rendering exactly like Jinja2."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from batch_runner.exceptions import TemplateError
from batch_runner.prepare.prompts import (
    Column,
    column_template,
    compile_template,
    missing_variable_error,
    template_text,
)

ROWS: list[dict[str, Any]] = [
    {"a": "plain", "b": "text"},
    {"a": 'quotes " and \\ backslash', "b": "new\nline\ttab"},
    {"a": "ünïcödé 😀", "b": ""},
    {"a": 42, "b": 1.5},
    {"a": None, "b": True},
    {"a": "{{ not a template }}", "b": "{% raw %}"},
]
PLAIN = [
    "{{ a }}",
    "A: {{a}}\nB: {{ b }}\n",
    "{{ a }}{{ b }}{{ a }}",
    "no variables at all",
    "trailing newlines\n\n",
    "",
]


@pytest.mark.parametrize("source", PLAIN)
@pytest.mark.parametrize("row", ROWS)
def test_fast_path_renders_exactly_like_jinja(source: str, row: dict[str, Any]) -> None:
    template = compile_template(source)
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, finalize=template_text)
    reference = environment.from_string(source).render(row)

    assert template.parts is not None
    assert template.render(row, where="row 1") == reference


@pytest.mark.parametrize(
    "source",
    [
        "{{ a|upper }}",
        "{% if a %}x{% endif %}",
        "{{ a ~ b }}",
        "{{ row['a'] }}",
        "{{ a.b }}",
        "{# c #}{{ a }}x",
    ],
)
def test_templates_with_logic_are_not_plain(source: str) -> None:
    template = compile_template(source)
    if "#" in source:  # comments vanish in the parse: still plain
        assert template.parts == (Column("a"), "x")
    else:
        assert template.parts is None


def test_jinja_path_renders_logic_and_the_row_mapping() -> None:
    template = compile_template("{{ a|upper }} {{ row['first name'] }}")
    assert template.render({"a": "x", "first name": "Ann"}, where="row 1") == "X Ann"


def test_variables_are_the_columns_the_template_reads() -> None:
    template = compile_template("{% for w in words %}{{ w }}{{ sep }}{% endfor %}")
    assert template.variables == {"words", "sep"}
    assert template.missing_columns(["words"]) == ["sep"]


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError, match=r"prompt template line 2: .*fix the Jinja2 syntax"):
        compile_template("ok\n{{ a ")


def test_render_error_names_the_row() -> None:
    template = compile_template("{{ a.missing }}")
    with pytest.raises(TemplateError, match=r"row 7: the template failed: .*missing"):
        template.render({"a": "x"}, where="row 7")


def test_missing_variable_message_lists_available_columns() -> None:
    error = missing_variable_error(compile_template("{{ q }} {{ z }}"), ["a", "b"], where="row 3 (line 4)")
    assert str(error) == (
        "row 3 (line 4): template variables 'q', 'z' are not a column; available columns: a, b. "
        "Fix the template or the dataset"
    )


def test_column_template_takes_any_column_name() -> None:
    template = column_template('odd "name"')
    assert template.parts == (Column('odd "name"'),)
    assert template.render({'odd "name"': "v"}, where="row 1") == "v"
