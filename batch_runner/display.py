"""Compact HTML for Jupyter (``_repr_html_``): a titled two-column table, every value escaped.

Imports nothing of the runner, so any layer's objects can render themselves with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape


def html_table(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """``<table>`` with ``title`` as its caption and one ``label | value`` row per pair; newlines
    in a value become line breaks."""
    body = "".join(
        f'<tr><th style="text-align:left;vertical-align:top">{escape(label)}</th>'
        f'<td style="text-align:left">{escape(value).replace(chr(10), "<br>")}</td></tr>'
        for label, value in rows
    )
    return f'<table><caption style="text-align:left"><b>{escape(title)}</b></caption>{body}</table>'


def labelled_rows(lines: Iterable[str]) -> list[tuple[str, str]]:
    """Rows from ``label:  value`` lines (as the CLI prints them); indented lines continue the row
    above."""
    rows: list[tuple[str, str]] = []
    for line in lines:
        label, sep, value = line.partition(":")
        if line[:1].isspace() or not sep or (not rows and not label.strip()):
            if rows:
                rows[-1] = (rows[-1][0], f"{rows[-1][1]}\n{line.strip()}")
            else:
                rows.append(("", line.strip()))
            continue
        rows.append((label.strip(), value.strip()))
    return rows
