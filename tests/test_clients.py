"""Which Chroma client: embedded, a server (one database per store), Chroma Cloud; unreachable
servers fail fast, naming host and port."""

from __future__ import annotations

import socket
import time

import chromadb
import pytest

from recsys_nb import clients
from recsys_nb.clients import server_address, store_database
from recsys_nb.store import get_client


def test_no_environment_means_the_embedded_store(tmp_path):
    assert server_address() is None
    client = get_client(tmp_path / "chroma")
    assert (tmp_path / "chroma").is_dir()
    assert client.get_max_batch_size() > 0


def test_store_database_is_per_folder_and_named_by_chroma_database(tmp_path, monkeypatch):
    a, b = store_database(tmp_path / "a" / "chroma"), store_database(tmp_path / "b")
    assert a != b and a.startswith("recsys_nb-a-") and b.startswith("recsys_nb-b-")
    assert store_database(tmp_path / "a") == a  # the folder or its chroma/ folder: one store
    monkeypatch.setenv("CHROMA_DATABASE", "shared-store")
    assert store_database(tmp_path / "a") == "shared-store"


def assert_explained_within_5_seconds(monkeypatch, port: int) -> None:
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(port))
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}.*unset CHROMA_HOST"):
        get_client()
    assert time.monotonic() - started < 5


def test_refused_port_is_explained_fast(monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert_explained_within_5_seconds(monkeypatch, port)


def test_a_server_that_never_answers_is_an_error_within_5_seconds(monkeypatch):
    """A socket that accepts connections but never replies: Chroma's own client would wait
    forever (its HTTP timeout is None). The wait is shortened here; the real one is checked."""
    assert clients.CONNECT_TIMEOUT <= 3
    monkeypatch.setattr(clients, "CONNECT_TIMEOUT", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        assert_explained_within_5_seconds(monkeypatch, silent.getsockname()[1])


def test_api_key_without_host_opens_chroma_cloud_with_its_limits(monkeypatch):
    """Chroma Cloud is not reachable offline: the CloudClient call is recorded, not made."""
    made = []

    class Recorded:
        def get_max_batch_size(self):
            return 5461

    def cloud_client(**kwargs):
        made.append(kwargs)
        return Recorded()

    monkeypatch.setattr(chromadb, "CloudClient", cloud_client)
    monkeypatch.setenv("CHROMA_API_KEY", "ck-test")
    assert server_address() == (clients.CLOUD_HOST, 443)
    client = get_client()
    from recsys_nb.client_limits import limits

    assert len(made) == 1 and limits(client).max_write == 300
    assert limits(client).max_results == 300


@pytest.mark.server
def test_two_stores_on_one_server_do_not_share_collections(server_env, tmp_path):
    one, two = get_client(tmp_path / "one" / "chroma"), get_client(tmp_path / "two" / "chroma")
    one.get_or_create_collection("only-in-one", embedding_function=None)
    assert "only-in-one" not in [c.name for c in two.list_collections()]
    assert "only-in-one" in [c.name for c in get_client(tmp_path / "one").list_collections()]
