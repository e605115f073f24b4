"""What the email channel reads out of one MIME message: the shared shape between parsing (parse.py) and what the
channel does with it (threading, intake, storage). Parsing is pure: bytes in, a ParsedEmail out, no I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field


class UnparseableEmail(ValueError):
    """The bytes are not a message tierdesk can read at all (the reason says why); the raw bytes go to quarantine."""


@dataclass(frozen=True)
class MailAttachment:
    filename: str | None  # as the sender named it (decoded RFC 2231/2047), None when unnamed
    content_type: str  # e.g. "application/pdf"; "message/rfc822" for a forwarded message (data = its raw bytes)
    data: bytes  # the decoded payload
    content_id: str | None = None  # without the angle brackets: what a "cid:" reference in the HTML names
    inline: bool = False  # an image shown inside the HTML (multipart/related, Content-Disposition: inline)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class BounceReport:
    """A delivery status notification (multipart/report; report-type=delivery-status) or a recognisable bounce."""

    failed_recipients: list[str]  # lowercased addresses that could not be delivered to
    status: str | None = None  # the DSN status code, e.g. "5.1.1"
    diagnostic: str | None = None  # the remote server's words, e.g. "550 5.1.1 User unknown"
    permanent: bool = True  # 5.x.x (hard) vs 4.x.x (soft: delayed, still trying)
    original_message_id: str | None = None  # Message-ID of the message that bounced, when the report carries it


@dataclass(frozen=True)
class ParsedEmail:
    # Message ids are kept in their angle-bracket form, e.g. "<abc@example.com>", whitespace removed; None when absent.
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]  # oldest first, as in the header
    subject: str  # decoded, unfolded; "" when absent
    from_address: str | None  # lowercased addr-spec; None when missing or unreadable
    from_name: str | None
    reply_to: list[str]
    to: list[str]  # lowercased addr-specs
    cc: list[str]
    date: dt.datetime | None  # aware UTC; None when missing or malformed
    text: str  # the whole text (derived from the HTML when the message has only HTML)
    html: str | None  # the HTML part as sent (NOT sanitised: the channel sanitises), cid: references intact
    visible_text: str  # `text` with quoted history and signature cut: what agents see first
    attachments: list[MailAttachment] = field(default_factory=list)
    # Why this is an automatic message that must never get an automatic answer ("Auto-Submitted: auto-replied",
    # "Precedence: bulk", "List-Id", "X-Autoreply", ...); None for a person's mail.
    auto_submitted: str | None = None
    bounce: BounceReport | None = None
    # What was wrong and repaired while reading (header defects, a declared charset that lied, ...); never fatal.
    defects: list[str] = field(default_factory=list)
    # SHA-256 over what the message says (sender, recipients, subject, date, bodies, attachments), not how it
    # travelled (Received and other trace headers): the same message delivered twice has the same digest; a
    # different message that reuses a Message-ID has another.
    content_digest: str = ""
