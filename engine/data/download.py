"""A small downloader that never leaves a half-written or unverified file behind.

A data set is fetched from the first mirror that delivers it whole and with the right
checksum. The bytes stream into a temporary file beside the destination while they are hashed;
only when the size and every checksum given agree is the temporary file renamed over the
destination (``os.replace`` is atomic on one file system). Anything else — a wrong checksum, a
connection cut midway, a timeout, Ctrl-C — deletes the temporary file, so the destination is
either absent, or the old file, or the verified new one.

Only the standard library: ``urllib`` for HTTP(S), ``hashlib`` for the checksums.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

from engine.errors import KqvError
from engine.files.atomic import mode_of_replaceable

# on_progress(done_bytes, total_bytes or None when the server does not say, label)
ProgressCallback = Callable[[int, int | None, str], None]

_CHUNK = 1 << 16
_USER_AGENT = "kqv (https://github.com/; data download)"


class _MirrorFailed(Exception):
    """This mirror did not deliver a good copy; the next one may."""


def download(
    urls: list[str],
    dest: Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    on_progress: ProgressCallback | None = None,
    timeout: float = 30.0,
    decompressed_sha256: str | None = None,
) -> Path:
    """Fetch ``dest`` from the first of ``urls`` that gives a verified copy; return ``dest``.

    ``sha256``/``md5``/``size`` check the bytes as downloaded; ``decompressed_sha256`` checks
    the content of a gzip download after gunzipping it (the checksum that holds for every copy
    of a file, gzipped or not). Raises :class:`KqvError` naming each mirror and what went wrong
    when none succeeds.
    """
    dest = Path(dest)
    if not urls:
        raise KqvError(f"no address to download {dest.name} from")
    created = not dest.parent.exists()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KqvError(f"cannot create the folder {dest.parent}: {exc.strerror}") from None
    failures = []
    try:
        for url in urls:
            try:
                _fetch_one(url, dest, sha256, md5, size, on_progress, timeout, decompressed_sha256)
                return dest
            except _MirrorFailed as exc:
                failures.append(f"{urllib.parse.urlsplit(url).netloc or url}: {exc}")
            except OSError as exc:  # network errors are _MirrorFailed by now: this is the disk
                raise KqvError(f"cannot write {dest}: {exc.strerror or exc}") from None
        raise KqvError(f"could not download {dest.name} ({'; '.join(failures)})")
    except BaseException:
        if created and not any(dest.parent.iterdir()):
            dest.parent.rmdir()  # a failed first download leaves no empty folder behind
        raise


def _fetch_one(url, dest, sha256, md5, size, on_progress, timeout, decompressed_sha256) -> None:
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise KqvError(f"cannot write into {dest.parent}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digests = _stream(url, out, size, on_progress, timeout, dest.name)
            out.flush()
            os.fsync(out.fileno())
        for algo, title, wanted in (("sha256", "SHA-256", sha256), ("md5", "MD5", md5)):
            if wanted and digests[algo].hexdigest() != wanted.lower():
                raise _MirrorFailed(
                    f"{title} checksum {digests[algo].hexdigest()[:12]}... does not match "
                    f"the expected {wanted[:12]}..."
                )
        if decompressed_sha256:
            got = _gunzipped_sha256(tmp)
            if got != decompressed_sha256.lower():
                raise _MirrorFailed(
                    f"SHA-256 of the unpacked content {got[:12]}... does not match "
                    f"the expected {decompressed_sha256[:12]}..."
                )
        mode_of_replaceable(dest)  # a FIFO or a device at dest is refused, never replaced
        os.replace(tmp, dest)  # a link at dest is replaced itself: its target is left alone
    except BaseException:  # also Ctrl-C: never leave the partial file behind
        tmp.unlink(missing_ok=True)
        raise


def _stream(url, out, size, on_progress, timeout, label) -> dict:
    """Copy the response body into ``out`` chunk by chunk, hashing as it goes."""
    digests = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    done = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else size
            if size is not None and total is not None and total != size:
                raise _MirrorFailed(f"the server offers {total:,} bytes, expected {size:,}")
            if on_progress:
                on_progress(0, total, label)
            while chunk := response.read(_CHUNK):
                _write(out, chunk, label)
                for d in digests.values():
                    d.update(chunk)
                done += len(chunk)
                if on_progress:
                    on_progress(done, total, label)
    except urllib.error.HTTPError as exc:
        raise _MirrorFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _MirrorFailed(_reason(exc.reason)) from None
    except http.client.IncompleteRead as exc:
        raise _MirrorFailed(f"connection cut after {done + len(exc.partial):,} bytes") from None
    except (http.client.HTTPException, OSError) as exc:  # reset, timeout, TLS cut short, ...
        raise _MirrorFailed(f"connection failed after {done:,} bytes ({_reason(exc)})") from None
    if total is not None and done != total:
        raise _MirrorFailed(f"connection cut after {done:,} of {total:,} bytes")
    return digests


def _write(out, chunk: bytes, label: str) -> None:
    """Write to the temporary file; a full disk is the user's to fix, not a mirror's fault."""
    try:
        out.write(chunk)
    except OSError as exc:
        raise KqvError(f"cannot write {label}: {exc.strerror or exc}") from None


def _gunzipped_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise _MirrorFailed(f"not a valid gzip file ({exc})") from None
    return digest.hexdigest()


def _reason(reason) -> str:
    """A socket error as a few words ("connection refused"), not a repr."""
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(reason) or type(reason).__name__
