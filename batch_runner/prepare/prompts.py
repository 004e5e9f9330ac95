"""Prompt templates: Jinja2 with StrictUndefined, every dataset column a variable.

A value a template outputs (``{{ name }}``) becomes text the same way whichever source it came
from (``template_text``): text as it is, null as nothing, booleans, lists and structs as JSON,
numbers, dates, timestamps and decimals as Python writes them. Inside Jinja2 expressions values
keep their types, so ``{% if flag %}`` and ``{{ tags | join(", ") }}`` work on the real values.

Templates that only substitute columns (``Context: {{ Context }}``: text and bare variable names,
no filters, tests or control flow) are recognised from Jinja2's parsed AST and exposed as
``parts`` so the planner can render them column-wise without calling Jinja2 per row. Both ways
give the same text: Jinja2 renders a bare variable as ``str(value)``, and the text between
variables is taken from Jinja2's own parse (which, for example, drops one trailing newline).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import jinja2
import orjson
from jinja2 import meta, nodes

from batch_runner.exceptions import TemplateError

# The whole row as one mapping, for columns whose names are not identifiers: {{ row["First name"] }}.
ROW_VARIABLE = "row"


def template_text(value: Any) -> str:
    """How a value reads in a prompt (the README's rendering table)."""
    if isinstance(value, str):
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        value = value.tolist()  # numpy scalars and arrays, as pandas hands them over, as Python values
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise TemplateError(
                "a binary value is not UTF-8 text, so it cannot go into a prompt; drop the column "
                "or convert it to text"
            ) from err
    return str(value)


def _json_default(value: Any) -> Any:
    # Inside lists and structs: what orjson does not know, as the top level would write it.
    if isinstance(value, Decimal | date | datetime | time | bytes):
        return template_text(value)
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


_ENVIRONMENT = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, finalize=template_text)


@dataclass(frozen=True)
class Column:
    """A bare ``{{ name }}`` in a plain-substitution template."""

    name: str


Part = str | Column


@dataclass(frozen=True)
class PromptTemplate:
    source: str
    variables: frozenset[str]  # names the template reads from the row
    parts: tuple[Part, ...] | None  # set for plain-substitution templates
    _template: jinja2.Template

    def missing_columns(self, columns: Sequence[str]) -> list[str]:
        available = set(columns) | {ROW_VARIABLE}
        return sorted(self.variables - available)

    def render(self, row: Mapping[str, Any], *, where: str) -> str:
        if self.parts is not None:
            try:
                return "".join(
                    part if isinstance(part, str) else template_text(row[part.name]) for part in self.parts
                )
            except TemplateError as err:
                raise TemplateError(f"{where}: {err}") from err
        context = dict(row)
        context.setdefault(ROW_VARIABLE, row)
        try:
            return self._template.render(context)
        except jinja2.UndefinedError as err:
            raise TemplateError(
                f"{where}: the template failed: {err}; available columns: {_names(row)}"
            ) from err
        except Exception as err:  # any template runtime error is the template's, not ours
            raise TemplateError(f"{where}: the template failed: {type(err).__name__}: {err}") from err


def compile_template(source: str, *, label: str = "prompt template") -> PromptTemplate:
    try:
        tree = _ENVIRONMENT.parse(source)
        template = _ENVIRONMENT.from_string(tree)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"{label} line {err.lineno}: {err.message}; fix the Jinja2 syntax") from err
    variables = frozenset(meta.find_undeclared_variables(tree))
    return PromptTemplate(source, variables, _plain_parts(tree), template)


def column_template(column: str) -> PromptTemplate:
    """A template whose text is one column's value, for any column name."""
    source = "{{ row[%s] }}" % _quoted(column)  # noqa: UP031 - braces would need doubling in an f-string
    return PromptTemplate(source, frozenset({column}), (Column(column),), _ENVIRONMENT.from_string(source))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def missing_variable_error(template: PromptTemplate, columns: Sequence[str], *, where: str) -> TemplateError:
    missing = template.missing_columns(columns)
    plural = "s" if len(missing) > 1 else ""
    return TemplateError(
        f"{where}: template variable{plural} {', '.join(repr(name) for name in missing)} "
        f"{'are' if plural else 'is'} not a column; available columns: {_names(columns)}. "
        "Fix the template or the dataset"
    )


def _plain_parts(tree: nodes.Template) -> tuple[Part, ...] | None:
    parts: list[Part] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            return None
        for node in statement.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
            elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name != ROW_VARIABLE:
                parts.append(Column(node.name))
            else:
                return None
    return tuple(parts)


def _names(columns: Mapping[str, Any] | Sequence[str]) -> str:
    names = list(columns)
    return ", ".join(names) if names else "(none)"
