"""Files kept beside the database (attachments, the original MIME of every email), named by their SHA-256.

Content-addressed: the same file stored twice is one file, a name never changes meaning, and what is read back can be
checked against its name. A blob is written to a temporary file, flushed to disk and renamed into place before the
transaction that refers to it commits, so a row never names a file that a crash could have lost.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class BlobStore:
    def __init__(self, root: Path):
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 name: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        return self.put_chunks([data])

    def put_chunks(self, chunks: Iterable[bytes]) -> str:
        """Store bytes given piece by piece (a large file never needs to be in memory at once); returns the name."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            name = digest.hexdigest()
            target = self.path_of(name)
            if target.exists():
                os.unlink(tmp)
                return name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
            return name
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).exists()

    def read(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()

    def open(self, sha256: str) -> BinaryIO:
        return self.path_of(sha256).open("rb")


def _fsync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def blob_store(data_dir: Path) -> BlobStore:
    """The deployment's store: <data dir>/blobs."""
    return BlobStore(data_dir / "blobs")
