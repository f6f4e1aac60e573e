"""Notebook 08 (high-dimensional intuition): a papermill run with non-default parameters checked
against independent recomputations (numpy on the same vectors and histories); a bad parameter
failing at the check cell; the CancellationExplorer widget driven in-process, from other threads
too, with its errors shown in the widget; the lesson's plots. (The lesson module itself is tested
in test_lessons_high_dimensions.py.)"""

from __future__ import annotations

import threading

import matplotlib
import numpy as np
import pytest
from nbrun import NOTEBOOKS, check_conventions, run_notebook

from recsys_nb.data import load_movielens
from recsys_nb.embeddings import embed_items
from recsys_nb.evaluate import CLAIM_WORDS, Difference, verdict
from recsys_nb.item_space import random_pair_similarities
from recsys_nb.lessons import high_dimensions as hd
from recsys_nb.lessons import high_dimensions_plots as hdp
from recsys_nb.recommender import DEFAULT_DIM
from recsys_nb.replay import replay_batch
from recsys_nb.report import read_recorded
from recsys_nb.store import embedding_cache_path
from recsys_nb.widgets import CancellationExplorer

matplotlib.use("Agg")

NOTEBOOK = "08_high_dimensional_intuition.ipynb"


def test_notebook_follows_the_conventions():
    """Committed without outputs, one `parameters` cell of commented literals."""
    _, names = check_conventions(NOTEBOOK)
    assert {"DIMS", "ALPHAS", "FACTORS", "NEAR_ZERO", "N_USERS", "TOP_N", "SEED"} <= set(names)


def _direct_rates(ds, vectors, users, top_n, factor_or_alpha, operation, near_zero, seed):
    """Cancelled / flipped shares recomputed with plain numpy on the original vectors."""
    h = hd.sample_histories(ds, len(users), top_n, seed)
    assert h.users.tolist() == users
    x = vectors.astype(np.float64)
    v = replay_batch(h.groups, h.rows, h.ops, h.params, item_matrix=vectors,
                     on_overshoot="skip", cold_subtract="ignore").vectors.astype(np.float64)

    def top(q, seen):
        s = x @ q
        s[seen] = -np.inf
        return np.argsort(-s, kind="stable")[:top_n]

    cancelled, flipped = [], []
    for u in range(len(users)):
        before = top(v[u], h.seen[u])
        e = x[h.view_rows[u]] if operation == "ema" else x[before[h.top_rank[u]]]
        raw = (1 - factor_or_alpha) * v[u] + factor_or_alpha * e if operation == "ema" \
            else v[u] - factor_or_alpha * e
        norm = np.linalg.norm(raw)
        cancelled.append(norm < near_zero)
        after = top(raw / norm, h.seen[u]) if norm > 1e-5 else np.array([], int)
        flipped.append(len(set(before) & set(after)) / top_n < 0.5)
    return float(np.mean(cancelled)), float(np.mean(flipped))


@pytest.mark.notebook
def test_notebook_run_with_other_parameters_records_consistent_numbers(tmp_path):
    params = {"DIMS": [2, 16, 128, 384], "ALPHAS": [0.45], "FACTORS": [0.1, 1.0],
              "NEAR_ZERO": 0.2, "N_USERS": 25, "N_PAIRS": 3000, "N_ITEMS": 60,
              "N_RANDOM_ITEMS": 3000, "TOP_N": 8, "N_RESAMPLES": 300, "TOLERANCE": 0.02,
              "SEED": 4}
    rec = run_notebook(NOTEBOOK, tmp_path, **params)
    ds = load_movielens()
    assert rec["dims"] == [2, 16, 128, 384] and rec["n_users"] == 25
    assert rec["minilm_dim"] == 384 and rec["learned_dim"] == 2 * DEFAULT_DIM
    assert rec["learned_model"].startswith("blend-")

    # a: random pairs, recomputed; the documented skip
    for d in (2, 16, 128, 384):
        c = random_pair_similarities(hd.random_unit_vectors(3000, d, 4 + d), 3000, 4)
        row = rec["pairs"]["random"][str(d)]
        assert row["std"] == pytest.approx(c.std(), abs=1e-4)
        assert row["q95"] == pytest.approx(np.quantile(c, 0.95), abs=1e-4)
        assert row["std"] == pytest.approx(d ** -0.5, rel=0.1)
    assert rec["pairs"]["learned"]["384"].startswith("skipped: the learned vectors have 128")
    assert rec["rates"]["learned"]["384"]["subtract factor=1"].startswith("skipped: ")

    # b: the MiniLM original space's rates, recomputed with numpy; the floors hold everywhere
    minilm = embed_items(ds.items, ds.events, "minilm", cache_path=embedding_cache_path(),
                         progress=False).vectors
    for label, op, w in (("subtract factor=1", "subtract", 1.0),
                         ("EMA alpha=0.45 (favorite)", "ema", 0.45)):
        cancelled, flipped = _direct_rates(ds, minilm, rec["users"], 8, w, op, 0.2, 4)
        row = rec["rates"]["minilm"]["384 (original)"][label]
        assert (row["cancelled"], row["flipped"]) == (pytest.approx(cancelled, abs=1e-4),
                                                      pytest.approx(flipped, abs=1e-4))
    for space, rows in rec["rates"].items():
        for dim, updates in rows.items():
            for label, row in updates.items():
                if isinstance(row, str):
                    continue
                assert row["min norm"] >= row["norm floor"] - 1e-4, (space, dim, label)
                assert 0 <= row["cancelled"] <= 1 and 0 <= row["flipped"] <= 1
    # factor 0.1 can never cancel (floor 0.9); factor 1 cancels most lists in 2-D
    assert rec["rates"]["minilm"]["2"]["subtract factor=0.1 (not interested)"]["cancelled"] == 0
    assert rec["rates"]["minilm"]["2"]["subtract factor=1"]["cancelled"] > 0.5

    # c, d: neighbours and variance against a direct SVD
    assert rec["neighbours"]["minilm"]["384 (original)"]["neighbours kept"] == 1.0
    assert 0 <= rec["neighbours"]["minilm"]["2 (picture)"]["neighbours kept"] < 0.5
    centred = minilm.astype(np.float64) - minilm.mean(0)
    s2 = np.linalg.svd(centred, compute_uv=False) ** 2
    cum = np.cumsum(s2) / s2.sum()
    var = rec["variance"]["minilm"]
    assert var["first 2 components"] == pytest.approx(cum[1], abs=1e-4)
    assert var["components for 50 %"] == int(np.searchsorted(cum, 0.5) + 1)
    assert var["components for 90 %"] == int(np.searchsorted(cum, 0.9) + 1)
    assert rec["neighbours"]["minilm"]["2"]["variance kept"] == pytest.approx(cum[1], abs=1e-4)

    # verdicts: the stated rule on the recorded numbers
    assert {r["claim"] for r in rec["verdicts"]} == {hd.CLAIM_CANCEL, hd.CLAIM_PROJECTION}
    for r in rec["verdicts"]:
        words = CLAIM_WORDS if "neighbours kept" not in r["measure"] else (
            CLAIM_WORDS[1], CLAIM_WORDS[0], CLAIM_WORDS[2])
        assert r["ci_low"] <= r["diff"] <= r["ci_high"]
        assert r["verdict"] == verdict(Difference("m", r["diff"], r["ci_low"], r["ci_high"],
                                                  r["n"]), 0.02, words)
    cancel_1 = [r for r in rec["verdicts"] if r["measure"] == "cancelled, subtract factor=1"]
    assert len(cancel_1) == 3 and all(r["verdict"] == "holds" for r in cancel_1)
    assert rec["widget_error"] is None and rec["widget_cancelled"] == 0.0


@pytest.mark.notebook
def test_bad_parameters_fail_at_the_check_cell(tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = tmp_path / NOTEBOOK
    with pytest.raises(PapermillExecutionError) as err:
        papermill.execute_notebook(
            str(NOTEBOOKS / NOTEBOOK), str(out), cwd=str(NOTEBOOKS), kernel_name="python3",
            progress_bar=False, parameters={"DIMS": [1, 2, 512], "FACTORS": [-0.5],
                                            "ALPHAS": [1.2]})
    assert err.value.ename == "ValueError"
    assert "invalid parameters: " in err.value.evalue
    assert "DIMS values [1, 512] are out of range" in err.value.evalue
    assert "FACTORS values [-0.5] are out of range" in err.value.evalue
    assert "ALPHAS values [1.2] are out of range" in err.value.evalue
    assert read_recorded(out) == {}


# ---------------------------------------------------------------------------------------------
# The widget, in-process, on a small real lab


@pytest.fixture(scope="module")
def lab():
    ds = load_movielens()
    cache = embedding_cache_path()
    minilm = embed_items(ds.items, ds.events, "minilm", cache_path=cache, progress=False)
    cfg = hd.HighDimConfig.from_parameters(
        DIMS=[2, 32], ALPHAS=[0.25], FACTORS=[0.1], NEAR_ZERO=0.1, N_USERS=12, N_PAIRS=500,
        N_ITEMS=20, N_RANDOM_ITEMS=500, TOP_N=10, N_RESAMPLES=100, TOLERANCE=0.01, SEED=1)
    return hd.Lab(cfg, {"minilm": minilm.vectors}, hd.sample_histories(ds, 12, 10, 1)), ds


def test_sliders_change_the_rates_and_the_example(lab):
    lab, ds = lab
    titles = ds.items["title"].tolist()
    w = CancellationExplorer(lab, "minilm", titles=titles)
    assert w.error is None and w.renders == 1
    assert [k for k, _ in w.dimension.options] == ["2", "32", "384 (original)"]
    assert w.cancelled_rate == 0.0  # factor 0.1: floor 0.9
    assert "d=<b>2</b>" in w.status.value and "factor=<b>0.1</b>" in w.status.value
    first = w.output.outputs[0]["data"]["text/plain"]
    w.factor.value = 1.0
    assert w.renders == 2 and w.cancelled_rate > 0.5  # 2-D: the top items are v itself
    assert w.output.outputs[0]["data"]["text/plain"] != first
    example = dict(zip(w.example["what"], w.example["value"], strict=True))
    assert example["item rejected (from the user's top list)"] in titles
    assert float(example["norm of v - factor*e before normalizing"]) == pytest.approx(
        w.outcome.norm.min(), abs=1e-4)
    w.dimension.value = 2  # the original 384-d vectors
    assert w.cancelled_rate == 0.0 and "384 (original)" in w.status.value
    expected = lab.outcome(lab.measured("minilm")[2], hd.Update("subtract", 1.0))
    assert w.flipped_rate == pytest.approx(expected.flipped.mean())
    assert "image/png" in w.figure.outputs[0]["data"]
    assert "Static snapshot" in w._repr_mimebundle_()["text/html"]


def test_sliders_work_from_other_threads(lab):
    lab, _ = lab
    w = CancellationExplorer(lab, "minilm")
    errors: list[BaseException] = []

    def move(dim: int, factor: float) -> None:
        try:
            w.dimension.value = dim
            w.factor.value = factor
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(1, 0.5)),
               threading.Thread(target=move, args=(0, 1.5))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and w.error is None
    w.refresh()  # whatever order they ran in, the shown rates are those of the final sliders
    variant = lab.measured("minilm")[w.dimension.value]
    o = lab.outcome(variant, hd.Update("subtract", w.factor_value))
    assert w.cancelled_rate == pytest.approx(o.cancelled.mean())


def test_errors_are_shown_in_the_widget(lab, monkeypatch):
    lab, _ = lab
    with pytest.raises(ValueError, match="space='text' is not in the lab"):
        CancellationExplorer(lab, "text")
    with pytest.raises(ValueError, match="factor=3 must be a number in"):
        CancellationExplorer(lab, "minilm", factor=3)
    w = CancellationExplorer(lab, "random")
    assert w.error is None and "random item" in w.output.outputs[0]["data"]["text/plain"]

    def broken(*_args, **_kwargs):
        raise RuntimeError("the lab is gone")

    monkeypatch.setattr(lab, "outcome", broken)
    w.factor.value = 0.3  # shown, not raised
    assert w.error == "RuntimeError: the lab is gone"
    assert "re-run the notebook" in w.output.outputs[0]["data"]["text/plain"]


def test_plots_for_notebook_08(lab):
    lab, _ = lab
    pairs, rates = hd.pair_table(lab), hd.update_table(lab)
    ax = hdp.plot_pair_cosines(pairs)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["random", "minilm", "±1.645/sqrt(d)"]
    ax = hdp.plot_rates_by_dimension(rates, "subtract factor=0.1 (not interested)", "flipped")
    assert list(ax.get_lines()[0].get_xdata()) == [2.0, 32.0]
    with pytest.raises(ValueError, match="is not in the table"):
        hdp.plot_rates_by_dimension(rates, "subtract factor=9", "flipped")
    ax = hdp.plot_explained_variance({"minilm": lab.principal["minilm"].explained})
    assert ax.get_lines()[0].get_ydata()[-1] == pytest.approx(1.0)
    ax = hdp.plot_neighbours_kept(hd.neighbour_table(lab))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["minilm"]
