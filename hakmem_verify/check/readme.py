"""The generated part of docs/CATALOGUE.md: the catalogue table between two markers."""
from __future__ import annotations

import os

BEGIN = "<!-- BEGIN GENERATED CATALOGUE -->"
END = "<!-- END GENERATED CATALOGUE -->"
README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "docs", "CATALOGUE.md")


def render(text: str, table: str) -> str:
    """text with the table between the markers replaced by ``table``."""
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise ValueError(f"docs/CATALOGUE.md lacks the markers {BEGIN} ... {END}")
    return text[:i + len(BEGIN)] + "\n" + table + text[j:]


def current(path: str = README) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def write(path: str = README) -> bool:
    """Regenerate the table in place; True if the file changed."""
    from . import markdown_table
    old = current(path)
    new = render(old, markdown_table())
    if new != old:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    return new != old
