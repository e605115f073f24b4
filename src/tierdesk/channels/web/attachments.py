"""Which files a web form takes: the brand's count and size limits, and its allowed types, judged by what the file
is rather than by what the browser says it is.

The type is the one the file's first bytes show (its magic number, read by the `filetype` library) wherever the
format has one; a file whose name promises one type and whose content is another (a program named photo.png, a
PDF named notes.txt) is refused. Text has no magic number: a file with no known signature is taken as text only
when it reads as UTF-8 text, and then as the type its name gives (text/plain, text/csv, ...). The Content-Type the
client sent is never used.
"""

from __future__ import annotations

import codecs
import mimetypes
from dataclasses import dataclass
from typing import BinaryIO

import filetype

HEAD_BYTES = 8192  # what the signatures need (filetype reads no more)
# Types filetype recognises by their content: a file claiming one of these must show its signature.
_SIGNED_TYPES = frozenset(t.mime for t in filetype.types) - {"application/octet-stream"}
# Containers: a file of these types may show only the container's signature (an Office file is a zip archive).
_CONTAINERS = {
    "application/zip": ("application/vnd.openxmlformats-officedocument.", "application/vnd.oasis.opendocument.",
                        "application/epub+zip", "application/java-archive"),
}
# The same type under two names (the name's type from `mimetypes`, the content's from `filetype`).
_ALIASES = {"image/vnd.microsoft.icon": "image/x-icon", "audio/wav": "audio/x-wav", "image/x-ms-bmp": "image/bmp",
            "application/x-zip-compressed": "application/zip"}
# Names to types: Python's own table only (not the machine's /etc/mime.types, so every machine judges alike), with
# the office formats it lacks.
_NAMES = mimetypes.MimeTypes()
for _ext, _type in {".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                    ".odt": "application/vnd.oasis.opendocument.text",
                    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
                    ".odp": "application/vnd.oasis.opendocument.presentation",
                    ".log": "text/plain", ".md": "text/markdown"}.items():
    _NAMES.add_type(_type, _ext)


class FileRefused(ValueError):
    """Why a file is not taken, for the person who sent it."""


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int
    max_count: int
    allowed_types: tuple[str, ...]  # "image/png" or "image/*"

    def allows(self, content_type: str) -> bool:
        family = content_type.split("/", 1)[0] + "/*"
        return content_type in self.allowed_types or family in self.allowed_types


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str  # what the content is
    size: int


def size_of(stream: BinaryIO) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def _typed_by_name(filename: str) -> str | None:
    guessed, _encoding = _NAMES.guess_type(filename, strict=False)
    if not guessed or guessed == "application/octet-stream":  # a name that says nothing (.exe, .bin)
        return None
    return _ALIASES.get(guessed, guessed)


def _reads_as_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a character cut at the end is fine
    except UnicodeDecodeError:
        return False
    return True


def content_type_of(filename: str, head: bytes) -> str:
    """What the file is, by its content; refused when its name says something else."""
    named = _typed_by_name(filename)
    sniffed: str | None = filetype.guess_mime(head) if head else None
    if sniffed and sniffed != "application/octet-stream":
        sniffed = _ALIASES.get(sniffed, sniffed)
        if named is None or named == sniffed:
            return sniffed
        if named.startswith(_CONTAINERS.get(sniffed, ())):
            return named
        raise FileRefused(f"{filename}: its content is {sniffed}, not what its name says ({named})")
    if not _reads_as_text(head):
        if named in _SIGNED_TYPES:
            raise FileRefused(f"{filename}: its content is not {named}, as its name says")
        raise FileRefused(f"{filename}: its content is not a kind of file this form can recognise")
    if named in _SIGNED_TYPES:
        raise FileRefused(f"{filename}: its content is text, not {named} as its name says")
    return named or "text/plain"


def check_file(filename: str, stream: BinaryIO, limits: FileLimits) -> CheckedFile:
    size = size_of(stream)
    if size > limits.max_bytes:
        raise FileRefused(f"{filename} is {readable_size(size)}; the largest file this form takes is "
                          f"{readable_size(limits.max_bytes)}")
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    content_type = content_type_of(filename, head)
    if not limits.allows(content_type):
        raise FileRefused(f"{filename}: files of type {content_type} are not accepted here (accepted: "
                          f"{', '.join(limits.allowed_types) or 'none'})")
    return CheckedFile(filename, content_type, size)


def readable_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{round(n / 1024 / 1024, 1):g} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"
