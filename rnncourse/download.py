"""Optional downloads, for online learners: checksummed, cached, atomic.

The course runs offline: every chapter's data comes from the standard library or is generated.
Some chapters offer a larger public corpus to learners with a network; :func:`fetch` is the one
way the package downloads anything:

- the file is checked against its SHA-256 before it is used (a corrupted or tampered download
  is an error naming both hashes, and is not kept);
- it is written to a temporary file next to its destination and renamed only when complete, so
  an interrupted download never leaves a half file where a good one is expected;
- it is cached (``$RNNCOURSE_CACHE``, else ``~/.cache/rnncourse``) and read from there next time,
  without the network;
- without a network the error says so and that the data is optional.

Example::

    path = fetch("https://example.org/corpus.txt", sha256="9f86d08...")
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["DownloadError", "cache_dir", "fetch", "sha256_of"]

_CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A download that failed, was cut short, or did not match its checksum."""


def cache_dir() -> Path:
    """Where downloads are kept: ``$RNNCOURSE_CACHE`` or ``~/.cache/rnncourse``."""
    return Path(os.environ.get("RNNCOURSE_CACHE") or Path.home() / ".cache" / "rnncourse")


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_arguments(url: str, sha256: str) -> None:
    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"url must be an http(s) URL, got {url!r}")
    if not (isinstance(sha256, str) and len(sha256) == 64
            and all(c in "0123456789abcdef" for c in sha256.lower())):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")


def fetch(url: str, sha256: str, filename: str | None = None, directory: str | Path | None = None,
          timeout: float = 30.0) -> Path:
    """Return the path of the file at ``url``, downloading it once into the cache.

    ``filename`` defaults to the last part of the URL; ``directory`` to :func:`cache_dir`.
    A cached file is used only if its SHA-256 matches. Raises :class:`DownloadError` when the
    network is unreachable, the server answers with an error, the transfer is cut short, or
    the content does not match ``sha256``; nothing is left behind in those cases.
    """
    _check_arguments(url, sha256)
    sha256 = sha256.lower()
    directory = Path(directory) if directory is not None else cache_dir()
    target = directory / (filename or Path(urlparse(url).path).name or "download")
    if target.exists() and sha256_of(target) == sha256:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".part")
    try:
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                expected = r.headers.get("Content-Length")
                for block in iter(lambda: r.read(_CHUNK), b""):
                    out.write(block)
                    digest.update(block)
                    size += len(block)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"{url}: the server answered {exc.code} {exc.reason}") from None
        except http.client.IncompleteRead as exc:
            raise DownloadError(f"{url}: the download was cut short ({len(exc.partial)} bytes "
                                "of the last block arrived); try again") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(f"could not download {url} ({reason}). This data is optional: "
                                "the course runs offline without it.") from None
        if expected is not None and size != int(expected):
            raise DownloadError(f"{url}: the download was cut short ({size} of {expected} "
                                "bytes); try again")
        if digest.hexdigest() != sha256:
            raise DownloadError(f"{url}: checksum mismatch: expected SHA-256 {sha256}, got "
                                f"{digest.hexdigest()} ({size} bytes); the file was not kept")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return target
