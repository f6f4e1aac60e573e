"""The tables a benchmark prints as it goes and writes to ``build/<name>.md`` at the end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


class MarkdownLog:
    """``show(title, table)`` prints a titled table at once (a long run shows progress);
    ``write()`` saves every table shown to ``build/<name>.md`` and returns the path."""

    def __init__(self, name: str) -> None:
        self.path = Path("build") / f"{name}.md"
        self.lines: list[str] = []

    def show(self, title: str, table: pd.DataFrame) -> None:
        text = f"### {title}\n\n{table.round(4).to_string(index=False)}\n"
        print(text, flush=True)
        self.lines.append(text)

    def write(self) -> Path:
        self.path.parent.mkdir(exist_ok=True)
        self.path.write_text("\n".join(self.lines), encoding="utf-8")
        return self.path


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub markdown table (``| a | b |``, one line per row) of already formatted cells;
    a ``|`` inside a cell is escaped so it stays one cell."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {row!r} has {len(row)} cells; the header has {len(header)}")
    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])
