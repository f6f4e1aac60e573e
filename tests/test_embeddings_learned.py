"""recsys_nb.embeddings.learned: SVD and sequence (PPMI) item vectors, model ids, the blend."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from recsys_nb.embeddings import (
    collaborative_model_id,
    embed_items,
    sequence_item_embeddings,
    sequence_model_id,
    svd_item_embeddings,
)

# ---- collaborative (SVD) ----------------------------------------------------------------------


def two_taste_events(seed: int = 0) -> pd.DataFrame:
    """60 users, items 100..139: users 0-29 mostly like 100-119, users 30-59 like 120-139."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(60):
        own = np.arange(100, 120) if user < 30 else np.arange(120, 140)
        other = np.arange(120, 140) if user < 30 else np.arange(100, 120)
        picks = list(rng.choice(own, size=8, replace=False)) + [int(rng.choice(other))]
        for t, item in enumerate(picks):
            rows.append((user, int(item), float(rng.integers(1, 11)) / 2, 1_000_000 + t, "view"))
    rows.append((0, 139, 1.0, 2_000_000, "not_interested"))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp", "kind"])


def two_taste_items() -> pd.DataFrame:
    """Items 100..141; 140 (genre A) and 141 (genre Z) have no events."""
    ids = np.arange(100, 142)
    genres = [["A"] if i < 120 else ["B"] for i in ids[:40]] + [["A", "Nobody"], ["Z"]]
    kinds = ["A space adventure with rockets", "A romantic story of love"]
    texts = [
        f"{kinds[0] if g == ['A'] else kinds[1]} number {i}"
        for i, g in zip(ids, genres, strict=True)
    ]
    texts[-2:] = ["Rockets and astronauts in space", "An unclassifiable film"]
    return pd.DataFrame(
        {
            "item_id": ids.astype(np.int64),
            "title": [f"Movie {i}" for i in ids],
            "year": pd.array([2000] * len(ids), dtype="Int64"),
            "genres": genres,
            "text": texts,
        }
    )


def test_svd_shape_unit_rows_and_taste_structure():
    events, items = two_taste_events(), two_taste_items()
    vecs = svd_item_embeddings(events, items["item_id"], dim=4, seed=0, items=items)
    assert vecs.shape == (42, 4) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs[:40] @ vecs[:40].T
    block = np.arange(40) < 20
    same = sims[np.equal.outer(block, block)].mean()
    across = sims[~np.equal.outer(block, block)].mean()
    assert same > across + 0.4, (same, across)  # measured 0.80 vs 0.20
    np.fill_diagonal(sims, -2)
    assert np.array_equal(block[sims.argmax(axis=1)], block)  # nearest neighbour: same taste


def test_svd_is_deterministic_for_a_seed():
    events, items = two_taste_events(), two_taste_items()
    a = svd_item_embeddings(events, items["item_id"], dim=4, seed=7, items=items)
    b = svd_item_embeddings(events, items["item_id"], dim=4, seed=7, items=items)
    np.testing.assert_array_equal(a, b)
    shuffled = svd_item_embeddings(events.sample(frac=1, random_state=1), items["item_id"], 4, 7)
    np.testing.assert_allclose(shuffled[:40], a[:40], atol=1e-5)  # event row order is irrelevant


def test_svd_rows_follow_the_given_item_order():
    events = two_taste_events()
    ids = np.arange(100, 140)
    order = np.random.default_rng(5).permutation(40)
    straight = svd_item_embeddings(events, ids, dim=4, seed=0)
    permuted = svd_item_embeddings(events, ids[order], dim=4, seed=0)
    np.testing.assert_allclose(permuted, straight[order], atol=1e-4)


def test_svd_items_without_events_get_genre_or_global_centroid():
    events, items = two_taste_events(), two_taste_items()
    vecs = svd_item_embeddings(events, items["item_id"], dim=4, seed=0, items=items)
    assert np.isfinite(vecs).all()
    genre_a = vecs[:20].mean(axis=0)
    np.testing.assert_allclose(vecs[40], genre_a / np.linalg.norm(genre_a), atol=1e-5)
    overall = vecs[:40].mean(axis=0)
    np.testing.assert_allclose(vecs[41], overall / np.linalg.norm(overall), atol=1e-5)
    no_items = svd_item_embeddings(events, items["item_id"], dim=4, seed=0)  # no genres given
    np.testing.assert_allclose(no_items[40], overall / np.linalg.norm(overall), atol=1e-5)


def test_svd_rejects_too_large_dim_naming_both_counts():
    events = two_taste_events()
    with pytest.raises(ValueError, match=r"dim=40 .*users \(60\).*items with events \(40\)"):
        svd_item_embeddings(events, np.arange(100, 142), dim=40)
    with pytest.raises(ValueError, match="weighting='tfidf' is unknown"):
        svd_item_embeddings(events, np.arange(100, 140), dim=4, weighting="tfidf")


def test_svd_rating_weighting_differs_and_stays_unit():
    events = two_taste_events()
    binary = svd_item_embeddings(events, np.arange(100, 140), dim=4)
    rating = svd_item_embeddings(events, np.arange(100, 140), dim=4, weighting="rating")
    np.testing.assert_allclose(np.linalg.norm(rating, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(binary, rating, atol=1e-3)


def test_collaborative_model_id_is_a_stable_fingerprint():
    events = two_taste_events()
    model_id = collaborative_model_id(events, 64, 0)
    assert re.fullmatch(r"svd64-[0-9a-f]{8}", model_id)
    assert collaborative_model_id(events.sample(frac=1, random_state=2), 64, 0) == model_id
    assert collaborative_model_id(events.iloc[1:], 64, 0) != model_id
    assert collaborative_model_id(events, 64, 1) != model_id
    assert collaborative_model_id(events, 32, 0).startswith("svd32-")


# ---- sequence (item2vec as a matrix) ----------------------------------------------------------


def paired_sequence_events(n_users: int = 60, seed: int = 0) -> pd.DataFrame:
    """Every user watches ALL of items 100..139, in a random order of the pairs (100, 101),
    (102, 103), ..., the two items of a pair always one after the other. Who-watched-what is the
    same for everybody (nothing for an SVD to learn); only the ORDER says which items go together.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        order = rng.permutation(20)
        items = [100 + 2 * p + k for p in order for k in (0, 1)]
        rows += [(user, item, 4.0, 1_000_000 + t, "view") for t, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp", "kind"])


def test_sequence_vectors_learn_what_is_watched_next_to_what():
    events = paired_sequence_events()
    ids = np.arange(100, 140)
    vecs = sequence_item_embeddings(events, ids, dim=20, seed=0)
    assert vecs.shape == (40, 20) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -2)
    partner = ids ^ 1  # 100 <-> 101, 102 <-> 103, ...
    assert np.array_equal(ids[sims.argmax(axis=1)], partner)
    # the same events in another row order, or with timestamps shifted, give the same vectors
    again = sequence_item_embeddings(events.sample(frac=1, random_state=3), ids, dim=20, seed=0)
    np.testing.assert_allclose(again, vecs, atol=1e-5)
    # the order is what it learns: the same watches in a shuffled time order lose the pairs
    shuffled = events.assign(
        timestamp=np.random.default_rng(1).permutation(events["timestamp"].to_numpy()))
    other = sequence_item_embeddings(shuffled, ids, dim=20, seed=0)
    o = other @ other.T
    np.fill_diagonal(o, -2)
    assert (ids[o.argmax(axis=1)] == partner).mean() < 0.5


def test_sequence_vectors_fill_cold_items_and_ignore_not_interested():
    events, items = two_taste_events(), two_taste_items()
    vecs = sequence_item_embeddings(events, items["item_id"], dim=4, seed=0, items=items)
    assert vecs.shape == (42, 4) and np.isfinite(vecs).all()
    genre_a = vecs[:20].mean(axis=0)  # item 140 (genre A, no events): the genre's centroid
    np.testing.assert_allclose(vecs[40], genre_a / np.linalg.norm(genre_a), atol=1e-5)
    sims = vecs[:40] @ vecs[:40].T
    block = np.arange(40) < 20
    same = sims[np.equal.outer(block, block)].mean()
    across = sims[~np.equal.outer(block, block)].mean()
    assert same > across + 0.3, (same, across)
    without = sequence_item_embeddings(events[events["kind"] != "not_interested"],
                                       items["item_id"], dim=4, seed=0, items=items)
    np.testing.assert_allclose(without, vecs, atol=1e-6)


def test_sequence_vectors_reject_bad_settings_naming_the_fix():
    events = two_taste_events()
    ids = np.arange(100, 142)
    with pytest.raises(ValueError, match=r"dim=40 must be smaller than the number of items that "
                                         r"co-occur within 5 events of one user \(40\)"):
        sequence_item_embeddings(events, ids, dim=40)
    with pytest.raises(ValueError, match="window=0 must be a positive integer"):
        sequence_item_embeddings(events, ids, dim=4, window=0)
    with pytest.raises(ValueError, match="cds=0 must be in"):
        sequence_item_embeddings(events, ids, dim=4, cds=0)
    with pytest.raises(ValueError, match="power=nan must be a finite number"):
        sequence_item_embeddings(events, ids, dim=4, power=float("nan"))
    with pytest.raises(ValueError, match="lacks a timestamp column"):
        sequence_item_embeddings(events.drop(columns="timestamp"), ids, dim=4)
    with pytest.raises(ValueError, match="duplicates"):
        sequence_item_embeddings(events, [100, 100, 101], dim=2)


def test_sequence_model_id_depends_on_the_order_of_events():
    events = two_taste_events()
    model_id = sequence_model_id(events, 64, 0)
    assert re.fullmatch(r"seq64w5-[0-9a-f]{8}", model_id)
    assert sequence_model_id(events.sample(frac=1, random_state=2), 64, 0) == model_id
    later = events.assign(timestamp=events["timestamp"][::-1].to_numpy())
    assert sequence_model_id(later, 64, 0) != model_id
    assert sequence_model_id(events, 64, 0, window=3) != model_id


def test_blend_is_the_mean_of_sequence_and_svd_cosines():
    items, events = two_taste_items(), two_taste_events()
    blend = embed_items(items, events, "blend", dim=4, seed=0)
    seq = sequence_item_embeddings(events, items["item_id"], dim=4, seed=0, items=items)
    svd = svd_item_embeddings(events, items["item_id"], dim=4, seed=0, items=items, power=0.5)
    assert blend.vectors.shape == (42, 8) and blend.text_model is None
    assert blend.model_id == (f"blend-{sequence_model_id(events, 4, 0)}"
                              f"+{collaborative_model_id(events, 4, 0, power=0.5)}")
    np.testing.assert_allclose(blend.vectors @ blend.vectors.T,
                               0.5 * seq @ seq.T + 0.5 * svd @ svd.T, atol=1e-5)
