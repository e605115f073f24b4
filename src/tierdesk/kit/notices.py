"""Mails to a person that are not a ticket's messages (a password reset link, a portal sign-in code): what each
says is composed when the outbox sends it (OutboxTopic.EMAIL_NOTICE, payload {"kind", "id", "base_url"}), by the
composer its domain registers here (hooks.py), so the outbox row holds no secret and no text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tierdesk.kit.vocabulary import NoticeKind


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    text: str
    # The brands whose address may send it, in order of preference; empty: any brand's.
    brand_ids: tuple[int, ...] = ()


# (session, secret key, payload) -> the mail, or None when there is nothing to send any more (a used link).
Composer = Callable[[Session, str, dict[str, Any]], Notice | None]
_composers: dict[NoticeKind, Composer] = {}


def composes(kind: NoticeKind, composer: Composer) -> None:
    _composers[kind] = composer


def composer_for(kind: str) -> Composer | None:
    return _composers.get(NoticeKind(kind)) if kind in NoticeKind._value2member_map_ else None
