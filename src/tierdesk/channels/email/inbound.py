# PLACEHOLDER: replaced by the lead's inbound.py
"""A stand-in for the email channel's inbound path, so the SMTP listener can be wired and run on this branch:
its sink accepts no recipient (every RCPT is answered 550) and so is never asked to deliver."""

from __future__ import annotations

from typing import Any

from tierdesk.channels.email.smtp import MailSink


class _NoMailboxes:
    def accepts(self, address: str) -> bool:
        return False

    def deliver(self, raw: bytes, recipients: list[str], peer: str) -> None:
        raise RuntimeError("placeholder sink: no message is stored on this branch")


def make_sink(database: Any, settings: Any) -> MailSink:
    return _NoMailboxes()
