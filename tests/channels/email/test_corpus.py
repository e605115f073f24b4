"""Every message of the real-world corpus (tests/channels/email/corpus, origins in SOURCES.md) parses, and what it
parses to is what a person reading the message sees in it (expected.json, written by reading each message)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from tierdesk.channels.email.parse import parse_message
from tierdesk.channels.email.subjects import normalise_subject

CORPUS = pathlib.Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = {
    name: value
    for name, value in json.loads((CORPUS / "expected.json").read_text(encoding="utf-8")).items()
    if not name.startswith("_")
}


def test_every_corpus_file_has_expectations_and_a_source():
    files = {path.name for path in CORPUS.glob("*.eml")}
    expected_files = {expected.get("file", name) for name, expected in EXPECTED.items()}
    assert files == expected_files, "every .eml needs an entry in expected.json and the reverse"
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert [name for name in files if name not in sources] == [], "every .eml must be listed in SOURCES.md"
    assert len(files) >= 60


def _cases() -> list[Any]:
    cases = []
    for name, expected in sorted(EXPECTED.items()):
        marks = [pytest.mark.xfail(reason=expected["xfail"], strict=True)] if "xfail" in expected else []
        cases.append(pytest.param(name, expected, id=name, marks=marks))
    return cases


@pytest.mark.parametrize(("name", "expected"), _cases())
def test_corpus_message(name: str, expected: dict[str, Any]) -> None:
    parsed = parse_message((CORPUS / expected.get("file", name)).read_bytes())

    if "from" in expected:
        assert parsed.from_address == expected["from"]
    if "from_name" in expected:
        assert parsed.from_name == expected["from_name"]
    if "subject" in expected:
        assert normalise_subject(parsed.subject) == expected["subject"]
    if "subject_contains" in expected:
        assert expected["subject_contains"] in parsed.subject
    if "message_id" in expected:
        assert parsed.message_id == expected["message_id"]
    if "in_reply_to" in expected:
        assert parsed.in_reply_to == expected["in_reply_to"]
    if "references" in expected:
        assert parsed.references == expected["references"]
    if "date" in expected:
        assert parsed.date is None if expected["date"] is None else parsed.date is not None
    if "html" in expected:
        assert (parsed.html is not None) == expected["html"]
    if "attachments" in expected:
        assert sorted(a.filename or "" for a in parsed.attachments) == sorted(n or "" for n in expected["attachments"])
    if "attachment_count" in expected:
        assert len(parsed.attachments) == expected["attachment_count"]
    if "attachment_types" in expected:
        types = [a.content_type for a in parsed.attachments]
        assert all(t in types for t in expected["attachment_types"]), types
    if "attachment_data" in expected:
        by_name = {a.filename: a.data for a in parsed.attachments}
        for filename, data in expected["attachment_data"].items():
            assert by_name[filename] == data.encode()
    if "inline" in expected:
        assert sorted(a.content_id or "" for a in parsed.attachments if a.inline) == sorted(expected["inline"])
    if "auto" in expected:
        assert (parsed.auto_submitted is not None) == expected["auto"], parsed.auto_submitted
    if "bounce" in expected:
        if expected["bounce"] is None:
            assert parsed.bounce is None
        else:
            assert parsed.bounce is not None
            assert parsed.bounce.failed_recipients == expected["bounce"]
    if "permanent" in expected:
        assert parsed.bounce is not None and parsed.bounce.permanent == expected["permanent"]
    if "status" in expected:
        assert parsed.bounce is not None and parsed.bounce.status == expected["status"]
    if "original_message_id" in expected:
        assert parsed.bounce is not None and parsed.bounce.original_message_id == expected["original_message_id"]
    if "visible" in expected:
        assert parsed.visible_text == expected["visible"]
    if "visible_starts" in expected:
        assert parsed.visible_text.startswith(expected["visible_starts"]), parsed.visible_text[:200]
    if "visible_excludes" in expected:
        assert expected["visible_excludes"] not in parsed.visible_text
    for snippet in expected.get("text_contains", []):
        assert snippet in parsed.text
    for snippet in expected.get("html_contains", []):
        assert parsed.html is not None and snippet in parsed.html
    if "defects" in expected:
        assert bool(parsed.defects) == expected["defects"], parsed.defects
    for word in expected.get("defects_mention", []):
        assert any(word in defect for defect in parsed.defects), (word, parsed.defects)

    # What holds for every message.
    if parsed.text.strip():
        assert parsed.visible_text.strip()
    assert len(parsed.content_digest) == 64
    for attachment in parsed.attachments:
        if attachment.content_type == "message/rfc822":
            assert attachment.filename and attachment.filename.endswith(".eml")
