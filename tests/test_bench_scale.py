"""Small-scale checks of benchmarks/scale.py's pieces (the benchmark itself is `make bench
SCALE=1M`): the clustered generator, exact neighbours and seen lists, recall@k, the --scale
error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))  # benchmarks/ is not a package: its scripts import each other so

import scale_synth as ss  # noqa: E402


@pytest.fixture
def centres() -> np.ndarray:
    rng = np.random.default_rng(0)
    c = rng.standard_normal((40, 32)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def test_generator_gives_unit_float32_rows_around_their_centres(centres: np.ndarray) -> None:
    x = ss.synth_items(centres, 1000, sigma=0.05, seed=1, chunk=128)  # several chunks
    assert x.dtype == np.float32 and x.shape == (1000, 32)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    own = np.einsum("ij,ij->i", x, centres[np.arange(1000) % 40])
    assert own.min() > 0.8  # close to the centre it was drawn around ...
    assert ((x @ centres.T).argmax(axis=1) == np.arange(1000) % 40).all()  # ... its nearest one
    again = ss.synth_items(centres, 1000, sigma=0.05, seed=1, chunk=1000)
    np.testing.assert_array_equal(x[:128], again[:128])  # seeded; first chunk identical


def test_generator_writes_into_the_given_matrix(centres: np.ndarray) -> None:
    out = np.zeros((300, 32), dtype=np.float32)
    got = ss.synth_items(centres, 300, sigma=0.1, seed=2, out=out, chunk=64)
    assert got is out and np.isfinite(out).all() and (np.abs(out).sum(axis=1) > 0).all()


def test_more_noise_means_lower_nearest_neighbour_cosine(centres: np.ndarray) -> None:
    tight = ss.calibrate_sigma(centres, 400, steps=6)
    assert tight.sigma > 0 and tight.per_centre == 10
    medians = []
    for sigma in (0.02, 0.2):
        x = ss.synth_items(centres, 400, sigma=sigma, seed=3)
        medians.append(np.median(ss.nn_cosines(x[:50], x, np.arange(50))))
    assert medians[0] > medians[1]


def test_nn_cosines_skip_the_query_itself() -> None:
    m = np.eye(3, dtype=np.float32)
    m[2] = [np.sqrt(0.5), np.sqrt(0.5), 0]
    got = ss.nn_cosines(m[:2], m, np.array([0, 1]), chunk=2)
    np.testing.assert_allclose(got, [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)


def test_users_seen_lists_come_from_the_nearest_items_and_truth_excludes_them(
    centres: np.ndarray,
) -> None:
    x = ss.synth_items(centres, 2000, sigma=0.05, seed=4)
    users = ss.make_users(x, centres, 6, sigma=0.05, seed=5, seen_min=5, seen_max=20, n=10)
    for u in range(6):
        exact = np.argsort(-(x @ users.vectors[u]), kind="stable")
        assert 5 <= len(users.seen[u]) <= 20
        assert np.isin(users.seen[u], exact[: 2 * len(users.seen[u])]).all()
        assert not np.isin(users.truth[u], users.seen[u]).any()
        np.testing.assert_array_equal(users.truth[u], exact[~np.isin(exact, users.seen[u])][:10])
        np.testing.assert_array_equal(users.truth_raw[u], exact[:10])


def test_recall_at_k_hand_made() -> None:
    assert ss.recall_at([1, 2, 3, 4], [4, 3, 9, 8]) == 0.5
    assert ss.recall_at(np.array([7, 8]), np.array([8, 7])) == 1.0
    assert ss.recall_at([], [1, 2]) == 0.0
    assert ss.recall_at([1, 1, 1], [1, 2, 3]) == pytest.approx(1 / 3)  # duplicates count once


def test_proc_status_reads_memory() -> None:
    got = ss.proc_status()
    assert got["VmRSS"] > 0 and got["ru_maxrss"] >= got["VmRSS"] * 0.5


def test_unsupported_scale_exits_2_listing_the_values() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH / "scale.py"), "--scale", "10M"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert "10M" in run.stderr and "100k" in run.stderr and "1M" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
