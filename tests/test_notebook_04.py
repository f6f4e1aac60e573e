"""Notebook 04 (not interested): a papermill run with non-default parameters, and the
"not interested" panel driven in-process against a real (small) Recommender: buttons, the factor
slider (applied live with set_params), overshoot, a closed service."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from nbrun import check_conventions, run_notebook
from papermill.exceptions import PapermillExecutionError

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.embeddings import embed_items
from recsys_nb.plots import plot_factor_sweep, plot_strategy_bars, plot_subtraction_curves
from recsys_nb.recommender import DEFAULT_EMBEDDING, Recommender, item_counts
from recsys_nb.report import read_recorded
from recsys_nb.widgets import NotInterestedPanel

matplotlib.use("Agg")

NOTEBOOK = "04_not_interested.ipynb"


def _after(cos: float, factor: float) -> float:
    """cos(normalize(v - f e), e) for unit v, e with cos(v, e) = cos (closed form)."""
    return (cos - factor) / math.sqrt(1 - 2 * factor * cos + factor**2)


# ---------------------------------------------------------------------------------------------
# The notebook itself


def test_notebook_source_follows_the_conventions():
    """Committed without outputs, one `parameters` cell of commented literals in the shared
    vocabulary (papermill's interface to the notebook)."""
    _, names = check_conventions(NOTEBOOK)
    assert names == ["N_USERS", "MIN_EVENTS", "TEST_FRACTION", "SEED", "USER", "FACTOR", "TOP_N",
                     "K", "TOLERANCE", "STORE_DIR"]


@pytest.mark.notebook
def test_notebook_stops_at_the_parameters_check(tmp_path):
    """An invalid parameter fails before any work, with the message of the config check."""
    with pytest.raises(PapermillExecutionError, match=r"K=20 must be a list of values"):
        run_notebook(NOTEBOOK, tmp_path, K=20, STORE_DIR=str(tmp_path / "store"))
    assert read_recorded(tmp_path / NOTEBOOK) == {}  # nothing measured or recorded
    assert not (tmp_path / "store").exists()


@pytest.mark.notebook
def test_notebook_run_with_other_parameters_records_checked_numbers(tmp_path):
    """30 other users, factor 0.2, K=[5, 20]: the math, the overshoot contract, the comparison."""
    n_users, factor, top_n, k, tolerance = 30, 0.2, 5, 20, 0.01
    rec = run_notebook(
        NOTEBOOK, tmp_path, N_USERS=n_users, SEED=5, FACTOR=factor, TOP_N=top_n, K=[5, k],
        MIN_EVENTS=25, TEST_FRACTION=0.25, TOLERANCE=tolerance, STORE_DIR=str(tmp_path / "store"),
    )
    assert rec["n_users"] == n_users
    assert rec["factor"] == factor
    assert rec["ingest_overshoots"] == 0  # factor <= 0.5 can never cancel a vector
    assert 0 < rec["train_not_interested"] < rec["n_train_events"]
    # the identity and closed forms, on real vectors
    assert rec["identity_norm_max_diff"] < 1e-5
    assert rec["identity_cos_max_diff"] < 1e-5
    assert rec["example_cos_after_at_factor"] == pytest.approx(
        _after(rec["example_cos_before"], factor), abs=2e-4)
    assert rec["example_kept_of_top_at_1"] <= top_n
    # overshoot: refused by vectors.subtract, handled by the service as documented
    assert rec["overshoot_error_raised"] is True
    assert rec["overshoot_error_norm"] < 1e-6
    assert rec["overshoot_error_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert rec["min_norm_at_half"] == pytest.approx(0.5, abs=1e-9)
    assert rec["service_event_factor"] == 1.0  # set live with set_params, recorded with the event
    assert rec["service_overshoot"] is True
    assert rec["service_warned"] is True
    assert rec["service_profile_changed"] is False
    assert rec["service_cos_interest_item"] == pytest.approx(1.0, abs=1e-6)
    assert rec["service_vector_kept_diff"] == 0.0
    assert rec["service_item_excluded"] is True
    # replaying by hand / in batch gives the service's vectors
    assert rec["replay_matches_service_max_diff"] < 1e-6
    assert rec["sweep_matches_service_max_diff"] < 1e-5
    assert 0 < rec["rejections_with_vector"] <= rec["train_not_interested"]
    assert 0.0 < rec["rejection_share_flipped"] < 1.0
    # the comparison: consistent numbers, whichever strategy wins
    for name in ["ema_subtract", "ema_only", "average_vector", "mean_positive", "service_hnsw"]:
        assert 0.0 <= rec[f"recall_{name}"] <= 1.0
    assert rec["recall_service_hnsw"] == pytest.approx(rec["recall_ema_subtract"], abs=0.03)
    sweep = dict(zip(rec["sweep_factors"], rec["sweep_recall"], strict=True))
    assert sorted(sweep) == [0.0, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]  # FACTOR joins the sweep
    assert sweep[0.0] == rec["recall_ema_only"]
    assert sweep[factor] == rec["recall_ema_subtract"]
    assert sweep[rec["sweep_best_factor"]] == max(sweep.values())
    mean, low, high = rec["recall_diff_ci"]
    assert low <= mean <= high
    assert mean == pytest.approx(rec["recall_ema_subtract"] - rec["recall_average_vector"],
                                 abs=2e-4)
    expected = ("ema+subtract recalls more" if mean > tolerance and low > 0 else
                "average_vector recalls more" if mean < -tolerance and high < 0 else
                "no significant difference in recall")
    assert rec["verdict"] == expected
    assert 0.0 <= rec["overlap_average_vector"] <= 1.0
    assert 0 <= rec["neg_users"] <= n_users
    # the panel, clicked inside the kernel: the same user, item and factor as section 2
    assert rec["widget_item_left"] is True
    assert rec["widget_list_length"] == top_n
    assert rec["widget_factor"] == factor
    assert rec["widget_cos_before"] == pytest.approx(rec["example_cos_before"], abs=1e-4)
    assert rec["widget_cos_after"] == pytest.approx(rec["example_cos_after_at_factor"], abs=1e-4)


# ---------------------------------------------------------------------------------------------
# The panel, in-process against a real Recommender (300 popular movies, 8 users)


@pytest.fixture
def service(tmp_path):
    """(rec, users): a fresh small store per test, since the panel changes the service's factor."""
    ds = load_movielens()
    small_ds = subset_items(ds, ds.events["item_id"].value_counts().index[:300])
    sample = sample_users(small_ds, 8, seed=2, min_events=15)
    item_vectors = embed_items(small_ds.items, small_ds.events, DEFAULT_EMBEDDING, progress=False)
    popularity = item_counts(small_ds.events)  # as from_dataset: the prior is on
    rec = Recommender(small_ds.items, item_vectors, tmp_path / "store", popularity,
                      prior_events=small_ds.events, not_interested_factor=0.3)
    rec.ingest(sample.events)
    yield rec, [int(u) for u in sample.users]
    rec.close()


def _text(output) -> str:
    return "\n".join(o["data"]["text/plain"] for o in output.outputs)


def test_clicking_not_interested_removes_the_item_and_logs_the_move(service):
    rec, users = service
    user = users[0]
    panel = NotInterestedPanel(rec, user, n=5)
    assert panel.listed == rec.recommend(user, n=5)["item_id"].tolist()
    assert set(panel.buttons) == set(panel.listed) and panel.output.outputs == ()
    item = panel.listed[0]
    c = float(rec.interest(user) @ rec.item_vector(item))
    n_events = len(rec.history(user))

    panel.buttons[item].click()

    assert item not in panel.listed and len(panel.listed) == 5
    assert panel.listed == rec.recommend(user, n=5)["item_id"].tolist()
    entry = panel.rejections[-1]
    assert entry["item_id"] == item and entry["factor"] == 0.3 and entry["overshoot"] is False
    assert entry["cos_before"] == pytest.approx(c, abs=1e-6)
    assert entry["cos_after"] == pytest.approx(_after(c, 0.3), abs=1e-5)
    assert entry["cos_after"] < entry["cos_before"]
    last = rec.history(user, last=1).iloc[0]
    assert len(rec.history(user)) == n_events + 1
    assert last["item_id"] == item and last["kind"] == "not_interested"
    assert last["params"] == {"factor": 0.3}
    assert entry["movie"].split(" (")[0] in _text(panel.output)


def test_slider_previews_and_sets_the_service_factor_live(service):
    rec, users = service
    user = users[1]
    panel = NotInterestedPanel(rec, user, n=5)
    preview = panel.preview.copy()
    v = rec.interest(user)
    assert rec.prior_weight > 0  # the list's score is cosine + prior; the preview shows cosines
    for row in preview.itertuples():
        c = float(v @ rec.item_vector(row.item_id))
        assert row.cos_before == pytest.approx(c, abs=1e-6)
        assert row.cos_after == pytest.approx(_after(c, 0.3), abs=1e-5)
        assert row.score == pytest.approx(
            c + rec.prior_weight * rec.item_prior()[rec.item_ids == row.item_id][0], abs=1e-5)
        assert f"cos {c:.3f} &rarr; {row.cos_after:.3f}" in panel.labels[row.item_id].value
    n_events = len(rec.history(user))

    panel.slider.value = 0.8

    assert rec.not_interested_factor == 0.8  # applied live (set_params), the same service
    assert len(rec.history(user)) == n_events  # nothing recorded until a click
    assert "service factor <b>0.8</b>" in panel.status.value
    moved = panel.preview
    assert (moved["cos_after"] < preview["cos_after"]).all()
    label = panel.labels[panel.listed[0]].value
    assert "factor 0.8" in label

    item = panel.listed[1]
    panel.buttons[item].click()

    assert panel.rejections[-1]["factor"] == 0.8
    assert rec.history(user, last=1).iloc[0]["params"] == {"factor": 0.8}
    assert item not in panel.listed
    assert "service factor <b>0.8</b>" in panel.status.value

    panel.slider.value = 0.3  # each event records its own factor
    panel.buttons[panel.listed[0]].click()
    assert [p["factor"] for p in rec.history(user, last=2)["params"]] == [0.8, 0.3]
    assert [r["factor"] for r in panel.rejections] == [0.8, 0.3]

    rec.set_params(not_interested_factor=0.5)  # changed elsewhere: the next refresh shows it
    panel.refresh()
    assert panel.slider.value == 0.5 and rec.not_interested_factor == 0.5
    assert "service factor <b>0.5</b>" in panel.status.value


def test_overshoot_through_the_panel_keeps_the_vector_and_says_so(service):
    rec, _ = service
    panel = NotInterestedPanel(rec, "fresh", n=5)
    assert "no interest vector yet" in panel.labels[panel.listed[0]].value  # popular items
    item = panel.listed[0]
    rec.view("fresh", item)  # cold start: the interest IS the item (the panel's list is stale)
    panel.slider.value = 1.0
    assert rec.not_interested_factor == 1.0
    assert panel.preview["overshoot"].tolist() == [True, False, False, False, False]
    assert "overshoot" in panel.labels[item].value
    before = rec.interest("fresh")
    np.testing.assert_allclose(before, rec.item_vector(item), atol=1e-6)
    panel.buttons[item].click()
    entry = panel.rejections[-1]
    assert entry["overshoot"] is True and "overshoot" in entry["message"]
    assert entry["factor"] == 1.0
    assert item not in panel.listed  # refreshed: the item now counts as seen
    # previous vector kept (the profile is read back from Chroma, whose cosine collections
    # round-trip float32 vectors within ~2 ulp)
    np.testing.assert_allclose(rec.interest("fresh"), before, rtol=0, atol=1e-7)
    assert entry["cos_before"] == pytest.approx(1.0) and entry["cos_after"] == pytest.approx(1.0)
    assert "True" in _text(panel.output)


def test_panel_on_a_closed_service_reports_instead_of_raising(service):
    rec, users = service
    panel = NotInterestedPanel(rec, users[2], n=3)
    item = panel.listed[0]
    rec.close()
    panel.buttons[item].click()
    assert "closed" in _text(panel.output)
    assert panel.rejections == []
    panel.slider.value = 0.5  # the preview needs the (closed) store: a message, no traceback
    assert "closed" in _text(panel.output)


def test_panel_slider_starts_at_the_service_factor_and_arguments_are_checked(service):
    rec, users = service
    panel = NotInterestedPanel(rec, users[0], n=3)
    assert not panel.slider.disabled and panel.slider.value == 0.3
    assert "service factor <b>0.3</b>" in panel.status.value
    with pytest.raises(ValueError, match="n=0"):
        NotInterestedPanel(rec, users[0], n=0)
    with pytest.raises(ValueError, match="max_factor"):
        NotInterestedPanel(rec, users[0], max_factor=0.2)


def test_plots_for_notebook_04():
    f = np.linspace(0, 2, 5)
    axes = plot_subtraction_curves(f, {"0.5": f * 0}, {"0.5": f + 1})
    assert len(axes[0].get_lines()) >= 1
    with pytest.raises(ValueError, match="same curves"):
        plot_subtraction_curves(f, {"a": f}, {"b": f})
    sweep = pd.DataFrame({"factor": [0.0, 0.3], "recall@50": [0.1, 0.2]})
    ax = plot_factor_sweep(sweep, ["recall@50"], mark=0.3)
    assert list(ax.get_lines()[0].get_ydata()) == [0.1, 0.2]
    with pytest.raises(ValueError, match="lacks columns"):
        plot_factor_sweep(sweep, ["ndcg@50"])
    table = pd.DataFrame({"strategy": ["a", "b"], "m": [0.1, 0.2]})
    ax = plot_strategy_bars(table, ["m"])
    assert [p.get_height() for p in ax.patches] == [0.1, 0.2]
