"""Notebook 10 (several interests per user): a papermill run with non-default parameters checked
against the rules that made its numbers and against independent measurements; a bad parameter
failing at the check cell; the InterestMixer widget driven in-process against a real (small)
Recommender, from another thread too; the plots. (The lesson module's checks, rule and tables
are tested in test_lessons_multiple_interests.py; the multi-interest math in test_interests.py
and test_recommender_interests.py.)"""

from __future__ import annotations

import threading

import matplotlib
import numpy as np
import pandas as pd
import pytest
from nbrun import NOTEBOOKS, check_conventions, run_notebook

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.embeddings import embed_items
from recsys_nb.evaluate import Difference, temporal_split, verdict
from recsys_nb.experiment import Experiment
from recsys_nb.lessons.multiple_interests import WORDS, label
from recsys_nb.plots import plot_items_per_interest, plot_metric_by_k, plot_two_tastes_2d
from recsys_nb.recommender import DEFAULT_DIM, Recommender, item_counts
from recsys_nb.report import read_recorded
from recsys_nb.widgets import InterestMixer

matplotlib.use("Agg")

NOTEBOOK = "10_multiple_interests.ipynb"


# ---------------------------------------------------------------------------------------------
# The notebook itself


def test_notebook_follows_the_conventions():
    """Committed without outputs, one `parameters` cell of commented literals."""
    _, names = check_conventions(NOTEBOOK)
    assert {"N_USERS", "K", "KS", "MERGES", "DIVERSITY", "USER", "TOP_N", "SEED",
            "STORE_DIR"} <= set(names)


def _check_protocol(rows: dict, ks: list[int], merges: list[str], diversity: float,
                    metrics: tuple[str, ...], paired: tuple[str, str], tolerance: float) -> None:
    """Every row of one protocol's recorded table is in range and its verdict follows the rule."""
    expected = {"k=1"} | {label(k, m, diversity) for k in ks if k > 1 for m in merges}
    assert set(rows) == expected  # the table's shape: k = 1 and every k > 1 x merge
    one = rows["k=1"]
    assert one["merge"] is None and one["share_multi"] == 0
    users = {r["users"] for r in rows.values()}
    assert len(users) == 1  # every configuration on the same users (or pairs)
    n = users.pop()
    shares = set()
    for name, r in rows.items():
        assert all(0.0 <= r[m] <= 1.0 for m in metrics), name
        if r["k"] == 1:
            continue
        assert "mean_interests" not in r and 0.0 <= r["share_multi"] <= 1.0  # share only
        shares.add(r["share_multi"])
        for m in paired:
            mean, low, high = r[f"delta {m}"]
            assert low <= mean <= high
            # same users on both sides: the mean paired difference is the difference of means
            assert mean == pytest.approx(r[m] - one[m], abs=2e-4)
            assert r[f"verdict {m}"] == verdict(Difference(m, mean, low, high, n), tolerance,
                                                WORDS)
    assert len(shares) <= 1  # one share for every k > 1 (mx.interest_share)


@pytest.mark.notebook
def test_notebook_run_with_other_parameters_records_consistent_numbers(tmp_path):
    """30 other users, K 5/20, k 1/3 with the score merge only, one rolling cut-off: every
    number checked for range and consistency, the k = 1 rows against independent measurements
    of the package default."""
    ks, merges = [1, 3], ["score"]
    params = {"N_USERS": 30, "SEED": 3, "K": [5, 20], "KS": ks, "MERGES": merges,
              "TEST_FRACTION": 0.25, "TOP_N": 6, "ROLLING_START": "2016-01-01",
              "ROLLING_MONTHS": 12, "MIN_TASTE_EVENTS": 8, "DIVERSITY": 0.7,
              "STORE_DIR": str(tmp_path / "store")}
    rec = run_notebook(NOTEBOOK, tmp_path, **params)
    metrics, paired = ("recall@20", "ndcg@5", "coverage@20"), ("recall@20", "ndcg@5")

    # parameters honoured
    assert rec["n_users"] == rec["n_scored"] == 30 == len(rec["eval_users"])
    assert rec["k"] == [5, 20] and rec["ks"] == ks and rec["merges"] == merges
    assert rec["diversity"] == 0.7 and rec["rolling_cutoffs"] == ["2016-01-01"]
    assert rec["dim"] == 2 * DEFAULT_DIM and rec["model_id"].startswith("blend-")

    # section 1: the mean of two tastes is near neither
    toy_mean, toy_own = rec["toy_cos_mean_to_centres"], rec["toy_median_cos_own_centre"]
    assert all(m < o for m, o in zip(toy_mean, toy_own, strict=True))
    assert rec["toy_interests"] == 2 and min(rec["toy_cos_interests_to_centres"]) > 0.95
    assert rec["genre_genres"] == ["Horror", "Children"]
    assert sum(rec["genre_mean_top"]) == rec["genre_top_n"]
    assert rec["genre_cos_mean_to_centroids"][0] == pytest.approx(
        rec["genre_cos_mean_to_centroids"][1], abs=1e-6)  # the mean of two unit vectors

    # section 2: the user follows the rule
    assert rec["n_far_users"] <= rec["n_two_taste_users"]
    assert min(rec["user_taste_events"]) >= 8 and rec["user_far"] is (
        rec["user_cos_tastes"] < 0.25)
    assert rec["user_balance"] == pytest.approx(min(rec["user_taste_events"])
                                                / rec["user_events"], abs=1e-4)
    assert sum(rec["lists_per_interest"].values()) == 6
    assert sum(rec["lists_tastes_one"].values()) == sum(rec["lists_tastes_several"].values()) \
        == 6
    assert 0 <= rec["lists_shared"] <= 6
    assert rec["user_interests"] == len(rec["user_weights"]) == len(rec["user_counts"]) <= 2
    assert set(rec["explained_interests"]) == {int(i) for i in rec["lists_per_interest"]}

    # section 3: both tables, verdicts by the stated rule
    for protocol in ("temporal", "rolling"):
        _check_protocol(rec[protocol]["rows"], ks, merges, 0.7, metrics, paired,
                        rec["tolerance"])
    assert "k=3, score, diversity=0.7" in rec["temporal"]["rows"]
    assert rec["temporal"]["rows"]["k=1"]["users"] == 30
    assert rec["rolling"]["rows"]["k=1"]["users"] == rec["n_rolling_pairs"]

    # section 4: the widget shows the service's own list, no error
    assert rec["widget_error"] is None and rec["widget_same_as_service"] is True
    assert sum(rec["widget_counts"]) == 6 and rec["widget_diversity"] == 0.7

    # the k = 1 row equals an independent measurement of the package default: a new split,
    # sample and Experiment, on the notebook's store (its items are indexed: no second build)
    split = temporal_split(load_movielens(), test_fraction=0.25, min_events=5)
    users = split.sample(30, seed=3)
    assert users.tolist() == rec["eval_users"]
    exp = Experiment(split.restrict(users), (5, 20), path=tmp_path / "store")
    one = exp.measure()
    row = rec["temporal"]["rows"]["k=1"]
    for m in metrics:
        assert one[m] == pytest.approx(row[m], abs=1e-4), m
    assert len(one.users) == row["users"]


@pytest.mark.notebook
def test_bad_parameters_fail_at_the_check_cell(tmp_path):
    """The notebook stops at its parameter check, before any data is loaded or recorded, with
    the lesson module's message naming each bad parameter."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = tmp_path / NOTEBOOK
    with pytest.raises(PapermillExecutionError) as err:
        papermill.execute_notebook(
            str(NOTEBOOKS / NOTEBOOK), str(out), cwd=str(NOTEBOOKS), kernel_name="python3",
            progress_bar=False, parameters={"KS": [0, 2], "MERGES": ["best"],
                                            "GENRES": ["Horror"],
                                            "STORE_DIR": str(tmp_path / "store")})
    assert err.value.ename == "ValueError"
    assert "invalid parameters: " in err.value.evalue
    assert "KS values [0] are out of range" in err.value.evalue
    assert "MERGES values ['best'] are out of range" in err.value.evalue
    assert "GENRES=['Horror'] must name exactly two genres" in err.value.evalue
    assert read_recorded(out) == {}  # nothing measured or recorded
    assert not (tmp_path / "store").exists()  # no store opened


# ---------------------------------------------------------------------------------------------
# The widget, in-process against a real Recommender (400 popular movies, 8 users, k = 3)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """(rec, user) on a small real store with three interests per user; the user is the one
    with the most interests. Closed after the module's tests."""
    ds = load_movielens()
    small = subset_items(ds, ds.events["item_id"].value_counts().index[:400])
    sample = sample_users(small, 8, seed=5, min_events=40)
    vecs = embed_items(small.items, small.events, "collaborative", dim=16, progress=False)
    rec = Recommender(small.items, vecs, tmp_path_factory.mktemp("store"),
                      item_counts(small.events), prior_events=small.events, interests=3)
    rec.ingest(sample.events)
    user = max(sample.users, key=lambda u: rec.interests(int(u)).m)
    assert rec.interests(int(user)).m > 1
    yield rec, int(user)
    rec.close()


def _reset(rec):
    rec.set_params(merge="round_robin", diversity=0.5)


def test_the_mixer_shows_the_services_list_and_its_places(service):
    rec, user = service
    _reset(rec)
    w = InterestMixer(rec, user, n=8, labels={0: "first"}, held=[-1])
    assert w.error is None and w.renders == 1
    assert (w.merge.value, w.diversity_value) == ("round_robin", 0.5)
    top = rec.recommend(user, n=8)
    assert w.top["item_id"].tolist() == top["item_id"].tolist()
    assert w.table["interest"].tolist() == top["interest"].tolist()
    assert w.counts.sum() == 8 and len(w.counts) == rec.interests(user).m
    np.testing.assert_array_equal(w.counts, np.bincount(top["interest"], minlength=len(w.counts)))
    assert w.table["held out"].eq("").all()
    text = w.bars.outputs[0]["data"]["text/plain"]
    assert text.startswith("items per interest: interest 0: first ")
    assert "image/png" in w.bars.outputs[0]["data"]
    assert "merge=<b>round_robin</b>" in w.status.value
    bundle = w._repr_mimebundle_()
    assert "Static snapshot" in bundle["text/html"] and "diversity" in bundle["text/html"]


def test_moving_the_knobs_changes_the_service_and_the_list(service):
    rec, user = service
    _reset(rec)
    w = InterestMixer(rec, user, n=10)
    state = rec.interests(user)
    weak = int(np.argmin(state.weights))
    w.diversity.value = 0.0  # shares by weight: the weakest interest gets the least room
    low = w.counts[weak]
    assert rec.diversity == 0.0 and w.renders == 2
    w.diversity.value = 1.0  # equal shares
    assert rec.diversity == 1.0 and w.counts[weak] >= low
    assert w.top["item_id"].tolist() == rec.recommend(user, n=10)["item_id"].tolist()
    w.merge.value = "score"
    assert rec.merge == "score" and w.renders == 4 and w.error is None
    assert w.top["item_id"].tolist() == rec.recommend(user, n=10)["item_id"].tolist()
    assert w.top["score"].is_monotonic_decreasing  # the score merge ranks by its score
    assert "merge=<b>score</b>" in w.status.value
    _reset(rec)


def test_the_knobs_work_from_other_threads(service):
    """In JupyterLab 4 / ipykernel 7 widget callbacks run on another thread than the one that
    built the service; two may be in flight at once."""
    rec, user = service
    _reset(rec)
    w = InterestMixer(rec, user, n=6)
    errors: list[BaseException] = []

    def move(value: float, merge: str) -> None:
        try:
            w.diversity.value = value
            w.merge.value = merge
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(0.2, "score")),
               threading.Thread(target=move, args=(0.9, "round_robin"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and w.error is None
    # whatever order they ran in, the widget shows the list of the service's final setting
    assert (rec.merge, rec.diversity) == (w.merge.value, w.diversity_value)
    assert w.top["item_id"].tolist() == rec.recommend(user, n=6)["item_id"].tolist()
    _reset(rec)


def test_the_mixer_rejects_bad_input_and_survives_a_closed_service(tmp_path, service):
    rec, user = service
    with pytest.raises(ValueError, match="n=0"):
        InterestMixer(rec, user, n=0)
    with pytest.raises(KeyError, match="no interest vector yet"):
        InterestMixer(rec, "nobody")
    ds = load_movielens()
    small = subset_items(ds, ds.events["item_id"].value_counts().index[:100])
    vecs = embed_items(small.items, small.events, "collaborative", dim=4, progress=False)
    single = Recommender(small.items, vecs, tmp_path / "one", [])
    with pytest.raises(ValueError, match="interests=2 or more"):
        InterestMixer(single, 1)
    single.close()
    multi = Recommender(small.items, vecs, tmp_path / "multi", [], interests=2)
    multi.ingest(small.events[small.events["user_id"] == small.users[0]])
    w = InterestMixer(multi, int(small.users[0]), n=3)
    multi.close()
    w.diversity.value = 0.1  # shown in the widget, not raised
    assert w.error is not None and "closed" in w.error.lower()
    assert "re-run the notebook" in w.output.outputs[0]["data"]["text/plain"]


# ---------------------------------------------------------------------------------------------
# The plots


def test_plots_for_notebook_10():
    a = np.array([[1.0, 0.0], [0.9, 0.1]])
    b = np.array([[0.0, 1.0], [-0.1, 0.9]])
    ax = plot_two_tastes_2d(a, b, mean=np.array([0.7, 0.7]), interests=np.eye(2))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["taste A items", "taste B items", "mean of all: one interest",
                      "several interests (k=2)"]
    with pytest.raises(ValueError, match="2-D"):
        plot_two_tastes_2d(np.ones((2, 3)), b)
    table = pd.DataFrame({"k": [1, 2, 2, 5, 5], "merge": [None, "score", "round_robin", "score",
                                                          "round_robin"],
                          "recall@50": [0.2, 0.21, 0.19, 0.22, 0.18]})
    ax = plot_metric_by_k(table, "recall@50")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["score"].get_xdata()) == [1, 2, 5]
    assert list(lines["round_robin"].get_ydata()) == [0.2, 0.19, 0.18]
    assert "one interest (k=1)" in lines
    with pytest.raises(ValueError, match="lacks columns"):
        plot_metric_by_k(table, "ndcg@10")
    ax = plot_items_per_interest([1, 7], [1.0, 3.0], ["a", "b"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.texts] == ["1 item (weight 25%)", "7 items (weight 75%)"]
    with pytest.raises(ValueError, match="one value per interest"):
        plot_items_per_interest([1, 2], [1.0])
