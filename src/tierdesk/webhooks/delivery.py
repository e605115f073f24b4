"""The outbox's sender for webhook deliveries (OutboxTopic.WEBHOOK_DELIVER; tierdesk.wiring picks it by topic).

Each attempt POSTs the delivery's JSON, signed (webhooks.signing), with a timeout, outside any transaction, then
logs it (status, response code, duration, attempt number) and what follows:

- 2xx: delivered; the subscription's failures in a row start again from nothing.
- 410 Gone: the receiver wants no more: the delivery fails and the subscription is disabled, with the reason.
- anything else (another status, a refused connection, a timeout): raised, so the outbox retries with its backoff;
  after the outbox's last attempt the delivery has failed for good, and after TIERDESK_WEBHOOK_DISABLE_AFTER_FAILURES
  deliveries in a row failed for good the subscription is disabled, with the reason.

A delivery whose subscription is disabled (or deleted) meanwhile is not sent.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from tierdesk import __version__
from tierdesk.db import Database
from tierdesk.jobs import outbox
from tierdesk.jobs.models import OutboxMessage
from tierdesk.kit.sealed import SealBroken, unseal
from tierdesk.kit.time import utcnow
from tierdesk.kit.vocabulary import WebhookDeliveryStatus
from tierdesk.webhooks import repository
from tierdesk.webhooks.models import WebhookAttempt
from tierdesk.webhooks.service import SECRET_PURPOSE
from tierdesk.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, body_of, signature

log = logging.getLogger("tierdesk.webhooks")

GONE = 410


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other that is not 2xx: not followed (a POST must not turn into a GET
    elsewhere, nor the signed body go to an address nobody subscribed)."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True)
class Answer:
    code: int | None  # None: no HTTP answer at all
    error: str | None  # None: delivered

    @property
    def delivered(self) -> bool:
        return self.error is None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:  # noqa: S310 (the subscription's http(s) URL)
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except TimeoutError:
        return Answer(None, f"no answer within {timeout:g} s (timed out)")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return Answer(None, f"no answer within {timeout:g} s (timed out)")
        return Answer(None, f"cannot reach the receiver: {reason}")
    except OSError as exc:  # connection reset, TLS failure, ...
        return Answer(None, f"cannot reach the receiver: {exc}")
    if 200 <= code < 300:
        return Answer(code, None)
    return Answer(code, f"the receiver answered {code}")


def webhook_sender(database: Database, secret_key: str, *, timeout: float,
                   disable_after: int) -> Callable[[OutboxMessage], None]:
    def send(message: OutboxMessage) -> None:
        delivery_id = message.payload.get("delivery_id")
        if not isinstance(delivery_id, int):
            raise outbox.PermanentFailure(f"a webhook outbox row without a delivery id: {message.payload!r}")
        with database.transaction(write=False) as db:
            found = repository.delivery_to_send(db, delivery_id)
            if found is not None:
                delivery, subscription = found
                body, number = body_of(delivery), delivery.attempts + 1
                event, url, sealed = delivery.event.value, subscription.url, subscription.secret_sealed
                active, disabled_reason = subscription.is_active, subscription.disabled_reason
                subscription_id = subscription.id
        if found is None:
            raise outbox.PermanentFailure(f"webhook delivery {delivery_id} no longer exists (its subscription was "
                                          "deleted)")
        if not active:
            _finish_unsent(database, delivery_id, f"not sent: the subscription is disabled ({disabled_reason})")
        try:
            secret = unseal(secret_key, SECRET_PURPOSE, sealed) if sealed is not None else None
        except SealBroken as exc:
            _finish_unsent(database, delivery_id, f"not sent: {exc}")
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": f"tierdesk-webhooks/{__version__}",
                   "X-Tierdesk-Delivery": str(delivery_id), "X-Tierdesk-Event": event,
                   TIMESTAMP_HEADER: str(timestamp)}
        if secret is not None:
            headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
        started = time.monotonic()
        answer = post(url, body, headers, timeout)
        duration_ms = round((time.monotonic() - started) * 1000)
        log.info("webhook delivery %s (%s) attempt %s to %s: %s in %d ms", delivery_id, event, number, url,
                 answer.code or answer.error, duration_ms)
        final = answer.code == GONE or message.attempts >= outbox.MAX_ATTEMPTS
        _record(database, delivery_id, subscription_id, number, answer, duration_ms, final, disable_after)
        if answer.delivered:
            return
        assert answer.error is not None
        if final:
            raise outbox.PermanentFailure(answer.error)
        raise RuntimeError(answer.error)  # the outbox retries it after its backoff

    return send


def _finish_unsent(database: Database, delivery_id: int, reason: str) -> NoReturn:
    now = utcnow()
    with database.transaction() as db:
        repository.set_delivery(db, delivery_id, {"status": WebhookDeliveryStatus.FAILED, "failed_at": now,
                                                  "last_error": reason})
    raise outbox.PermanentFailure(reason)


def _record(database: Database, delivery_id: int, subscription_id: int, number: int, answer: Answer,
            duration_ms: int, final: bool, disable_after: int) -> None:
    now = utcnow()
    status = WebhookDeliveryStatus.DELIVERED if answer.delivered else WebhookDeliveryStatus.FAILED
    attempt = WebhookAttempt(delivery_id=delivery_id, number=number, status=status, response_code=answer.code,
                             duration_ms=duration_ms, error=answer.error, attempted_at=now)
    values: dict[str, Any] = {"last_attempt_at": now, "last_response_code": answer.code, "last_error": answer.error}
    if answer.delivered:
        values.update(status=WebhookDeliveryStatus.DELIVERED, delivered_at=now, failed_at=None)
    elif final:
        values.update(status=WebhookDeliveryStatus.FAILED, failed_at=now)
    with database.transaction() as db:
        repository.record_attempt(db, delivery_id, attempt, values)
        if answer.delivered:
            repository.succeeded(db, subscription_id)
        elif answer.code == GONE:
            if repository.disable(db, subscription_id, f"the receiver answered 410 Gone (delivery {delivery_id}): "
                                  "it takes no more deliveries", now):
                log.warning("webhook subscription %s disabled: its receiver answered 410 Gone", subscription_id)
        elif final:
            failures = repository.failed_for_good(db, subscription_id)
            if failures >= disable_after and repository.disable(
                    db, subscription_id, f"{failures} deliveries in a row failed after every retry (the last, "
                    f"delivery {delivery_id}: {answer.error})", now):
                log.warning("webhook subscription %s disabled after %s deliveries in a row failed", subscription_id,
                            failures)
