"""Triage as a pure function: (subject, body, the customer's recent departments) -> a TriageDecision.

The department is the model's call; intent is chosen within that department so the two never contradict; priority is
the model's estimate raised by urgency words and by intents that are urgent by nature; sentiment and language come
from signals.py. Every part says what decided it, so an agent can see why a ticket landed where it did.

A decision is made in two steps. `Triager.read` does the work (features, probabilities, language, lexicon) on the
message alone and needs no database, so intake runs it before its transaction opens; `MessageReading.decide` then
adds the customer's recent departments (read inside the transaction) and settles department, intent and priority,
which costs next to nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tierdesk.kit.vocabulary import Department, Priority
from tierdesk.triage import signals
from tierdesk.triage.labels import INTENTS
from tierdesk.triage.model import TriageModel
from tierdesk.triage.text import STOPWORDS, message_text, tokens

DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "default.npz"
DEPARTMENT_NAMES = {Department.CS: "Customer Service", Department.TS: "Technical Support"}
URGENT_BY_NATURE = {"outage": Priority.HIGH, "security_issue": Priority.HIGH, "data_loss": Priority.HIGH}
HISTORY_WEIGHT = 0.25  # how far a customer's open ticket in one department leans an unsure decision toward it
ANGRY = -0.6  # sentiment at or below which a low or normal priority becomes high


@dataclass(frozen=True)
class TriageInput:
    text: str
    subject: str | None = None
    recent_departments: tuple[Department, ...] = ()  # the customer's recent tickets, newest first


@dataclass
class TriageDecision:
    department: Department
    confidence: float
    intent: str | None
    intent_confidence: float | None
    priority: Priority
    sentiment: float
    language: str
    needs_human: bool
    explanation: str
    signals: dict[str, list[str]] = field(default_factory=dict)
    label: str | None = None
    label_confidence: float | None = None
    model: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.label is None:
            out.pop("label")
            out.pop("label_confidence")
        return out


@dataclass(frozen=True, eq=False)
class MessageReading:
    """What the model read in one message, before the customer's history is taken into account: everything that
    costs (features, probabilities, language, sentiment and urgency words). `decide` finishes the decision."""

    triager: Triager = field(repr=False)
    item: TriageInput  # what was read (intake checks it is the message it stores)
    words: list[str]  # the tokens the model saw
    department_p: dict[Department, float]
    intent_p: np.ndarray | None
    priority_p: np.ndarray | None
    feature_indices: np.ndarray  # the message's sparse features, for the explanation
    feature_data: np.ndarray
    deciding: dict[Department, list[str]]  # the words for the model's own department; another is worked out if needed
    sentiment: float
    sentiment_words: list[str]
    urgency: Priority | None
    urgency_words: list[str]
    language: str
    label: str | None = None
    label_confidence: float | None = None

    def decide(self, recent_departments: Sequence[Department | str] = (), *,
               threshold: float | None = None) -> TriageDecision:
        """The decision for this message from a customer whose recent tickets (newest first) were in these
        departments; `threshold`: the brand's own (None: the deployment's)."""
        return self.triager.conclude(self, recent_departments, threshold=threshold)


class Triager:
    """A loaded model plus the decision rules. Thread-safe for reading; load once per process.

    `threshold` is the deployment's TIERDESK_TRIAGE_CONFIDENCE_THRESHOLD: a department decision less sure than this
    needs a person (1.0: people triage every ticket)."""

    def __init__(self, model: TriageModel, label_model: TriageModel | None = None, *, threshold: float):
        if "department" not in model.heads:
            raise ValueError("the base triage model has no department head")
        self.model = model
        self.label_model = label_model
        self.threshold = threshold
        self.lexicon = signals.lexicon()
        self.languages = signals.language_detector
        self.name = str(model.info.get("name", "custom"))
        # the model file keeps its classes as strings: converted here, once
        self.departments = [Department(c) for c in model.heads["department"].classes]
        self.priorities = [Priority(c) for c in model.heads["priority"].classes] if "priority" in model.heads else []
        self._directions: dict[Department, np.ndarray] = {}

    @classmethod
    def load(cls, path: str | Path | None, threshold: float) -> Triager:
        """The default model (path None), or a model file: one with a department head replaces the default, one
        without adds its `label` head to the default (a deployment's own queue or intent labels)."""
        default = default_model()
        if path is None:
            return cls(default, threshold=threshold)
        custom = TriageModel.load(path)
        if "department" in custom.heads:
            return cls(custom, custom if "label" in custom.heads else None, threshold=threshold)
        return cls(default, custom, threshold=threshold)

    def warm_up(self) -> None:
        """Load what loads lazily, so the first contact does not pay for it."""
        self.decide_many([TriageInput("warm up: my router does not connect")])

    def decide(self, item: TriageInput) -> TriageDecision:
        return self.decide_many([item])[0]

    def decide_many(self, items: Sequence[TriageInput]) -> list[TriageDecision]:
        return [r.decide(i.recent_departments) for r, i in zip(self.read_many(items), items, strict=True)]

    def read(self, item: TriageInput) -> MessageReading:
        return self.read_many([item])[0]

    def read_many(self, items: Sequence[TriageInput]) -> list[MessageReading]:
        """The expensive part of each decision, for a batch at once."""
        texts = [message_text(i.subject, i.text) for i in items]
        words = [tokens(t) for t in texts]
        model = self.model
        features = model.features_of_tokens(words)
        dept_p = model.probabilities("department", features)
        intent_p = model.probabilities("intent", features) if "intent" in model.heads else None
        prio_p = model.probabilities("priority", features) if "priority" in model.heads else None
        label_pred = None
        if self.label_model is not None:
            label_features = features if self.label_model is model else self.label_model.features_of_tokens(words)
            label_pred = self.label_model.predict("label", label_features)
        languages = self.languages.detect_many(texts)
        out = []
        for row, (item, text) in enumerate(zip(items, texts, strict=True)):
            p = dict(zip(self.departments, dept_p[row].tolist(), strict=True))
            span = slice(features.sparse.indptr[row], features.sparse.indptr[row + 1])
            indices, data = features.sparse.indices[span], features.sparse.data[span]
            top = max(p, key=p.__getitem__)
            sentiment, sentiment_words = self.lexicon.sentiment_of(text, words[row])
            urgency, urgency_words = self.lexicon.urgency_of(text, words[row])
            out.append(MessageReading(
                triager=self,
                item=item,
                words=words[row],
                department_p=p,
                intent_p=intent_p[row] if intent_p is not None else None,
                priority_p=prio_p[row] if prio_p is not None else None,
                feature_indices=indices,
                feature_data=data,
                deciding={top: self._deciding_words(words[row], indices, data, top)},
                sentiment=sentiment,
                sentiment_words=sentiment_words,
                urgency=urgency,
                urgency_words=urgency_words,
                language=languages[row][0],
                label=label_pred[0][row] if label_pred is not None else None,
                label_confidence=round(float(label_pred[1][row]), 4) if label_pred is not None else None,
            ))
        return out

    def conclude(self, reading: MessageReading, recent: Sequence[Department | str], *,
                 threshold: float | None = None) -> TriageDecision:
        """A reading plus the customer's recent departments -> the decision (cheap: no features are computed).
        `threshold` overrides the deployment's (a brand's own, set in the admin)."""
        threshold = self.threshold if threshold is None else threshold
        p = dict(reading.department_p)
        leaned = self._lean_on_history(p, recent, threshold)
        department = max(p, key=p.__getitem__)
        confidence = round(p[department], 4)
        deciding = reading.deciding.get(department)
        if deciding is None:  # the history tipped an unsure decision: explain the other department
            deciding = self._deciding_words(reading.words, reading.feature_indices, reading.feature_data, department)
        intent, intent_conf = self._intent(reading.intent_p, department)
        priority, priority_words = self._priority(reading, intent)
        # 1.0: people triage all. A message with no word triage can read (symbols, only random strings) is the
        # model's prior, not a decision.
        needs_human = threshold >= 1.0 or confidence < threshold or not reading.words
        decision = TriageDecision(
            department=department,
            confidence=confidence,
            intent=intent,
            intent_confidence=intent_conf,
            priority=priority,
            sentiment=reading.sentiment,
            language=reading.language,
            needs_human=needs_human,
            explanation="",
            signals={"department": deciding, "priority": priority_words, "sentiment": reading.sentiment_words},
            label=reading.label,
            label_confidence=reading.label_confidence,
            model=self.name,
        )
        if leaned:
            decision.signals["history"] = [f"customer's recent {leaned} ticket"]
        decision.explanation = _explain(decision)
        return decision

    def _lean_on_history(self, p: dict[Department, float], recent: Sequence[Department | str],
                         threshold: float) -> Department | None:
        """An unsure decision leans toward the department of the customer's most recent ticket (a follow-up in other
        words is usually about the same thing); a confident one is left alone."""
        if not recent or recent[0] not in p or max(p.values()) >= threshold:
            return None
        newest = Department(recent[0])
        for dept in p:
            p[dept] = (1 - HISTORY_WEIGHT) * p[dept] + (HISTORY_WEIGHT if dept == newest else 0.0)
        return newest

    def _deciding_words(
        self, words: list[str], indices: np.ndarray, data: np.ndarray, department: Department
    ) -> list[str]:
        direction = self._directions.get(department)
        if direction is None:
            direction = self._directions[department] = self.model.heads["department"].direction(department)
        contributions = self.model.vectorizer.word_contributions(words, indices, data, direction, _meaningful)
        return [w for w, weight in contributions if weight > 0][:4]

    def _intent(self, probs: np.ndarray | None, department: Department) -> tuple[str | None, float | None]:
        if probs is None:
            return None, None
        classes = self.model.heads["intent"].classes
        allowed = [i for i, name in enumerate(classes) if INTENTS.get(name, (department,))[0] == department]
        if not allowed:
            return None, None
        best = max(allowed, key=lambda i: probs[i])
        share = probs[best] / max(float(probs[allowed].sum()), 1e-9)
        return classes[best], round(float(share), 4)

    def _priority(self, reading: MessageReading, intent: str | None) -> tuple[Priority, list[str]]:
        priority = Priority.NORMAL
        if reading.priority_p is not None:
            priority = self.priorities[int(reading.priority_p.argmax())]
        level, said = reading.urgency, reading.urgency_words
        if level in (Priority.URGENT, Priority.HIGH):
            priority = Priority.most_urgent(priority, level)
        elif level is Priority.LOW and priority is Priority.NORMAL:
            priority = Priority.LOW
        if intent in URGENT_BY_NATURE:
            priority = Priority.most_urgent(priority, URGENT_BY_NATURE[intent])
            said = said + [intent.replace("_", " ")]
        if reading.sentiment <= ANGRY and priority.rank > Priority.HIGH.rank:
            priority = Priority.HIGH
            said = said + ["angry customer"]
        return priority, said


@functools.lru_cache(maxsize=1 << 16)
def _meaningful(word: str) -> bool:
    """A word worth showing an agent: not a function word or a lone short token."""
    parts = word.split()
    return any(len(p) > 2 and p not in STOPWORDS for p in parts)


def _explain(d: TriageDecision) -> str:
    def quoted(words: list[str]) -> str:
        return ", ".join(f'"{w}"' for w in words) if words else "no single strong word"

    name = DEPARTMENT_NAMES.get(d.department, d.department)
    parts = [f"{name} ({d.confidence:.0%}): {quoted(d.signals['department'])}"]
    if "history" in d.signals:
        parts.append("leaned on the " + d.signals["history"][0])
    if d.needs_human:
        parts.append("unsure, so a person should check")
    if d.intent:
        parts.append(f"intent {d.intent}")
    if d.signals["priority"]:
        parts.append(f"priority {d.priority}: {quoted(d.signals['priority'])}")
    if d.signals["sentiment"]:
        parts.append(f"sentiment {d.sentiment:+.2f}: {quoted(d.signals['sentiment'])}")
    return "; ".join(parts)


@functools.cache
def default_model() -> TriageModel:
    return TriageModel.load(DEFAULT_MODEL_PATH)
