"""The three ways a model gets trained, each ending in a report: from a CSV, from the deployment's tickets, and the
shipped default. Retraining from the deployment compares the candidate with the model in use on held-out tickets and
replaces it only if it does at least as well."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from tierdesk.triage import corpus
from tierdesk.triage.decision import DEFAULT_MODEL_PATH, TriageInput, Triager
from tierdesk.triage.embeddings import builtin_embedder
from tierdesk.triage.labels import INTENTS
from tierdesk.triage.repository import TrainingTicket
from tierdesk.triage.text import message_text
from tierdesk.triage.training import TRIAGE_OPTIONS, LabelledText, Scores, score, train

HOLDOUT_EVERY = 5  # every fifth ticket (by id) is held out to compare models
MIN_TICKETS = 50
CORRECTED_WEIGHT = 4.0  # a ticket an agent moved is a mistake the model made: learn it harder
DEPLOYMENT_WEIGHT = 2.0


class TrainingError(ValueError):
    """Training cannot go on; the message says why."""


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    replaced: bool = True


def train_csv(
    path: Path,
    text_column: str,
    label_column: str | None,
    department_column: str | None,
    subject_column: str | None,
    out: Path,
    say: Callable[[str], None],
) -> Report:
    try:
        rows = [row for _, row in corpus.csv_rows(path, text_column, label_column, department_column, subject_column)]
    except corpus.CorpusError as exc:
        raise TrainingError(str(exc)) from None
    heads = [h for h, col in (("label", label_column), ("department", department_column)) if col]
    for head in heads:
        if len({r.labels.get(head) for r in rows} - {None}) < 2:
            raise TrainingError(f"{path}: the {head} column needs at least two different values")
    info = {"name": f"csv:{path.name}", "trained_at": _now(), "rows": len(rows), "source": str(path)}
    try:
        model = train(rows, heads, builtin_embedder(), progress=say, info=info)
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    say("writing the model")
    model.save(out)
    report = Report([f"trained on {len(rows)} rows of {path}"])
    for head in heads:
        report.lines.append(f"{head}: {len(model.heads[head].classes)} classes")
    report.lines.append(f"model written to {out}")
    return report


def train_builtin(out: Path | None, bitext: Path | None, say: Callable[[str], None]) -> Report:
    rows = corpus.example_rows()
    if bitext is not None:
        if not bitext.exists():
            raise TrainingError(f"no Bitext file at {bitext}")
        rows += corpus.bitext_rows(bitext)
    out = out or DEFAULT_MODEL_PATH
    sources = sorted({r.source for r in rows})
    info = {"name": "tierdesk-default", "rows": len(rows), "sources": sources}
    model = train(rows, ["department", "intent", "priority"], builtin_embedder(), TRIAGE_OPTIONS, say, info)
    say("writing the model")
    model.save(out)
    return Report([f"trained the default model on {len(rows)} rows ({', '.join(sources)})", f"written to {out}"])


def deployment_rows(tickets: list[TrainingTicket]) -> tuple[list[LabelledText], list[LabelledText]]:
    """Training and held-out rows from (id, subject, body, department, intent, priority, corrected) tuples."""
    train_part: list[LabelledText] = []
    held_out: list[LabelledText] = []
    for ticket_id, subject, body, department, intent, priority, corrected in tickets:
        row = LabelledText(
            message_text(subject, body),
            {"department": department, "intent": intent if intent in INTENTS else None, "priority": priority},
            CORRECTED_WEIGHT if corrected else DEPLOYMENT_WEIGHT,
            f"ticket:{ticket_id}",
        )
        (held_out if ticket_id % HOLDOUT_EVERY == 0 else train_part).append(row)
    return train_part, held_out


def train_from_db(out: Path | None, force: bool, say: Callable[[str], None]) -> Report:
    from tierdesk.config import get_settings
    from tierdesk.db import get_database
    from tierdesk.triage import repository

    settings = get_settings()
    out = out or settings.effective_triage_model_path
    say("reading resolved and corrected tickets")
    with get_database().transaction() as db:
        tickets = repository.training_tickets(db)
    if len(tickets) < MIN_TICKETS:
        raise TrainingError(
            f"only {len(tickets)} resolved or re-triaged tickets with a department; at least {MIN_TICKETS} are needed"
        )
    train_part, held_out = deployment_rows(tickets)
    if len({r.labels["department"] for r in held_out}) < 2:
        raise TrainingError("the held-out tickets are all one department; resolve tickets of both departments first")
    corrected = sum(1 for t in tickets if t[6])
    rows = corpus.example_rows() + train_part
    info = {"name": f"deployment-{_now()}", "trained_at": _now(), "rows": len(rows), "tickets": len(train_part)}
    heads = ["department"] + [h for h in ("intent", "priority") if len({r.labels[h] for r in rows} - {None}) >= 2]
    try:
        candidate = train(rows, heads, builtin_embedder(), TRIAGE_OPTIONS, say, info)
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    current_path = out if out.exists() else None
    current = Triager.load(current_path, settings.triage_confidence_threshold)
    new = Triager(candidate, threshold=settings.triage_confidence_threshold)
    say("comparing on held-out tickets")
    current_score, new_score = _department_score(current, held_out), _department_score(new, held_out)
    report = Report(
        [
            f"{len(tickets)} tickets ({corrected} re-triaged by agents): {len(train_part)} to train, "
            f"{len(held_out)} held out",
            f"current model ({current.name}): department balanced accuracy {current_score.balanced_accuracy:.4f}, "
            f"accuracy {current_score.accuracy:.4f}",
            f"new model: department balanced accuracy {new_score.balanced_accuracy:.4f}, "
            f"accuracy {new_score.accuracy:.4f}",
        ]
    )
    if new_score.balanced_accuracy >= current_score.balanced_accuracy or force:
        candidate.info["held_out"] = new_score.as_dict()
        candidate.save(out)
        report.lines.append(f"the new model replaces the current one: {out} (servers pick it up within a minute)")
    else:
        report.replaced = False
        report.lines.append("the new model scores lower; the current one stays (--force replaces it anyway)")
    return report


def _department_score(triager: Triager, rows: list[LabelledText]) -> Scores:
    decisions = triager.decide_many([TriageInput(r.text) for r in rows])
    return score([cast(str, r.labels["department"]) for r in rows], [d.department for d in decisions])  # always set


def evaluate_csv(
    triager: Triager,
    path: Path,
    text_column: str,
    label_column: str | None,
    department_column: str | None,
    subject_column: str | None,
) -> dict[str, Scores]:
    try:
        rows = [row for _, row in corpus.csv_rows(path, text_column, label_column, department_column, subject_column)]
    except corpus.CorpusError as exc:
        raise TrainingError(str(exc)) from None
    decisions = []
    for start in range(0, len(rows), 1000):
        decisions += triager.decide_many([TriageInput(r.text) for r in rows[start : start + 1000]])
    results = {}
    for head, attr in (("label", "label"), ("department", "department")):
        pairs = [(r.labels[head], getattr(d, attr)) for r, d in zip(rows, decisions, strict=True)
                 if r.labels.get(head) is not None]
        if (head == "label" and label_column) or (head == "department" and department_column):
            if not pairs:
                raise TrainingError(f"{path}: no row has a usable {head} value")
            results[head] = score([cast(str, t) for t, _ in pairs], [p for _, p in pairs])  # set: see pairs
    return results


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
