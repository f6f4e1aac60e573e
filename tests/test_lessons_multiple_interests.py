"""recsys_nb.lessons.multiple_interests: notebook 10's checks, toy, two-taste rule and tables.

The parameter errors are the ones the notebook raises at its check cell (one call to
``MultiInterestConfig.from_parameters``); the two-taste rule is checked on hand-made item vectors
whose answer is known; the table builder on results whose per-user hits are known (every verdict
predictable) and on a small real slice of MovieLens (the product measured, the interest counts
checked against an independent replay).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_nb import interests as mi
from recsys_nb.data import Dataset, load_movielens, sample_users, subset_items
from recsys_nb.embeddings import ItemVectors
from recsys_nb.evaluate import EvaluationResult, paired_difference, temporal_split
from recsys_nb.experiment import Experiment
from recsys_nb.kinds import EVENT_KINDS, operations
from recsys_nb.lessons import multiple_interests as mx
from recsys_nb.lessons.multiple_interests import MultiInterestConfig
from recsys_nb.recommender import DEFAULT_PARAMS

DEFAULTS = dict(N_USERS=100, MIN_EVENTS=5, TEST_FRACTION=0.2, K=[10, 50], KS=[1, 2, 3, 5],
                MERGES=["round_robin", "score"], DIVERSITY=0.5, ROLLING_START="2014-01-01",
                ROLLING_END="2016-07-01", ROLLING_MONTHS=24, GENRES=["Horror", "Children"],
                MIN_TASTE_EVENTS=10, USER=None, INTERESTS=2, TOP_N=10, TOLERANCE=0.005, SEED=0,
                STORE_DIR=None)


def config(**changes):
    return MultiInterestConfig.from_parameters(**{**DEFAULTS, **changes})


# ---------------------------------------------------------------------------------------------
# Parameters


def test_the_notebook_defaults_make_the_default_config():
    cfg = config()
    assert cfg == MultiInterestConfig()
    assert cfg.metrics == ("recall@50", "ndcg@10", "coverage@50")
    assert cfg.store_path.parts[-2:] == ("notebooks", "10_multiple_interests")
    assert cfg.diversity == mi.DEFAULT_DIVERSITY and cfg.merges == mi.MERGES


def test_lists_are_sorted_k1_is_added_and_values_normalised(tmp_path):
    cfg = config(K=[50, 5], KS=np.array([5, 2]), N_USERS=np.int64(7), USER=np.int64(3),
                 DIVERSITY=1, MERGES=["score"], STORE_DIR=str(tmp_path), GENRES=("Drama", "War"))
    assert cfg.cutoffs == (5, 50) and cfg.ks == (1, 2, 5) and cfg.merges == ("score",)
    assert cfg.n_users == 7 and type(cfg.n_users) is int and cfg.user == 3
    assert cfg.diversity == 1.0 and cfg.store_path == tmp_path
    assert cfg.genres == ("Drama", "War")
    assert (cfg.recall, cfg.ndcg, cfg.coverage) == ("recall@50", "ndcg@5", "coverage@50")
    assert config(N_USERS=None).n_users is None


@pytest.mark.parametrize("name, value, message", [
    ("N_USERS", 0, "N_USERS=0 must be None (every user) or an integer >= 1"),
    ("MIN_EVENTS", 1, "MIN_EVENTS=1 must be an integer >= 2"),
    ("TEST_FRACTION", 1.0, "TEST_FRACTION=1.0 must be a number in (0, 1)"),
    ("DIVERSITY", 1.5, "DIVERSITY=1.5 must be a number in [0, 1]"),
    ("DIVERSITY", "high", "DIVERSITY='high' must be a number in [0, 1]"),
    ("ROLLING_START", "yesterday-ish", "ROLLING_START='yesterday-ish' must be a date such as"),
    ("ROLLING_END", 2016, "ROLLING_END=2016 must be a date such as"),
    ("ROLLING_MONTHS", 0, "ROLLING_MONTHS=0 must be an integer >= 1"),
    ("MIN_TASTE_EVENTS", 1, "MIN_TASTE_EVENTS=1 must be an integer >= 2"),
    ("USER", "alice", "USER='alice' must be None or an integer >= 1"),
    ("INTERESTS", 1, "INTERESTS=1 must be an integer >= 2"),
    ("TOP_N", True, "TOP_N=True must be an integer >= 1"),
    ("TOLERANCE", float("nan"), "TOLERANCE=nan must be a number >= 0"),
    ("SEED", -1, "SEED=-1 must be an integer >= 0"),
    ("STORE_DIR", 5, "STORE_DIR=5 must be None or a folder path"),
    ("K", [0, 10], "K values [0] are out of range: each must be an integer >= 1"),
    ("KS", 3, "KS=3 must be a list of values, e.g. [3]"),
    ("KS", [2, 2], "KS repeats values [2, 2]; list each once"),
    ("MERGES", ["best"], "MERGES values ['best'] are out of range: each must be one of "
     "['round_robin', 'score']"),
    ("MERGES", [], "MERGES has an empty list"),
    ("GENRES", ["Horror"], "GENRES=['Horror'] must name exactly two genres"),
    ("GENRES", ["Horror", ""], "GENRES values [''] are out of range: each must be a genre name"),
])
def test_a_bad_parameter_is_named_with_its_value_and_the_fix(name, value, message):
    with pytest.raises(ValueError, match="^invalid parameters: ") as err:
        config(**{name: value})
    assert message in str(err.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValueError) as err:
        config(N_USERS=-3, K=[0], MERGES=["best"], DIVERSITY=2, ROLLING_START="2016-01-01",
               ROLLING_END="2010-01-01")
    text = str(err.value)
    for part in ("N_USERS=-3", "K values [0]", "MERGES values ['best']", "DIVERSITY=2",
                 "ROLLING_START='2016-01-01' is after ROLLING_END='2010-01-01'"):
        assert part in text


def test_checks_that_need_the_data():
    ds = load_movielens()
    config().check_data(ds)  # the defaults are valid
    with pytest.raises(ValueError, match="^invalid parameters: ") as err:
        config(GENRES=["Horror", "Kids"], K=[10, 10_000]).check_data(ds)
    assert "GENRES values ['Kids'] are not genres of the items; use two of [" in str(err.value)
    assert "K=[10, 10000] exceeds the catalogue (9066 items)" in str(err.value)
    with pytest.raises(ValueError, match="names one genre twice"):
        MultiInterestConfig(genres=("Horror", "Horror")).check_data(ds)
    splits = config(ROLLING_START="2014-01-01", ROLLING_MONTHS=12).rolling(ds)
    assert [pd.Timestamp(s.cutoff, unit="s").year for s in splits] == [2014, 2015, 2016]
    assert all(s.min_events == 5 for s in splits)


# ---------------------------------------------------------------------------------------------
# Section 1: the toy


def test_the_mean_of_two_clusters_is_near_neither():
    a, b = mx.toy_clusters(np.random.default_rng(1))
    table = mx.toy_table(a, b).set_index("vector")
    mean = table.loc["mean of all (one interest)"]
    # each cluster's points hug their centre; the mean is farther from each centre than that
    for name, centre in (("A", "centre of A"), ("B", "centre of B")):
        assert table.loc[centre, f"median cos {name}"] > 0.95
        assert mean[f"cos centre {name}"] < 0.7 < table.loc[centre, f"median cos {name}"]
        assert mean[f"cos nearest of {name}"] < table.loc[centre, f"median cos {name}"]
    again = mx.toy_table(*mx.toy_clusters(np.random.default_rng(1)))
    pd.testing.assert_frame_equal(table.reset_index(), again)  # the seed decides


def test_two_interests_find_the_two_clusters_one_interest_sits_between():
    a, b = mx.toy_clusters(np.random.default_rng(0))
    two, one = mx.toy_interests(a, b)
    centres = np.stack([a.mean(0) / np.linalg.norm(a.mean(0)),
                        b.mean(0) / np.linalg.norm(b.mean(0))])
    cos = two.vectors.astype(np.float64) @ centres.T
    assert two.m == 2 and sorted(np.argmax(cos, axis=1).tolist()) == [0, 1]
    assert (cos.max(axis=1) > 0.95).all()
    assert (one @ centres.T < 0.8).all()  # one interest: near neither
    assert two.counts.tolist() == [len(a), len(b)]


# ---------------------------------------------------------------------------------------------
# Section 2: the two-taste rule on hand-made vectors


def _toy_split(n_x: int = 12, n_y: int = 12):
    """Items of genre X (vectors near e0), Y (near e1: far from X) and Z (near e0 + e2: close
    to X); user 1 watches X and Y (far), user 2 X and Z (close), user 3 X and a few Y (too few),
    user 4 many X and just enough Y (far, less balanced)."""
    rng = np.random.default_rng(0)
    rows, genres = [], []
    for g, base in (("X", [1, 0, 0, 0]), ("Y", [0, 1, 0, 0]), ("Z", [1, 0, 1, 0])):
        for _ in range(30):
            v = np.asarray(base, dtype=np.float64) + rng.normal(0, 0.05, 4)
            rows.append(v / np.linalg.norm(v))
            genres.append([g])
    ids = np.arange(1, len(rows) + 1)
    items = pd.DataFrame({"item_id": ids, "title": [f"m{i}" for i in ids], "year": 2000,
                          "genres": genres})
    x, y, z = ids[:30], ids[30:60], ids[60:]
    events = []
    t = 0

    def watch(user, chosen):
        nonlocal t
        for i in chosen:
            t += 1
            events.append({"user_id": user, "item_id": int(i), "rating": 4.0, "timestamp": t})

    watch(1, np.concatenate([x[:n_x], y[:n_y]]))
    watch(2, np.concatenate([x[:n_x], z[:n_y]]))
    watch(3, np.concatenate([x[:n_x], y[:3]]))
    watch(4, np.concatenate([x[:25], y[:10]]))
    for u in (1, 2, 3, 4):  # something held out for everybody
        watch(u, x[25:30])
    ds = Dataset(items, pd.DataFrame(events))
    split = temporal_split(ds, test_fraction=0.1, min_events=5)
    vecs = ItemVectors("toy", ids.astype(np.int64), np.asarray(rows, dtype=np.float32), None)
    return split, vecs


def test_the_two_taste_rule_ranks_far_apart_then_balanced_tastes():
    split, vecs = _toy_split()
    pairs = mx.taste_pairs(split, vecs, min_each=5, threshold=0.25)
    assert pairs["user_id"].tolist() == [1, 4, 2]  # user 3 has too few Y events
    one, four, two = (pairs.set_index("user_id").loc[u] for u in (1, 4, 2))
    assert {one["genre_a"], one["genre_b"]} == {"X", "Y"} and one["far"] and one["cos"] < 0.25
    assert four["far"] and four["genre_a"] == "X" and four["n_a"] > four["n_b"]
    assert not two["far"] and two["cos"] > 0.25  # Z is close to X: not two tastes it splits
    assert one["balance"] > four["balance"]
    train = split.train[split.train["user_id"] == 1]
    assert one["n_events"] == len(train) and one["n_a"] + one["n_b"] == len(train)
    assert one["balance"] == pytest.approx(min(one["n_a"], one["n_b"]) / len(train))
    cfg = MultiInterestConfig(min_taste_events=5)
    assert mx.pick_user(cfg, split, pairs)["user_id"] == 1
    assert mx.pick_user(MultiInterestConfig(user=2), split, pairs)["user_id"] == 2
    with pytest.raises(ValueError, match="USER=3 has no two genre groups"):
        mx.pick_user(MultiInterestConfig(user=3), split, pairs)
    with pytest.raises(ValueError, match="USER=99 has no held-out events"):
        mx.pick_user(MultiInterestConfig(user=99), split, pairs)
    with pytest.raises(ValueError, match="no user has two genre groups"):
        mx.pick_user(cfg, split, pairs.iloc[:0])


def test_taste_columns_read_lists_and_store_strings():
    assert mx.taste_of("Animation|Children", ("Animation", "Thriller")) == "Animation"
    assert mx.taste_of(["Thriller", "Animation"], ("Animation", "Thriller")) == "both"
    assert mx.taste_of([], ("Animation", "Thriller")) == ""
    top = pd.DataFrame({"item_id": [5, 6], "title": ["A", "B"], "year": [2000, None],
                        "genres": ["Thriller|Drama", ["Drama"]], "score": [1.0, 0.5],
                        "interest": [1, 0]})
    frame = mx.list_frame(top, ("Animation", "Thriller"), {6})
    assert frame["movie"].tolist() == ["A (2000)", "B"]
    assert frame["genres"].tolist() == ["Thriller, Drama", "Drama"]
    assert frame["taste"].tolist() == ["Thriller", ""]
    assert frame["held out"].tolist() == ["", "yes"] and frame["interest"].tolist() == [1, 0]


# ---------------------------------------------------------------------------------------------
# Section 3: the table builder, on results whose hits are known


def result(label, hits, n_items=20):
    """40 users; user r finds its relevant item (7) at rank 1 when hits[r], else not at all."""
    ranked = np.array([[7, 8] if h else [8, 9] for h in hits])
    return EvaluationResult.score(label, np.arange(len(hits)), ranked,
                                  [np.array([7])] * len(hits), (1, 2), n_items)


@pytest.fixture
def grid():
    half = np.arange(40) < 20
    runs = [(2, "score", 0.5, result("k=2, score", np.ones(40, bool))),  # holds
            (3, "score", 0.5, result("k=3, score", np.zeros(40, bool))),  # does not hold
            (3, "round_robin", 0.5, result("k=3, round_robin",  # within the noise
                                           half ^ (np.arange(40) % 20 == 0)))]
    return mx.Grid(result("k=1", half), runs, {"k=1": 1.5, "k=2, score": 2.5})


METRICS = ("recall@2", "ndcg@1", "coverage@2")


def test_the_grid_table_pairs_every_configuration_with_one_interest(grid):
    table = mx.grid_table(grid, {2: (0.5, 1.5), 3: (0.5, 2.0)}, METRICS, tolerance=0.005)
    assert table["configuration"].tolist() == ["k=1", "k=2, score", "k=3, score",
                                               "k=3, round_robin"]
    assert table["k"].tolist() == [1, 2, 3, 3]
    assert table["share >1 interest"].tolist() == [0.0, 0.5, 0.5, 0.5]
    assert table["mean interests"].tolist() == [1.0, 1.5, 2.0, 2.0]
    assert table["verdict recall@2"].tolist()[1:] == ["holds", "does not hold",
                                                      "no measurable effect"]
    for k, (_, _, _, r) in enumerate(grid.runs, start=1):
        d = paired_difference(r, grid.one, "recall@2")
        assert table.loc[k, ["delta recall@2", "low recall@2", "high recall@2"]].tolist() == \
            pytest.approx([d.mean, d.low, d.high])
    assert pd.isna(table.loc[0, "delta recall@2"]) and table["seconds"].iloc[0] == 1.5
    shown = mx.shown(table, METRICS, ("recall@2", "ndcg@1"))
    assert shown["Δ recall@2 vs k=1 [95%]"].iloc[0] == "-"
    assert shown["Δ recall@2 vs k=1 [95%]"].iloc[1].startswith("+0.5000 [")
    assert shown["share >1 interest"].tolist() == ["0%", "50%", "50%", "50%"]
    md = mx.markdown(shown)
    assert md.splitlines()[0].startswith("| configuration | users |") and len(md.splitlines()) == 6


def test_the_record_and_the_summary_say_what_the_verdicts_say(grid):
    table = mx.grid_table(grid, {2: (0.5, 1.5), 3: (1.0, 2.0)}, METRICS, tolerance=0.005)
    rec = mx.grid_record(table, METRICS, ("recall@2", "ndcg@1"))
    assert set(rec["rows"]) == set(table["configuration"])
    assert rec["rows"]["k=1"]["merge"] is None and "delta recall@2" not in rec["rows"]["k=1"]
    assert rec["rows"]["k=2, score"]["delta recall@2"][0] == 0.5
    assert rec["verdict_counts recall@2"] == {"holds": 1, "does not hold": 1,
                                              "no measurable effect": 1}
    assert rec["best"] == "k=2, score" and rec["best_beats_one"] is True
    cfg = MultiInterestConfig(cutoffs=(1, 2))
    lines = mx.summary_lines({"temporal": rec}, cfg)
    text = "\n".join(lines)
    assert "recall@2: 'several interests beat one' holds for 1, does not hold for 1, no " \
           "measurable effect for 1 of 3 configurations (k=2, score)" in text
    assert "users with more than one interest: 50% to 100% across k > 1" in text
    assert "best recall@2: k=2, score (+0.5000 vs k=1, holds)" in text
    assert lines[-1].startswith("=> several interests beat one on recall@2 measurably only on "
                                "temporal")
    # both protocols winning is the only way to a recommendation to turn it on
    assert mx.summary_lines({"temporal": rec, "rolling": rec}, cfg)[-1].startswith(
        "=> several interests beat one on recall@2 measurably on both protocols")
    nothing = mx.grid_record(table.iloc[[0, 2, 3]].reset_index(drop=True), METRICS,
                             ("recall@2", "ndcg@1"))
    assert mx.summary_lines({"temporal": nothing}, cfg)[-1].startswith(
        "=> no configuration with several interests beat one")


# ---------------------------------------------------------------------------------------------
# On a small real slice: the product measured, counts replayed independently


#: a small slice has few users: 8-d collaborative vectors (the default's SVD part needs > 64)
SPACE = {"embedding": "collaborative", "dim": 8}


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    ds = load_movielens()
    small = subset_items(ds, ds.events["item_id"].value_counts().index[:400])
    sample = sample_users(small, 14, seed=2, min_events=40)
    split = temporal_split(sample, test_fraction=0.2)
    with Experiment(split, (5, 20), path=tmp_path_factory.mktemp("exp")) as exp:
        yield split, exp
    mx.close_services()


def _replayed_counts(exp: Experiment, k: int) -> list[int]:
    """Interests per scored user, by replaying the training events with the math alone."""
    vecs = exp.vectors(**SPACE)
    row = {int(i): r for r, i in enumerate(vecs.item_ids)}
    out = []
    train = exp.split.train
    for u in exp.split.relevant()[0]:
        h = train[train["user_id"] == u].sort_values("timestamp", kind="stable")
        kinds = h["kind"].to_numpy()
        params = [DEFAULT_PARAMS[EVENT_KINDS[kind].parameter] for kind in kinds]
        rows = vecs.vectors[[row[int(i)] for i in h["item_id"]]]
        out.append(mi.replay_user(rows, operations(kinds), params, k=k,
                                  threshold=mi.DEFAULT_THRESHOLD, fade=mi.DEFAULT_FADE).state.m)
    return out


def test_the_grid_on_a_real_slice(real):
    split, exp = real
    grid = mx.measure_grid(exp, [2, 1], ["score", "round_robin"], **SPACE)
    assert [(k, m) for k, m, _, _ in grid.runs] == [(2, "score"), (2, "round_robin")]
    assert exp.measure("again", **SPACE).ranked.tolist() == grid.one.ranked.tolist()
    assert set(grid.seconds) == {"k=1", "k=2, score", "k=2, round_robin"}
    for _, merge, diversity, r in grid.runs:
        assert r.label == f"k=2, {merge}" and diversity == mi.DEFAULT_DIVERSITY
        assert np.array_equal(r.users, grid.one.users)
        assert r["seen_recommended"] == 0
    counts = mx.interest_counts(exp, [1, 2, 3], **SPACE)
    for k in (2, 3):
        m = _replayed_counts(exp, k)
        assert counts[k] == pytest.approx((sum(x > 1 for x in m) / len(m), sum(m) / len(m)))
        assert all(1 <= x <= k for x in m)
    assert 0 < counts[2][0] == counts[3][0]  # the first far event: a second interest, any k
    assert counts[2][1] <= counts[3][1]
    assert mx.interest_share(exp, **SPACE) == counts[2][0]
    table = mx.grid_table(grid, counts, ("recall@20", "ndcg@5", "coverage@20"))
    assert len(table) == 3 and table["users"].nunique() == 1
    assert table["mean interests"].tolist() == [1.0, counts[2][1], counts[2][1]]
    only_share = mx.grid_table(grid, counts[2][0], ("recall@20", "ndcg@5", "coverage@20"))
    assert only_share["share >1 interest"].tolist() == [0.0, counts[2][0], counts[2][0]]
    shown = mx.shown(only_share, ("recall@20",), ("recall@20",))
    assert "mean interests" not in shown.columns and "mean interests" in mx.shown(
        table, ("recall@20",), ("recall@20",)).columns
    rows = mx.grid_record(only_share, ("recall@20",), ("recall@20",))["rows"]
    assert all("mean_interests" not in r for r in rows.values() if r["k"] > 1)
    assert table.loc[0, "recall@20"] == pytest.approx(grid.one["recall@20"])


def test_the_service_lists_interests_and_explanations_on_a_real_slice(real):
    split, exp = real
    pairs = mx.taste_pairs(split, exp.vectors(**SPACE), min_each=3)
    assert mx.pick_user(MultiInterestConfig(min_taste_events=3), split, pairs)["user_id"] == \
        pairs["user_id"].iloc[0]
    counts = {u: n for u, n in zip(exp.split.relevant()[0], _replayed_counts(exp, 3),
                                   strict=True)}
    pick = next(r for r in pairs.to_dict("records") if counts[r["user_id"]] > 1)
    user, tastes = int(pick["user_id"]), (pick["genre_a"], pick["genre_b"])
    held = mx.held_out(split, user)
    one, report = mx.open_service(exp, user, interests=1, **SPACE)
    assert report.users == 1 and report.events == int((split.train["user_id"] == user).sum())
    top_one = one.recommend(user, n=8)
    rec, _ = mx.open_service(exp, user, interests=3, **SPACE)
    assert one._closed and mx._SERVICES == [rec]  # the earlier service was closed
    top = rec.recommend(user, n=8)
    frame, stats = mx.side_by_side(top_one, top, tastes, held, 3)
    assert frame.shape[0] == 8 and stats["shared"] == len(set(top_one["item_id"])
                                                          & set(top["item_id"]))
    assert sum(stats["per_interest"].values()) == 8
    assert sum(stats["tastes_several"].values()) == 8
    state = rec.interests(user)
    assert state.m > 1
    table = mx.interest_table(rec, user, tastes)
    assert table["interest"].tolist() == list(range(state.m))
    assert table["weight"].tolist() == pytest.approx(state.weights.tolist())
    assert table["weight share"].sum() == pytest.approx(1.0)
    assert table["nearest history items"].sum() == int(
        (rec.history(user)["kind"] != "not_interested").sum())
    assert set(table["closer taste"]) <= set(tastes)
    labels = mx.interest_labels(table)
    assert set(labels) == set(range(state.m)) and all(v.split(" (")[0] in tastes
                                                      for v in labels.values())
    why = mx.explain_each(rec, user, top)
    assert set(why["interest"]) == set(top["interest"])
    assert why.groupby("recommended").size().max() <= 3
    mx.close_services()
    assert rec._closed and mx._SERVICES == []
