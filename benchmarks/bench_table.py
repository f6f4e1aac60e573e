"""The one table of ``make bench``: every figure beside its baseline from the same run, as a ratio.

Pure functions over the sections' results (plain dicts, as the section processes write them to
JSON; see ``bench_sections``): no timing and no recsys_nb import happen here, so the tests build
tables from made-up figures. Percentiles are computed here from the raw samples, and every ratio
from the two figures it compares: nothing is copied in by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tables import markdown_table

HEADER = [
    "#", "measured", "figure", "ours", "value", "baseline (same run)", "value",
    "ours / baseline", "ours is", "peak RSS MB",
]


@dataclass(frozen=True)
class Row:
    """One figure and its baseline. ``higher_is_better``: a rate (texts/s) rather than a time."""

    number: str
    measured: str
    figure: str
    ours_label: str
    ours: float
    baseline_label: str
    baseline: float
    higher_is_better: bool
    rss: str

    @property
    def ratio(self) -> float:
        """ours / baseline, the raw quotient of the two figures."""
        return self.ours / self.baseline

    @property
    def verdict(self) -> str:
        """The ratio read the right way round: "2.10x faster" or "1.35x slower"."""
        speedup = self.ratio if self.higher_is_better else 1.0 / self.ratio
        return f"{fmt(speedup)}x faster" if speedup >= 1 else f"{fmt(1.0 / speedup)}x slower"

    def cells(self) -> list[str]:
        return [
            self.number, self.measured, self.figure, self.ours_label, fmt(self.ours),
            self.baseline_label, fmt(self.baseline), f"{self.ratio:.3g}", self.verdict, self.rss,
        ]


def fmt(value: float) -> str:
    """Three significant figures or so, thousands separated: 1,234 / 56.7 / 4.21 / 0.0123."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def p50_p95(samples: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile of the samples (numpy's linear interpolation)."""
    arr = np.asarray(samples, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("no samples: cannot take percentiles of an empty list")
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def latency_rows(
    number: str, measured: str, ours_label: str, ours_ms: Sequence[float],
    baseline_label: str, baseline_ms: Sequence[float], rss: str,
) -> list[Row]:
    """Two rows, p50 and p95 in ms, each computed from its own samples."""
    ours, base = p50_p95(ours_ms), p50_p95(baseline_ms)
    return [
        Row(number, measured, f"{name} ms", ours_label, o, baseline_label, b, False, rss)
        for name, o, b in zip(("p50", "p95"), ours, base, strict=True)
    ]


def rss_text(result: dict[str, Any]) -> str:
    """Peak RSS of a section's process in MB, plus its server child's when it had one."""
    text = f"{result['rss_mb']:,.0f}"
    if result.get("server_rss_mb"):
        text += f" + server {result['server_rss_mb']:,.0f}"
    return text


def rows_from_results(results: dict[str, dict[str, Any]]) -> list[Row]:
    """The table's rows for the sections present in ``results`` (keyed by section name).

    Row 5 compares the server section with the embedded sections "event" and "recommend", so it
    needs them in the same run; without them it is left out.
    """
    rows: list[Row] = []
    r = results
    if "embeddings" in r:
        e = r["embeddings"]
        rows.append(Row(
            "1", f"embedding throughput, {e['texts']:,} MovieLens texts", "texts/s",
            "MiniLM()", e["ours_per_s"], "naive onnxruntime loop, batch 64",
            e["naive_per_s"], True, rss_text(e),
        ))
    if "event" in r:
        e = r["event"]
        rows += latency_rows(
            "2", "one event, ingested store (embedded)", "rec.view (profile + event log)",
            e["view_ms"], "bare Chroma upsert of one vector", e["upsert_ms"], rss_text(e),
        )
    if "recommend" in r:
        e = r["recommend"]
        for label, key in (("raw Chroma top-10, no exclusion", "raw_ms"),
                           ("exact numpy top-10, seen excluded", "numpy_ms")):
            rows += latency_rows(
                "3", "recommend n=10, seen excluded (embedded)", "rec.recommend",
                e["recommend_ms"], label, e[key], rss_text(e),
            )
    if "ingest" in r:
        e = r["ingest"]
        rows.append(Row(
            "4", f"all {e['events']:,} MovieLens events into profiles", "seconds",
            "bulk rec.ingest", e["bulk_s"],
            f"one by one, EXTRAPOLATED from {e['sample_events']:,} events",
            e["sample_s"] / e["sample_events"] * e["events"], False, rss_text(e),
        ))
    if "server" in r and "event" in r and "recommend" in r:
        e = r["server"]
        rows += latency_rows(
            "5", "one event through a chroma run server", "rec.view via HttpClient",
            e["view_ms"], "embedded rec.view (row 2)", r["event"]["view_ms"], rss_text(e),
        )
        rows += latency_rows(
            "5", "recommend n=10 through a chroma run server", "rec.recommend via HttpClient",
            e["recommend_ms"], "embedded rec.recommend (row 3)", r["recommend"]["recommend_ms"],
            rss_text(e),
        )
    return rows


def render(rows: list[Row]) -> str:
    """The markdown table of ``rows``."""
    return markdown_table(HEADER, [row.cells() for row in rows])
