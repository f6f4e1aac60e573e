"""Group trends on every rolling cut-off: which forecast of a segment's next month is best.

At each global cut-off (every 6 months since 2000, as notebook 06's FULL report) the item vectors
and the user segments (k-means of the interest vectors) are learned from the events before it;
every event up to the horizon's end is labelled with its user's segment that month; each
segment's monthly centroid is forecast for the months after the cut-off by Step 6's momentum,
last month and a longer mean (cosine to the actual centroid), and new users are served the
forecast of their segment (Recall@K, ranked exactly by cosine). Notebook 09 runs the same
functions on two cut-offs.

    .venv/bin/python benchmarks/segment_trends.py [--segments 8] [--start 2000-01-01]

Writes the tables to build/segment_trends.md too.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from tables import MarkdownLog

from recsys_nb import load_movielens
from recsys_nb.evaluate import paired_difference
from recsys_nb.lessons import segments_and_trends as st
from recsys_nb.trends import forecast_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--start", default="2000-01-01")
    args = parser.parse_args()
    t0 = time.perf_counter()
    cfg = st.SegmentsConfig(rolling_start=args.start, rolling_end="2016-07-01",
                            n_segments=args.segments, first_events=(1,))
    log = MarkdownLog("segment_trends")
    show = log.show

    with st.open_rolling(cfg, load_movielens()) as rx:
        trends = st.monthly_trends(rx, cfg)
        forecasts = st.forecast_rows(trends, cfg)
        summary = forecast_summary(forecasts, seed=cfg.seed)
        show(f"Forecasts of a segment's next-month centroid: {len(forecasts)} (cut-off, "
             f"segment, month) rows, {len(rx.splits)} cut-offs, k={cfg.n_segments} "
             f"({time.perf_counter() - t0:.0f} s); best {summary.best}, winner "
             f"{summary.winner}", summary.table)
        served = st.serve_from_forecasts(rx, trends, cfg)
        base = served["segment centroid"]
        rows = []
        for name, r in served.items():
            row = {"served from": name, cfg.recall: r[cfg.recall], cfg.ndcg: r[cfg.ndcg],
                   "pairs": len(r.users)}
            if r is not base:
                d = paired_difference(r, base, cfg.recall)
                row[f"{cfg.recall} vs segment centroid"] = \
                    f"{d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}]"
            rows.append(row)
        show(f"New users served one vector, ranked exactly by cosine "
             f"({time.perf_counter() - t0:.0f} s)", pd.DataFrame(rows))
    out = log.write()
    print(f"written to {out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
