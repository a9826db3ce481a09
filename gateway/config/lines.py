"""Where each key of a TOML file stands, so problems can be reported as ``FILE:LINE: key.path``.

tomllib gives values, not positions. This reads the text once, following table headers
(``[a.b]`` and ``[[devices]]`` with their running index) and ``key =`` lines. It is deliberately
simple: keys inside inline tables or multi-line arrays report the line of their parent key.
"""
from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r'^\s*("[^"]*"|\'[^\']*\'|[A-Za-z0-9_.-]+)\s*=')


def _unquote(part: str) -> str:
    part = part.strip()
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
        return part[1:-1]
    return part


def key_lines(text: str) -> dict[str, int]:
    """Map ``"devices[1].lane"`` (and table paths like ``"uplink.mqtt"``) to 1-based line numbers."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    prefix = ""
    in_multiline = None  # the closing quote of a multi-line string we are inside
    for no, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        m = _HEADER.match(line)
        if m and not _KEY.match(line):
            name = ".".join(_unquote(p) for p in m.group(2).split("."))
            if m.group(1) == "[[":
                idx = counts.get(name, 0)
                counts[name] = idx + 1
                prefix = f"{name}[{idx}]"
            else:
                # a sub-table of the latest array element: [devices.options] after [[devices]]
                head = name.split(".")[0]
                if head in counts and name != head:
                    prefix = f"{head}[{counts[head] - 1}]" + name[len(head):]
                else:
                    prefix = name
            lines.setdefault(prefix, no)
            continue
        k = _KEY.match(line)
        if k:
            key = ".".join(_unquote(p) for p in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", k.group(1)))
            path = f"{prefix}.{key}" if prefix else key
            lines.setdefault(path, no)
            rest = line[k.end():]
            for q in ('"""', "'''"):
                if rest.count(q) == 1:
                    in_multiline = q
    return lines


def line_of(lines: dict[str, int], path: str) -> int:
    """The line of ``path``, or of its nearest ancestor that has one, else 1."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return 1
