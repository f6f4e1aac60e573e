"""``make bench``'s entry point and its one table (nothing is timed here: made-up figures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench.py"
sys.path.insert(0, str(REPO / "benchmarks"))  # the scripts import each other by module name

from bench_table import Row, latency_rows, p50_p95, render, rows_from_results  # noqa: E402
from tables import markdown_table  # noqa: E402


def test_unsupported_scale_exits_2_naming_the_value_and_the_supported_ones():
    # -X importtime lists every module imported: the check must come before numpy & co.
    run = subprocess.run([sys.executable, "-X", "importtime", str(BENCH), "--scale", "10M"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    message = [line for line in run.stderr.splitlines() if not line.startswith("import time:")]
    assert message == ["SCALE='10M' is not supported; use one of: default (unset), 100k, 1M"]
    imported = {line.split("|")[-1].strip() for line in run.stderr.splitlines()
                if line.startswith("import time:")}
    assert not imported & {"numpy", "pandas", "chromadb", "onnxruntime", "recsys_nb"}


def test_percentiles_come_from_the_samples():
    assert p50_p95(list(range(1, 101))) == pytest.approx((50.5, 95.05))
    assert p50_p95([3.0]) == (3.0, 3.0)
    with pytest.raises(ValueError, match="no samples"):
        p50_p95([])


def test_latency_rows_ratio_and_verdict_from_the_figures():
    p50, p95 = latency_rows("2", "one event", "ours", [2.0] * 19 + [40.0], "bare", [1.0] * 20,
                            "300")
    assert (p50.figure, p50.ours, p50.baseline) == ("p50 ms", 2.0, 1.0)
    assert p50.ratio == 2.0 and p50.verdict == "2.00x slower"
    assert p95.ours == pytest.approx(np.percentile([2.0] * 19 + [40.0], 95))
    assert p95.ratio == pytest.approx(p95.ours / 1.0)


def test_rate_rows_read_higher_as_faster():
    row = Row("1", "texts", "texts/s", "ours", 500.0, "naive", 250.0, True, "600")
    assert row.ratio == 2.0 and row.verdict == "2.00x faster"
    slow = Row("1", "texts", "texts/s", "ours", 100.0, "naive", 400.0, True, "600")
    assert slow.verdict == "4.00x slower"


RESULTS = {
    "embeddings": {"texts": 2000, "ours_per_s": 480.0, "naive_per_s": 240.0, "rss_mb": 650.4},
    "event": {"view_ms": [6.0, 8.0, 10.0], "upsert_ms": [3.0, 4.0, 5.0], "rss_mb": 290.0},
    "recommend": {"recommend_ms": [3.0, 3.0, 3.0], "raw_ms": [1.5, 1.5, 1.5],
                  "numpy_ms": [1.0, 1.0, 1.0], "rss_mb": 288.0},
    "ingest": {"events": 100_004, "bulk_s": 2.0, "sample_events": 1000, "sample_s": 10.0,
               "rss_mb": 300.0},
    "server": {"view_ms": [16.0, 16.0], "recommend_ms": [6.0, 6.0], "rss_mb": 220.0,
               "server_rss_mb": 205.0},
}


def test_rows_from_results_compute_every_ratio():
    rows = rows_from_results(RESULTS)
    assert [r.number for r in rows] == ["1", "2", "2", "3", "3", "3", "3", "4", "5", "5", "5", "5"]
    by = {(r.number, r.baseline_label[:9], r.figure): r for r in rows}
    assert by["1", "naive onn", "texts/s"].ratio == 2.0
    assert by["2", "bare Chro", "p50 ms"].ratio == 8.0 / 4.0
    assert by["3", "raw Chrom", "p50 ms"].ratio == 2.0
    assert by["3", "exact num", "p50 ms"].ratio == 3.0
    ingest = by["4", "one by on", "seconds"]
    assert ingest.baseline == pytest.approx(10.0 / 1000 * 100_004)  # extrapolated
    assert "EXTRAPOLATED" in ingest.baseline_label and ingest.verdict == "500x faster"
    assert by["5", "embedded ", "p50 ms"].ratio == 16.0 / 8.0  # server view vs row 2's view
    assert rows[-1].ratio == 2.0  # server recommend vs row 3's recommend
    assert rows[-1].rss == "220 + server 205" and rows[0].rss == "650"


def test_server_rows_need_the_embedded_rows_of_the_same_run():
    rows = rows_from_results({"server": RESULTS["server"], "event": RESULTS["event"]})
    assert {r.number for r in rows} == {"2"}


def test_render_is_a_markdown_table():
    lines = render(rows_from_results(RESULTS)).splitlines()
    assert lines[0].startswith("| # | measured |") and lines[1] == "|" + "---|" * 10
    assert len(lines) == 2 + 12
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines[2:])
    assert all(line.count(" | ") == 9 for line in [lines[0], *lines[2:]])


def test_markdown_table_escapes_pipes_and_checks_widths():
    assert markdown_table(["a", "b"], [["x|y", "1"]]).splitlines()[2] == "| x\\|y | 1 |"
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table(["a"], [["1", "2"]])

