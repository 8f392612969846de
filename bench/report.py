"""The run's results as a markdown table (what docs/performance.md shows) or as JSON (for
machines)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.stats import Spread


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Goal:
    """A performance target the run checks; ``met`` is None when this run did not measure it."""

    name: str
    measured: str
    met: bool | None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "not measured"}[self.met]


@dataclass(frozen=True)
class Section:
    """One measurement's tables and goals; ``figures`` is its result dataclass, for --json."""

    key: str
    title: str
    tables: tuple[Table, ...]
    goals: tuple[Goal, ...]
    figures: Any


@dataclass(frozen=True)
class RunInfo:
    command: str
    python: str
    platform: str
    cpus: int
    seconds: float


def spread_text(spread: Spread, scale: float = 1.0, digits: int = 2) -> str:
    """``12.34 [12.01..13.50]``: the median, then [min..max] over the repetitions."""
    s = spread.scaled(scale)
    return f"{s.median:.{digits}f} [{s.low:.{digits}f}..{s.high:.{digits}f}]"


def markdown(info: RunInfo, sections: Sequence[Section]) -> str:
    lines = [
        f"Command: `{info.command}` — Python {info.python}, {info.platform}, {info.cpus} CPUs, "
        f"{info.seconds:.0f} s.",
        "Figures are medians over the repetitions, with [min..max] beside them.",
    ]
    for section in sections:
        lines += ["", f"### {section.title}"]
        for table in section.tables:
            lines += ["", f"**{table.title}**", "", *pipe_table(table)]
            if table.notes:
                lines += ["", *table.notes]
    goals = [goal for section in sections for goal in section.goals]
    if goals:
        lines += ["", "### Goals", ""]
        lines += [f"- **{goal.verdict}** — {goal.name}: {goal.measured}" for goal in goals]
    return "\n".join(lines) + "\n"


def to_json(info: RunInfo, sections: Sequence[Section]) -> str:
    document = {
        "run": dataclasses.asdict(info),
        "sections": {s.key: dataclasses.asdict(s.figures) for s in sections},
        "goals": [{"section": s.key, **dataclasses.asdict(goal), "verdict": goal.verdict}
                  for s in sections for goal in s.goals],
    }
    return json.dumps(document, indent=2) + "\n"


def pipe_table(table: Table) -> list[str]:
    widths = [max(len(cell) for cell in column)
              for column in zip(table.columns, *table.rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(table.columns), line(["-" * w for w in widths]),
            *(line(row) for row in table.rows)]
