"""The playground app (recsys_nb.widgets.playground), driven in-process: components, actions,
bad input.

The browser tests (tests/browser) click the same app in JupyterLab and Voila; these tests pin the
behaviour behind each click, including clicks that arrive on another thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from recsys_nb.data import load_movielens, sample_users, subset_items
from recsys_nb.recommender import DEFAULT_PARAMS, Recommender
from recsys_nb.store import StoreLock
from recsys_nb.widgets import (
    Playground,
    SearchBox,
    open_playground,
    reason_text,
    title_matches,
)


@pytest.fixture(scope="module")
def small():
    ds = sample_users(load_movielens(), 40, seed=3, min_events=20)
    return subset_items(ds, ds.events["item_id"].value_counts().index[:700])


@pytest.fixture
def app(small, tmp_path):
    rec = Recommender.from_dataset(small, tmp_path / "store", embedding="collaborative", dim=16,
                                   progress=False)
    playground = Playground(rec, small, user="alice", n=5, clone_choices=5)
    yield playground
    rec.close()


def test_a_fresh_user_gets_popular_movies_then_a_moving_interest(app):
    assert app.top["source"].eq("popular").all()
    first = list(app.recommendations.item_ids)
    app.act(first[0], "watch")
    assert app.top["source"].eq("interest").all()
    assert first[0] not in app.recommendations.item_ids
    assert "because you watched" in app.recommendations.cards[0].reason.value
    lists = [list(app.recommendations.item_ids)]
    for action in ["watch", "favorite", "not interested"]:
        app.act(app.recommendations.item_ids[0], action)
        lists.append(list(app.recommendations.item_ids))
    assert all(a != b for a, b in zip(lists, lists[1:], strict=False))
    kinds = app.rec.history("alice")["kind"].tolist()
    assert kinds == ["view", "view", "favorite", "not_interested"]  # each click once
    assert app.message.value == ""


def test_undo_and_reset(app):
    app.act(app.recommendations.item_ids[0], "watch")
    app.act(app.recommendations.item_ids[0], "favorite")
    before = app.rec.interest("alice")
    rejected = app.recommendations.item_ids[0]
    app.act(rejected, "not interested")
    app.undo()
    np.testing.assert_allclose(app.rec.interest("alice"), before, atol=1e-6)
    assert len(app.rec.history("alice")) == 2
    app.sliders.sliders["alpha_view"].value = 0.8
    assert app.rec.alpha_view == 0.8
    app.reset()
    assert app.user != "alice" and str(app.user).startswith("guest-")
    assert app.rec.alpha_view == DEFAULT_PARAMS["alpha_view"]
    assert app.top["source"].eq("popular").all()
    assert len(app.rec.history("alice")) == 2  # earlier users stay in the store


def test_sliders_apply_to_the_next_event(app):
    app.act(app.recommendations.item_ids[0], "watch")
    app.sliders.sliders["alpha_view"].value = 0.9
    item = app.recommendations.item_ids[0]
    app.act(item, "watch")
    assert app.rec.history("alice")["params"].iloc[-1] == {"alpha": 0.9}
    app.sliders.sliders["popularity_weight"].value = 0.0
    assert app.rec.prior_weight == 0.0
    assert "popularity_weight = 0.00" in app.status.value


def test_predicted_mode_and_the_picture(app):
    for _ in range(5):
        app.act(app.recommendations.item_ids[0], "watch")
    app.mode.value = "predicted"
    assert app.top["source"].eq("predicted").all()
    png = app.picture.output.outputs[0]["data"]["image/png"]
    assert len(png) > 1000
    history, trail = app.rec.interest_trail("alice")
    np.testing.assert_allclose(trail[-1], app.rec.interest("alice"), atol=1e-6)


def test_user_picker_continue_clone_and_unknown(app, small):
    app.act(app.recommendations.item_ids[0], "watch")
    app.new_user()
    guest = app.user
    app.picker.text.value = "alice"  # continue where alice left off
    assert app.user == "alice" and len(app.rec.history("alice")) == 1
    app.picker.text.value = "nobody-here"
    assert "no user 'nobody-here'" in app.message.value and "new user" in app.message.value
    assert app.user == "alice"
    ml_user = int(app.picker.clones.options[0][1])
    app.clone(ml_user)
    n_events = int((small.events["user_id"] == ml_user).sum())
    assert app.user == f"ml-{ml_user}" and len(app.rec.history(app.user)) == n_events
    app.clone(ml_user)  # again: the same clone, not a second copy
    assert len(app.rec.history(app.user)) == n_events
    assert guest != app.user


def test_search_titles_and_no_matches(app, small):
    title = small.items["title"].iloc[0]
    hits = app.search.run(title)
    assert int(small.items["item_id"].iloc[0]) in hits["item_id"].tolist()
    assert app.search.run("")["item_id"].tolist() == []
    assert "type a title" in app.search.status.value
    assert app.search.run("zzqx no such film").empty
    assert "no matches" in app.search.status.value
    app.search.run(title)
    item = app.search.results.cards[0].item_id
    app.search.results.cards[0].buttons["watch"].click()
    assert app.rec.history("alice")["item_id"].tolist() == [int(item)]


def test_search_by_meaning_when_no_title_matches(small):
    def meaning(query, n):
        return small.items.head(n).assign(similarity=0.5)

    box = SearchBox(small.items, lambda i, a: None, search=meaning, n=3)
    hits = box.run("robots in space")
    assert len(hits) == 3 and "by meaning" in box.status.value


def test_a_failing_search_by_meaning_is_a_message(small):
    def broken(query, n):
        raise FileNotFoundError("MiniLM model files are missing")

    box = SearchBox(small.items, lambda i, a: None, search=broken, n=3)
    box.text.value = "robots in space"  # the Enter key: no title matches, so by meaning
    assert "search failed" in box.status.value and "MiniLM model files" in box.status.value
    assert box.results.item_ids == []


def test_clone_without_a_choice_is_a_message(app):
    app.picker.clones.options = []
    app.picker.clone.click()
    assert "no MovieLens user to clone" in app.message.value
    assert app.user == "alice"


def test_title_matches_handles_articles(small):
    items = small.items.assign(title=["Matrix, The"] + small.items["title"].tolist()[1:])
    assert title_matches(items, "the matrix", 3)["title"].iloc[0] == "Matrix, The"


def test_clicks_from_another_thread(app):
    """ipykernel 7 may run a button's callback on another thread: the click must still work."""
    card = app.recommendations.cards[0]
    item = card.item_id
    with ThreadPoolExecutor(1) as pool:
        pool.submit(card.buttons["watch"].click).result()
    assert app.message.value == ""
    assert app.rec.history("alice")["item_id"].tolist() == [item]


def test_a_closed_service_is_a_message_with_the_fix(app):
    app.rec.close()
    app.recommendations.cards[0].buttons["watch"].click()
    assert "closed" in app.message.value and "re-run the notebook" in app.message.value


def test_a_locked_store_is_a_message_with_the_fix(small, tmp_path):
    lock = StoreLock(tmp_path / "store" / "chroma")
    try:
        shown = open_playground(small, tmp_path / "store")
    finally:
        lock.release()
    assert "in use" in shown.value and "make app" in shown.value


def test_reason_text():
    import pandas as pd

    assert "popular" in reason_text(pd.DataFrame())
    why = pd.DataFrame({"title": ["A", "B"], "year": [2000, None], "kind": ["favorite", "view"],
                        "similarity": [0.5, 0.25], "contribution": [0.3, -0.1]})
    assert reason_text(why) == "because you loved A (2000) (0.50)"


def test_the_app_displays_a_static_snapshot(app):
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    html = bundle["text/html"]
    assert "Static snapshot" in html and "data:image/png;base64," in html
    assert app.recommendations.cards[0].label.value in html


def test_switch_to_shows_a_user_known_or_new(app):
    app.act(app.recommendations.item_ids[0], "watch")
    app.new_user()
    app.switch_to("alice")
    assert app.user == "alice" and app.picker.text.value == "alice"
    assert app.top["source"].eq("interest").all()
    app.switch_to("alice")  # same id again: refreshes, no error
    assert app.message.value == ""


def test_the_snapshot_leaves_out_hidden_widgets(app):
    from recsys_nb.snapshot import snapshot_html

    assert all(card.item_id is None for card in app.search.results.cards)  # no search yet
    html = snapshot_html(app.search.widget)
    assert "watch" not in html  # the empty result cards are hidden, so not in the picture
    app.search.run(app.rec.items["title"].iloc[0])
    assert "watch" in snapshot_html(app.search.widget)


def test_without_a_user_the_app_continues_the_most_recent_one(app, small):
    app.act(app.recommendations.item_ids[0], "watch")  # alice
    app.rec.view("bob", int(small.items["item_id"].iloc[0]))  # bob acted last
    again = Playground(app.rec, small, n=3, clone_choices=2)
    assert again.user == "bob"
