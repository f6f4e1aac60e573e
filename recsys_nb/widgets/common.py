"""What every widget shows the same way: item labels, finding a movie by its title, and the
tables the widgets (and notebooks 00 and 03) print.

Pure pandas/numpy: importing it costs nothing, so notebooks use ``item_label`` / ``find_item``
without any widget.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from recsys_nb.recommender import Recommender

_ARTICLES = ("the", "a", "an", "les", "la", "le", "l'", "il", "el", "das", "der", "die")
_TITLE_WITH_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")


class ItemNotFoundError(LookupError):
    """A title matched no item, or several items that only the year can tell apart."""


def _title_key(title: str) -> str:
    """Comparable form of a title: lower case, MovieLens' trailing article moved to the front.

    MovieLens writes "Matrix, The"; people type "The Matrix". Both become "the matrix".
    """
    text = " ".join(str(title).lower().split())
    for article in _ARTICLES:
        suffix = f", {article}"
        if text.endswith(suffix):
            sep = "" if article.endswith("'") else " "
            return f"{article}{sep}{text[: -len(suffix)]}"
    return text


def item_label(title: Any, year: Any) -> str:
    """How an item is shown to people: "Toy Story (1995)"; a missing title or year is left out."""
    name = "" if title is None or pd.isna(title) else str(title)
    if year is None or pd.isna(year):
        return name
    return f"{name} ({int(year)})" if name else f"({int(year)})"


def item_labels(items: pd.DataFrame) -> dict[str, int]:
    """A unique label per item (``item_label``), mapped to its item id, in the frame's order.

    Titles repeat in MovieLens (remakes, missing titles), so a label that is not unique gets the
    item id appended: "12 Angry Men (1957)" stays, two untitled items become "item 143410", ...
    """
    base = [item_label(t, y) for t, y in zip(items["title"], items["year"], strict=True)]
    counts: dict[str, int] = {}
    for label in base:
        counts[label] = counts.get(label, 0) + 1
    labels: dict[str, int] = {}
    for label, item_id in zip(base, items["item_id"], strict=True):
        unique = label if label and counts[label] == 1 else f"{label} [item {int(item_id)}]".strip()
        labels[unique] = int(item_id)
    return labels


def find_item(items: pd.DataFrame, title: str) -> int:
    """The item id of a title typed the way people write it.

    Accepts "Toy Story", "toy story (1995)", "The Matrix" (MovieLens: "Matrix, The"). A year in
    parentheses picks between remakes.

    Raises:
        ItemNotFoundError: no item has that title (the message lists close matches), or several do
            (the message lists them with their years: add the year).
    """
    if not isinstance(title, str) or not title.strip():
        raise ItemNotFoundError(f"title {title!r} is empty; pass a movie title like 'Toy Story'")
    match = _TITLE_WITH_YEAR.match(title.strip())
    wanted, year = (match["title"], int(match["year"])) if match else (title, None)
    keys = items["title"].map(lambda t: "" if pd.isna(t) else _title_key(t))
    hits = items[keys == _title_key(wanted)]
    if year is not None:
        hits = hits[hits["year"] == year]
    if len(hits) == 1:
        return int(hits["item_id"].iloc[0])
    if len(hits) > 1:
        options = [item_label(t, y) for t, y in zip(hits["title"], hits["year"], strict=True)]
        raise ItemNotFoundError(
            f"title {title!r} matches {len(hits)} items: {options}; add the year, e.g. "
            f"{options[0]!r}"
        )
    labels = [item_label(t, y) for t, y in zip(items["title"], items["year"], strict=True)]
    close = difflib.get_close_matches(title, [lab for lab in labels if lab], n=5, cutoff=0.6)
    hint = f"close matches: {close}" if close else "no close match either"
    raise ItemNotFoundError(
        f"no item titled {title!r} among {len(items)} items ({hint}); MovieLens writes leading "
        "articles at the end ('Matrix, The'), both spellings work. With a sampled catalogue "
        "(N_ITEMS), the movie may simply not be in the sample"
    )


def title_matches(items: pd.DataFrame, query: str, n: int) -> pd.DataFrame:
    """Items whose title contains ``query`` (case-insensitive, "Matrix, The" = "The Matrix"),
    exact titles first, then the shortest titles."""
    key = _title_key(query)
    if not key:
        return items.iloc[:0]
    keys = items["title"].map(lambda t: "" if pd.isna(t) else _title_key(t))
    hits = items[keys.str.contains(key, regex=False)]
    order = np.lexsort((keys[hits.index].str.len().to_numpy(),
                        (keys[hits.index] != key).to_numpy()))
    return hits.iloc[order[:n]]


def _genres_text(genres: Any) -> str:
    """Genres as "A, B" whether they come as a list (items frame) or "A|B" (store metadata)."""
    if isinstance(genres, str):
        return ", ".join(g for g in genres.split("|") if g)
    if genres is None or (not isinstance(genres, list | tuple | np.ndarray) and pd.isna(genres)):
        return ""
    return ", ".join(str(g) for g in genres)


def _interest_or_none(rec: Recommender, user: int | str) -> np.ndarray | None:
    """The user's interest vector, or None when they have none yet (cold start)."""
    try:
        return rec.interest(user)
    except KeyError:
        return None


def recommendations_table(
    rec: Recommender, user: int | str, n: int = 10, exclude_seen: bool = True
) -> pd.DataFrame:
    """``rec.recommend(user, n)`` as people read it: rank, movie, genres, score, seen, source.

    ``seen`` says whether the user already has an event on the item (only possible with
    ``exclude_seen=False``); ``item_id`` is kept so callers can act on a row.
    """
    top = rec.recommend(user, n=n, exclude_seen=exclude_seen)
    seen = set(rec.history(user)["item_id"].astype(int))
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(top) + 1),
            "item_id": top["item_id"].astype(int).to_numpy(),
            "movie": [item_label(t, y) for t, y in zip(top["title"], top["year"], strict=True)],
            "genres": [_genres_text(g) for g in top["genres"]],
            "score": top["score"].astype(float).to_numpy(),
            "seen": [int(i) in seen for i in top["item_id"]],
            "source": top["source"].to_numpy(),
        }
    )


def history_table(rec: Recommender, user: int | str, last: int = 10) -> pd.DataFrame:
    """The user's ``last`` events, newest first: date, kind, movie and ``similarity``, the cosine
    of the item to the user's current interest vector (empty when the user has none).

    Reading it next to the recommendations shows where they come from: the interest vector is a
    moving average of these items, so recent positive items score high, rejected ones low.
    """
    hist = rec.history(user, last=last).iloc[::-1]
    v = _interest_or_none(rec, user)
    ids = hist["item_id"].astype(int).to_numpy()
    items = rec.items.reindex(ids)
    if v is None:
        sims = np.full(len(ids), np.nan)
    else:
        sims = np.array([float(rec.item_vector(i) @ v) for i in ids], dtype=np.float64)
    when = pd.to_datetime(hist["timestamp"].astype(float), unit="s", utc=True)
    return pd.DataFrame(
        {
            "date": when.dt.strftime("%Y-%m-%d").to_numpy(),
            "kind": hist["kind"].to_numpy(),
            "item_id": ids,
            "movie": [item_label(t, y) for t, y in zip(items["title"], items["year"], strict=True)],
            "similarity": sims,
        }
    )


def list_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Compare two recommendation lists (frames with item_id, title, year; best first).

    Returns one row per movie in either list: ``movie``, ``rank_before``, ``rank_after`` (<NA>
    when absent) and ``change`` ("kept", "up 2", "down 1", "new", "dropped"), the movies of
    ``after`` first in their new order, then the dropped ones. This is what "the list changed"
    means in numbers.
    """
    for name, frame in (("before", before), ("after", after)):
        missing = [c for c in ("item_id", "title", "year") if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}; pass frames from rec.recommend()")
    rank_b = {int(i): r for r, i in enumerate(before["item_id"], start=1)}
    rank_a = {int(i): r for r, i in enumerate(after["item_id"], start=1)}
    order = list(rank_a) + [i for i in rank_b if i not in rank_a]
    labels = {
        int(i): item_label(t, y)
        for frame in (before, after)
        for i, t, y in zip(frame["item_id"], frame["title"], frame["year"], strict=True)
    }
    rows = []
    for i in order:
        rb, ra = rank_b.get(i), rank_a.get(i)
        if rb is None:
            change = "new"
        elif ra is None:
            change = "dropped"
        elif ra == rb:
            change = "kept"
        else:
            change = f"up {rb - ra}" if ra < rb else f"down {ra - rb}"
        rows.append({"item_id": i, "movie": labels[i], "rank_before": rb, "rank_after": ra,
                     "change": change})
    out = pd.DataFrame(rows, columns=["item_id", "movie", "rank_before", "rank_after", "change"])
    for col in ("rank_before", "rank_after"):
        out[col] = out[col].astype("Int64")
    return out
