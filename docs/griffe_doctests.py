"""Griffe extension for the API reference: show free-standing doctests as code blocks.

Our docstrings put their doctested examples after the Google-style sections, without an ``Examples:``
heading. Griffe only recognises ``>>>`` lines inside such a section, so without this extension the examples
would be rendered as Markdown paragraphs (where ``[0.5, 1.0]`` on the line after a ``>>>`` line even reads as
a reference link). This extension wraps every run of lines that starts with ``>>>`` at the left margin and
ends at a blank line in a ```` ```pycon ```` fence. It changes only what the documentation site shows: the
docstrings (and the doctests pytest runs) stay as they are.

Loaded by ``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """``text`` with each doctest block at the left margin outside a code fence wrapped in a ``pycon`` fence.

    >>> fence_doctests("Summary.\\n\\n>>> 1 + 1\\n2\\n\\nMore.").split("\\n")
    ['Summary.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
    """
    out: list[str] = []
    in_fence = in_example = False
    for line in text.split("\n"):
        if in_example and not line.strip():
            out.append("```")
            in_example = False
        elif not in_example and line.startswith("```"):
            in_fence = not in_fence
        elif not in_example and not in_fence and line.startswith(">>>"):
            out.append("```pycon")
            in_example = True
        out.append(line)
    if in_example:
        out.append("```")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Wrap free-standing doctests of every docstring in code fences once the object tree is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of ``obj`` (every kind of object) when it has a free-standing doctest."""
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
