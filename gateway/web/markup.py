"""HTML that cannot be built unescaped by accident.

``Markup`` is text that is already safe HTML. Everything else that meets it is escaped with
``html.escape(..., quote=True)`` (so values are safe in element text and in quoted attributes):

    Markup("<td>{}</td>").format(worker.name)          # the name is escaped
    Markup("<p>{}</p>").format(Markup("<b>ok</b>"))     # already Markup: kept as it is
    Markup("").join(rows)                               # each plain str in rows is escaped

Pages and responses accept only ``Markup`` (``layout.page`` and ``http.html_response`` raise
TypeError for a plain str), so a value that was never escaped cannot reach the browser. The idea
and API follow MarkupSafe (https://markupsafe.palletsprojects.com/); it is small enough to keep
here without another dependency.
"""
from __future__ import annotations

import html
import string
from typing import Any, Iterable


class Markup(str):
    """A string of safe HTML. Combining it with anything that is not Markup escapes that thing."""

    __slots__ = ()

    def __add__(self, other: Any) -> "Markup":
        return Markup(str.__add__(self, escape(other)))

    def __radd__(self, other: Any) -> "Markup":
        return Markup(str.__add__(escape(other), self))

    def join(self, items: Iterable[Any]) -> "Markup":  # type: ignore[override]
        return Markup(str.join(self, (escape(i) for i in items)))

    def format(self, *args: Any, **kwargs: Any) -> "Markup":  # type: ignore[override]
        return Markup(_FORMATTER.vformat(self, args, kwargs))

    def __mod__(self, _other: Any) -> "Markup":
        raise TypeError("use Markup.format(), which escapes its arguments, instead of %")

    def __repr__(self) -> str:
        return f"Markup({str.__repr__(self)})"


def escape(value: Any) -> Markup:
    """``value`` as safe HTML: Markup is kept, None becomes empty, anything else is escaped."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    return Markup(html.escape(str(value), quote=True))


class _EscapingFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Markup) and not format_spec:
            return value
        return escape(format(value, format_spec))

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        # !r / !s turn the value into a plain str: it is then escaped like any other
        return value if conversion is None else str(super().convert_field(value, conversion))


_FORMATTER = _EscapingFormatter()


def attrs(**values: Any) -> Markup:
    """`` name="value"`` pairs for a tag; False/None drop the attribute, True writes it bare.
    A trailing underscore is removed (``class_``) and other underscores become dashes."""
    parts = []
    for name, value in values.items():
        name = name.rstrip("_").replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            parts.append(Markup(" {}").format(name))
        else:
            parts.append(Markup(' {}="{}"').format(name, value))
    return Markup("").join(parts)
