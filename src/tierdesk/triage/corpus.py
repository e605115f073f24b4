"""Where training rows come from: the examples tierdesk ships, Bitext's public utterances, and any CSV.

The shipped default model is trained only on data whose licence allows it: the project's own examples (examples/*.csv,
written for tierdesk) and the Bitext customer-service utterances (CDLA-Sharing-1.0), mapped onto tierdesk's intents.
Bitext is short and almost all Customer Service, so it is sampled thinly and weighted down: mixed in at full strength
it teaches "short message = Customer Service".
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from tierdesk.triage.labels import INTENTS, PRIORITIES
from tierdesk.triage.text import message_text as message_text  # re-exported for training_runs
from tierdesk.triage.training import LabelledText

EXAMPLES_DIR = Path(__file__).parent / "examples"

# Bitext intent -> tierdesk intent. Debatable ones (contact_*, payment_issue, review) are left out.
BITEXT_INTENTS = {
    "cancel_order": "cancel_order",
    "change_order": "cancel_order",
    "change_shipping_address": "update_account_details",
    "check_cancellation_fee": "policy_question",
    "check_invoices": "invoice_request",
    "check_payment_methods": "payment_method",
    "check_refund_policy": "policy_question",
    "complaint": "complaint",
    "create_account": "policy_question",
    "delete_account": "account_closure",
    "delivery_options": "policy_question",
    "delivery_period": "order_status",
    "edit_account": "update_account_details",
    "get_invoice": "invoice_request",
    "get_refund": "refund_request",
    "newsletter_subscription": "update_account_details",
    "place_order": "pricing_question",
    "recover_password": "login_problem",
    "registration_problems": "login_problem",
    "set_up_shipping_address": "update_account_details",
    "switch_account": "change_plan",
    "track_order": "order_status",
    "track_refund": "refund_request",
}
BITEXT_PER_INTENT = 40
BITEXT_WEIGHT = 0.5


class CorpusError(ValueError):
    """A training file that cannot be read as asked."""


def example_rows(directory: Path = EXAMPLES_DIR) -> list[LabelledText]:
    """The project's own labelled examples."""
    rows = []
    for path in sorted(directory.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for rec in csv.DictReader(f):
                intent = rec["intent"]
                rows.append(
                    LabelledText(
                        message_text(rec.get("subject") or None, rec["text"]),
                        {"department": INTENTS[intent][0], "intent": intent, "priority": rec["priority"]},
                        source=f"examples/{path.name}",
                    )
                )
    return rows


def bitext_rows(path: Path, seed: int = 0) -> list[LabelledText]:
    """A thin, deterministic sample of Bitext's training split, mapped onto tierdesk's intents."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            if rec.get("split", "train") == "train" and rec["intent"] in BITEXT_INTENTS:
                by_intent[rec["intent"]].append(rec["text"])
    rng = random.Random(seed)
    rows = []
    for source_intent in sorted(by_intent):
        texts = sorted(by_intent[source_intent])
        rng.shuffle(texts)
        intent = BITEXT_INTENTS[source_intent]
        for text in texts[:BITEXT_PER_INTENT]:
            rows.append(
                LabelledText(text, {"department": INTENTS[intent][0], "intent": intent, "priority": None},
                             BITEXT_WEIGHT, "bitext")
            )
    return rows


def csv_rows(
    path: Path,
    text_column: str,
    label_column: str | None = None,
    department_column: str | None = None,
    subject_column: str | None = None,
) -> Iterator[tuple[int, LabelledText]]:
    """Rows of any CSV as (line number, row). Missing columns are an error that names them."""
    try:
        f = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror}") from None
    with f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        wanted = [c for c in (text_column, label_column, department_column, subject_column) if c]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise CorpusError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(header)})")
        try:
            for rec in reader:
                text = (rec[text_column] or "").strip()
                if not text:
                    continue
                labels: dict[str, str | None] = {}
                if label_column:
                    labels["label"] = (rec[label_column] or "").strip() or None
                if department_column:
                    dept = (rec[department_column] or "").strip().upper() or None
                    labels["department"] = dept if dept in ("CS", "TS") else None
                subject = (rec[subject_column] or "").strip() if subject_column else None
                yield reader.line_num, LabelledText(message_text(subject or None, text), labels, source=str(path))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CorpusError(f"{path}, line {reader.line_num}: {exc}") from None


def validate_priority(value: str | None) -> str | None:
    return value if value in PRIORITIES else None
