"""The Recommender with several interests per user (``interests > 1``), on real MovieLens users."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import test_recommender as base
from test_recommender import _one_by_one, _profiles, build, popular_items

from recsys_nb.embeddings import embed_items
from recsys_nb.interests import Interests
from recsys_nb.recommender import (
    MULTI_INTEREST_PARAMS,
    OvershootWarning,
    Recommender,
    item_counts,
)

#: the same module-scoped fixture: 40 real MovieLens users on their 800 most-rated items
small = base.small


def multi(ds, path, **params) -> Recommender:
    return build(ds, path, **{"interests": 3, **params})


def _rows(r: Recommender, skip: tuple[str, ...] = ()) -> dict:
    """Every stored interest row: id -> (vector, metadata without the write time and ``skip``)."""
    ids, mat, metas = r._multi.store.all_rows()
    return {i: (v, {k: m[k] for k in m if k not in ("updated_at", *skip)})
            for i, v, m in zip(ids, mat, metas, strict=True)}


def _assert_same_rows(a: dict, b: dict, atol: float = 0.0) -> None:
    """Same rows: vectors bit for bit (``atol=0``), metadata equal."""
    assert set(a) == set(b)
    for key, (v, meta) in a.items():
        if atol:
            np.testing.assert_allclose(b[key][0], v, rtol=0, atol=atol)
            other = b[key][1]
            assert other == {**meta, "weight": other["weight"]}
            assert other["weight"] == pytest.approx(meta["weight"], rel=1e-12)
        else:
            np.testing.assert_array_equal(b[key][0], v)
            assert b[key][1] == meta


def _assert_clean(rows: dict) -> None:
    for v, _ in rows.values():
        assert np.isfinite(v).all() and abs(np.linalg.norm(v) - 1) < 1e-5


@pytest.fixture(scope="module")
def tastes(small, tmp_path_factory):
    """Three horror films and three children's films of the fixture whose vectors (collaborative,
    16-d) are far apart: the pair of one horror and one children's film with the lowest cosine,
    and the two films of the same genre nearest to each."""
    with build(small, tmp_path_factory.mktemp("tastes")) as r:
        genres = small.items.set_index("item_id")["genres"]
        horror = [int(i) for i in r.item_ids
                  if "Horror" in genres[i] and not {"Children", "Comedy"} & set(genres[i])]
        kids = [int(i) for i in r.item_ids if "Children" in genres[i] and "Horror" not in
                genres[i]]
        h = np.stack([r.item_vector(i) for i in horror])
        k = np.stack([r.item_vector(i) for i in kids])
        a, b = np.unravel_index(np.argmin(h @ k.T), (len(horror), len(kids)))
        hp, kp = np.argsort(-(h @ h[a]))[:3], np.argsort(-(k @ k[b]))[:3]
        threshold = MULTI_INTEREST_PARAMS["interest_threshold"]
        # the premise: the tastes are far from each other, each is close-knit
        assert (h[hp] @ k[kp].T).max() < threshold
        assert (h[hp] @ h[hp].T).min() > threshold and (k[kp] @ k[kp].T).min() > threshold
        return [horror[i] for i in hp], [kids[i] for i in kp]


def _two_tastes(r: Recommender, tastes, user="two") -> None:
    horror, kids = tastes
    for t, (h, k) in enumerate(zip(horror, kids, strict=True)):
        r.view(user, h, timestamp=2.0 * t)
        r.view(user, k, timestamp=2.0 * t + 1)


# ------------------------------------------------------------------ construction


def test_one_interest_is_the_default_path_bit_for_bit(small, tmp_path):
    events = small.events[small.events["user_id"].isin(small.users[:4])]
    with build(small, tmp_path / "a") as a, build(small, tmp_path / "b", interests=1) as b:
        assert a._multi is None and b._multi is None and b.max_interests == 1
        a.ingest(events)
        b.ingest(events)
        pa, pb = _profiles(a), _profiles(b)
        assert set(pa) == set(pb)
        for u in pa:
            np.testing.assert_array_equal(pa[u], pb[u])
        user = small.users[0]
        pd.testing.assert_frame_equal(a.recommend(user, n=20), b.recommend(user, n=20))
        got = b.interests(user)
        np.testing.assert_array_equal(got.vectors, b.interest(user)[None, :])
        assert got.weights.tolist() == [1.0]
        assert got.counts.tolist() == [b.profiles.get(user)[1]["event_count"]]


def test_never_far_means_one_interest_equal_to_the_single_vector(small, tmp_path):
    """threshold -1: no event is ever far, so 3 allowed interests stay one, and the event-by-event
    multi path lands on the very bits of the batch single-vector path."""
    events = small.events[small.events["user_id"].isin(small.users[:4])]
    with build(small, tmp_path / "one", not_interested_factor=0.9) as one, \
            multi(small, tmp_path / "many", interest_threshold=-1.0,
                  not_interested_factor=0.9) as many:
        one.ingest(events)
        many.ingest(events)
        for user in small.users[:4]:
            state = many.interest(user)
            assert state.m == 1
            np.testing.assert_array_equal(state.vectors[0], one.interest(user))
            got = many.recommend(user, n=10)
            assert got["interest"].eq(0).all()
            pd.testing.assert_frame_equal(got.drop(columns="interest"), one.recommend(user, n=10))


@pytest.mark.parametrize(
    "params, fragment",
    [({"interests": 0}, "interests=0"), ({"interests": -2}, "interests=-2"),
     ({"interests": 2.5}, "interests=2.5"), ({"interest_threshold": 1.5}, "[-1, 1]"),
     ({"interest_threshold": float("nan")}, "interest_threshold=nan"),
     ({"interest_fade": 0.0}, "interest_fade=0.0"), ({"merge": "best"}, "'round_robin'"),
     ({"diversity": -0.1}, "diversity=-0.1")],
)
def test_bad_multi_interest_parameters_raise_at_construction(small, tmp_path, params, fragment):
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace(".", r"\.")):
        build(small, tmp_path / "x", **params)
    assert not (tmp_path / "x" / "events.sqlite").exists()  # nothing was created


# ------------------------------------------------------------------ events


def test_one_event_is_one_interest(small, tmp_path):
    with multi(small, tmp_path / "s") as r:
        a = popular_items(small, 1)[0]
        res = r.view("new", a)
        assert res.cold_start and res.profile_changed and res.message.startswith("cold start")
        state = r.interest("new")
        assert isinstance(state, Interests) and state.m == 1
        np.testing.assert_allclose(state.vectors[0], r.item_vector(a), atol=1e-6)
        assert state.weights.tolist() == [1.0] and state.counts.tolist() == [1]
        with pytest.raises(KeyError, match="record a view"):
            r.interest("nobody")


def test_two_tastes_make_two_interests_and_both_are_recommended(small, tmp_path, tastes):
    horror, kids = tastes
    with multi(small, tmp_path / "s") as r:
        _two_tastes(r, tastes)
        state = r.interest("two")
        assert state.m == 2 and state.counts.tolist() == [3, 3]
        assert r.history("two")["kind"].tolist() == ["view"] * 6
        # interest 0 is the horror taste, interest 1 the children's
        cos = state.vectors @ np.stack([r.item_vector(i) for i in horror + kids]).T
        assert (cos[0, :3] > cos[1, :3]).all() and (cos[1, 3:] > cos[0, 3:]).all()
        top = r.recommend("two", n=10)
        assert set(top["interest"]) == {0, 1} and set(top["source"]) == {"interest"}
        assert not set(top["item_id"]) & set(horror + kids)
        # each item comes from the search of the interest it is named after
        for item, i in zip(top["item_id"], top["interest"], strict=True):
            alone = r.item_store.query(state.vectors[i], n=10, exclude=horror + kids,
                                       popularity_weight=r.prior_weight)
            assert item in alone["item_id"].tolist()
        assert r.interests("two").m == 2


def test_update_messages_name_the_interest(small, tmp_path, tastes):
    horror, kids = tastes
    with multi(small, tmp_path / "s") as r:
        r.view("m", horror[0])
        assert r.view("m", kids[0]).message.startswith("new interest 1: item")
        assert r.view("m", horror[1]).message.startswith(f"moved interest 0 toward item "
                                                         f"{horror[1]}")
        res = r.not_interested("m", kids[1])
        assert res.message.startswith("moved interest 1 away from item") and res.profile_changed


def test_overshoot_keeps_the_interest_and_warns(small, tmp_path):
    with multi(small, tmp_path / "s", not_interested_factor=1.0) as r:
        a = popular_items(small, 1)[0]
        r.view("dan", a)
        before = r.interest("dan")
        with pytest.warns(OvershootWarning, match="factor=1"):
            res = r.not_interested("dan", a)
        assert res.overshoot and not res.profile_changed
        np.testing.assert_array_equal(r.interest("dan").vectors, before.vectors)
        assert r._multi.store.get("dan")[1]["event_count"] == 2


def test_cold_not_interested_keeps_no_interest(small, tmp_path):
    with multi(small, tmp_path / "s") as r:
        a, b = popular_items(small, 2)
        res = r.not_interested("c", a)
        assert res.cold_start and not res.profile_changed and not res.overshoot
        assert r._multi.store.count() == 0
        assert r.recommend("c", n=5)["source"].eq("popular").all()
        r.view("c", b)
        assert r.interest("c").m == 1 and r._multi.store.get("c")[1]["event_count"] == 2


# ------------------------------------------------------------------ bulk, rebuild, repair


def test_ingest_equals_one_by_one_bit_for_bit(small, tmp_path):
    events = small.events[small.events["user_id"].isin(small.users[:6])]
    events = events.groupby("user_id").head(40)  # the one-by-one path costs ~10 ms per event
    # a high threshold and a fast fade: new interests, the cap and stale replacements all happen
    params = {"interest_threshold": 0.5, "interest_fade": 0.8, "not_interested_factor": 0.9}
    with multi(small, tmp_path / "bulk", **params) as bulk:
        first = events.sort_values("timestamp").groupby("user_id").head(15)
        bulk.ingest(first)
        report = bulk.ingest(events.drop(first.index))  # continues from the stored interests
        # two ingests log the events in another order than one by one: other seq numbers
        bulk_rows = _rows(bulk, skip=("last_seq",))
        assert all(bulk._multi.store.get(u)[1]["last_seq"] == bulk.log.last_seq(u)
                   for u in small.users[:6])
        m = [bulk.interest(u).m for u in small.users[:6]]
    with multi(small, tmp_path / "single", **params) as single:
        _one_by_one(single, events)
        single_rows = _rows(single, skip=("last_seq",))
    assert report.events == len(events) - len(first) and report.users == 6
    assert max(m) == 3  # the premise: several interests, up to the cap
    _assert_same_rows(bulk_rows, single_rows)
    _assert_clean(bulk_rows)


def test_rebuild_and_repair_equal_the_live_rows(small, tmp_path):
    events = small.events[small.events["user_id"].isin(small.users[:8])]
    events = events.groupby("user_id").head(40)
    path = tmp_path / "s"
    with multi(small, path, interest_threshold=0.5) as r:
        r.ingest(events.iloc[: len(events) // 2])
        _one_by_one(r, events.iloc[len(events) // 2 :])
        live = _rows(r)
        assert r.rebuild_profiles() == 8
        rebuilt = _rows(r)
        # an event in the log that never reached the rows (a crash in between)
        user = small.users[0]
        r.log.append(user, int(events["item_id"].iloc[-1]), "view",
                     params={"alpha": r.alpha_view}, model_id=r.model_id)
    _assert_same_rows(live, rebuilt)
    with multi(small, path, interest_threshold=0.5) as r:
        assert r.repaired == 1
        assert r._multi.store.get(user)[1]["last_seq"] == r.log.last_seq(user)
        repaired = _rows(r)
        r.rebuild_profiles()
        _assert_same_rows(repaired, _rows(r))
    # other interest parameters: their own rows, rebuilt from the log on open
    with multi(small, path, interest_threshold=0.2) as r:
        assert r.repaired == 8 and r._multi.store.count() >= 8


def test_undo_recomputes_the_interests(small, tmp_path, tastes):
    horror, kids = tastes
    with multi(small, tmp_path / "s") as r:
        r.view("u", horror[0], timestamp=1.0)
        before = r.interest("u")
        r.view("u", kids[0], timestamp=2.0)
        assert r.interest("u").m == 2
        r.undo("u")
        after = r.interest("u")
        assert after.m == 1 and r._multi.store.count() == 1  # the row of interest 1 is gone
        np.testing.assert_array_equal(after.vectors, before.vectors)
        r.undo("u")
        with pytest.raises(KeyError):
            r.interest("u")
        assert r._multi.store.count() == 0


def test_a_failed_update_leaves_the_stored_rows_unchanged(small, tmp_path, tastes, monkeypatch):
    horror, kids = tastes
    with multi(small, tmp_path / "s") as r:
        _two_tastes(r, tastes, "f")
        before = _rows(r)
        with pytest.raises(KeyError, match="123456789"):
            r.view("f", 123456789)
        with pytest.raises(ValueError):
            r.ingest(pd.DataFrame({"user_id": ["f"], "item_id": [horror[0]], "kind": ["liked"],
                                   "timestamp": [9.0]}))
        _assert_same_rows(before, _rows(r))

        def broken(*args, **kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(r._multi.store.collection, "upsert", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            r.view("f", kids[2])
        monkeypatch.undo()
        _assert_same_rows(before, _rows(r))  # the log has the event: the next open repairs


# ------------------------------------------------------------------ recommendations


@pytest.mark.parametrize("merge", ["round_robin", "score"])
def test_recommend_never_returns_seen_items_and_nothing_is_zero(small, tmp_path, merge):
    users = small.users[:5]
    events = small.events[small.events["user_id"].isin(users)]
    with multi(small, tmp_path / "s", merge=merge, interest_threshold=0.5) as r:
        r.ingest(events)
        _assert_clean(_rows(r))
        assert max(r.interest(u).m for u in users) > 1
        for user in users:
            top = r.recommend(user, n=50)
            assert len(top) == 50 and top["item_id"].is_unique
            assert not set(top["item_id"]) & set(small.user_history(user)["item_id"])
            assert list(top.columns) == ["item_id", "title", "year", "genres", "score", "source",
                                         "interest"]
            if merge == "score":
                assert top["score"].is_monotonic_decreasing
            # the exact counterpart ranks (almost) the same items
            exact = r.exact_top(user, 50, small.user_history(user)["item_id"])[0]
            assert len(set(exact) & set(top["item_id"])) >= 45


def test_merge_and_diversity_change_live_and_rank_like_a_new_recommender(small, tmp_path):
    """set_params(merge=..., diversity=...) ranks exactly like a recommender opened with them
    (same stored interests); a bad value changes nothing; k, threshold and fade stay fixed."""
    users = small.users[:5]
    events = small.events[small.events["user_id"].isin(users)]
    with multi(small, tmp_path / "live", interest_threshold=0.5) as r:
        r.ingest(events)
        user = max(users, key=lambda u: r.interest(u).m)
        assert r.interest(user).m > 1
        rows = _rows(r)
        expected = {}
        for merge, diversity in [("score", 0.0), ("round_robin", 1.0), ("score", 0.8)]:
            with multi(small, tmp_path / f"{merge}-{diversity}", interest_threshold=0.5,
                       merge=merge, diversity=diversity) as fresh:
                fresh.ingest(events)
                expected[merge, diversity] = fresh.recommend(user, n=20)
        for (merge, diversity), want in expected.items():
            r.set_params(merge=merge, diversity=diversity)
            assert (r.merge, r.diversity) == (merge, diversity)
            assert (r._multi.merge, r._multi.diversity) == (merge, diversity)
            pd.testing.assert_frame_equal(r.recommend(user, n=20), want)
        assert expected["score", 0.0]["item_id"].tolist() != \
            expected["round_robin", 1.0]["item_id"].tolist()
        r.set_params(diversity=0.25)  # one of the two alone keeps the other
        assert (r.merge, r.diversity) == ("score", 0.25)
        with pytest.raises(ValueError, match="diversity=1.5"):
            r.set_params(diversity=1.5, alpha_view=0.9)
        with pytest.raises(ValueError, match="merge='best'"):
            r.set_params(merge="best")
        assert (r.merge, r.diversity, r.alpha_view) == ("score", 0.25, 0.25)
        with pytest.raises(TypeError, match="interests"):
            r.set_params(interests=2)
        _assert_same_rows(rows, _rows(r))  # the stored interests never moved
    with build(small, tmp_path / "one") as one:  # one interest: kept, no effect
        one.set_params(merge="score", diversity=1.0)
        assert (one.merge, one.diversity) == ("score", 1.0) and one._multi is None


def test_single_interest_features_refuse_several_interests(small, tmp_path):
    with multi(small, tmp_path / "s") as r:
        r.view("p", popular_items(small, 1)[0])
        for call in (lambda: r.recommend("p", mode="predicted"),
                     lambda: r.predict_interest("p"), lambda: r.interest_trail("p")):
            with pytest.raises(ValueError, match="open it with interests=1"):
                call()


def test_explain_names_the_interest_and_its_events(small, tmp_path, tastes):
    horror, kids = tastes
    with multi(small, tmp_path / "s", merge="score") as r:
        _two_tastes(r, tastes)
        state = r.interest("two")
        top = r.recommend("two", n=8)
        why = r.explain("two", top["item_id"].tolist(), n=10)
        assert list(why.columns[:3]) == ["recommended", "interest", "item_id"]
        for item, i in zip(top["item_id"], top["interest"], strict=True):
            part = why[why["recommended"] == item]
            assert part["interest"].eq(i).all()  # the interest recommend() named
            # its contributions come from that interest's events and add up to its cosine
            assert set(part["item_id"]) == set((horror, kids)[i])
            cos = float(state.vectors[i] @ r.item_vector(item))
            assert part["contribution"].sum() == pytest.approx(cos, abs=1e-4)
        one = r.explain("two", int(top["item_id"].iloc[0]), n=2)
        assert list(one.columns[:2]) == ["interest", "item_id"] and len(one) == 2
        assert r.explain("nobody", horror[0]).columns[0] == "interest"
        # round_robin: the interest whose turn placed an item, passed in, explains it
        r.set_params(merge="round_robin")
        listed = r.recommend("two", n=8)
        for item, i in zip(listed["item_id"], listed["interest"], strict=True):
            part = r.explain("two", int(item), n=10, interest=int(i))
            assert part["interest"].eq(i).all() and set(part["item_id"]) == set((horror, kids)[i])
        with pytest.raises(ValueError, match="interest=7 is not one of this user's 2"):
            r.explain("two", horror[0], interest=7)



@pytest.mark.server
def test_server_mode_reads_the_rows_fresh(small, tmp_path, tastes, server_env):
    """No cache in server mode: every update reads the rows back from Chroma, and a second
    recommender of the same store sees them. Chroma's HTTP round trip moves float32 embeddings by up
    to one unit in the last place (measured: 3e-8) and float64 metadata by ~1e-16, so here the
    live rows equal the rebuilt ones to 1e-6, not to the bit as in embedded mode."""
    with multi(small, tmp_path / "s") as r, multi(small, tmp_path / "s") as other:
        assert r.server is not None and not r._multi._use_cache
        _two_tastes(r, tastes, "srv")
        state = r.interest("srv")
        assert state.m == 2 and r.recommend("srv", n=6)["interest"].nunique() == 2
        np.testing.assert_array_equal(other.interest("srv").weights, state.weights)
        rows = _rows(r)
        r.rebuild_profiles()  # the log agrees with what the live updates wrote
        _assert_same_rows(rows, _rows(r), atol=1e-6)


def test_forget_users_empties_the_rows_of_every_interest_setting(small, tmp_path):
    path = tmp_path / "s"
    with multi(small, path) as r:
        r.view("old", popular_items(small, 1)[0])
        model = r.model_id
    vecs = embed_items(small.items, small.events, "collaborative", dim=16, progress=False)
    assert vecs.model_id == model
    # one interest per user, the users forgotten (what an Experiment does between runs)
    Recommender(small.items, vecs, path, item_counts(small.events), prior_events=small.events,
                forget_users=True).close()
    with multi(small, path) as r:  # no event of "old" is left, so neither are their rows
        assert r.log.count() == 0 and r._multi.store.count() == 0
        assert r.recommend("old", n=3)["source"].eq("popular").all()
