"""rnncourse.download.fetch against a local HTTP server: good, corrupted, cut-short, missing."""

import hashlib

import pytest

from rnncourse.download import DownloadError, cache_dir, fetch, sha256_of

DATA = b"The quick brown fox jumps over the lazy dog.\n" * 2000
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def server(serve):
    return serve({"/corpus.txt": DATA, "/corrupt.txt": DATA[:-1] + b"!", "/truncated.txt": DATA},
                 cut={"/truncated.txt"})


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_good_download_is_checked_cached_and_not_fetched_twice(server, tmp_path):
    path = fetch(f"{server}/corpus.txt", SHA, directory=tmp_path)
    assert path == tmp_path / "corpus.txt" and path.read_bytes() == DATA
    assert sha256_of(path) == SHA
    hits = server.hits.total()
    assert fetch(f"{server}/corpus.txt", SHA.upper(), directory=tmp_path) == path
    assert server.hits.total() == hits  # served from the cache
    assert _leftovers(tmp_path) == ["corpus.txt"]


def test_a_corrupted_download_is_refused_and_not_kept(server, tmp_path):
    with pytest.raises(DownloadError, match=f"expected SHA-256 {SHA}"):
        fetch(f"{server}/corrupt.txt", SHA, directory=tmp_path)
    assert _leftovers(tmp_path) == []


def test_an_interrupted_download_leaves_nothing_and_keeps_a_good_copy(server, tmp_path):
    with pytest.raises(DownloadError, match="cut short"):
        fetch(f"{server}/truncated.txt", SHA, directory=tmp_path)
    assert _leftovers(tmp_path) == []
    good = fetch(f"{server}/corpus.txt", SHA, directory=tmp_path, filename="truncated.txt")
    with pytest.raises(DownloadError):  # a stale cached file is replaced only by a good one
        good.write_bytes(b"stale")
        fetch(f"{server}/truncated.txt", SHA, directory=tmp_path)
    assert good.read_bytes() == b"stale" and _leftovers(tmp_path) == ["truncated.txt"]


def test_server_errors_and_no_network_are_clear(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        fetch(f"{server}/missing.txt", SHA, directory=tmp_path)
    import socket

    with socket.socket() as s:  # a port nobody listens on: "offline"
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="optional"):
        fetch(f"http://127.0.0.1:{port}/x.txt", SHA, directory=tmp_path, timeout=2)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("url, sha, message", [
    ("ftp://example.org/x", SHA, "http"), ("corpus.txt", SHA, "http"),
    ("http://127.0.0.1/x", "abc", "64 hexadecimal"), ("http://127.0.0.1/x", None, "64"),
])
def test_bad_arguments_are_named(url, sha, message):
    with pytest.raises(ValueError, match=message):
        fetch(url, sha)


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNCOURSE_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("RNNCOURSE_CACHE")
    assert cache_dir().parts[-2:] == (".cache", "rnncourse")
