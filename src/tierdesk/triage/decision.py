"""Triage as a pure function: (subject, body, the customer's recent departments) -> a TriageDecision.

The department is the model's call; intent is chosen within that department so the two never contradict; priority is
the model's estimate raised by urgency words and by intents that are urgent by nature; sentiment and language come
from signals.py. Every part says what decided it, so an agent can see why a ticket landed where it did.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tierdesk.triage import signals
from tierdesk.triage.labels import CS, INTENTS, PRIORITIES, TS
from tierdesk.triage.model import TriageModel
from tierdesk.triage.text import STOPWORDS, message_text, tokens

DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "default.npz"
DEPARTMENT_NAMES = {CS: "Customer Service", TS: "Technical Support"}
URGENT_BY_NATURE = {"outage": "high", "security_issue": "high", "data_loss": "high"}
HISTORY_WEIGHT = 0.25  # how far a customer's open ticket in one department leans an unsure decision toward it


@dataclass(frozen=True)
class TriageInput:
    text: str
    subject: str | None = None
    recent_departments: tuple[str, ...] = ()  # the customer's recent tickets, newest first


@dataclass
class TriageDecision:
    department: str
    confidence: float
    intent: str | None
    intent_confidence: float | None
    priority: str
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


def _max_priority(a: str, b: str) -> str:
    return a if PRIORITIES.index(a) >= PRIORITIES.index(b) else b


class Triager:
    """A loaded model plus the decision rules. Thread-safe for reading; load once per process."""

    def __init__(self, model: TriageModel, label_model: TriageModel | None = None, threshold: float = 0.65):
        if "department" not in model.heads:
            raise ValueError("the base triage model has no department head")
        self.model = model
        self.label_model = label_model
        self.threshold = threshold
        self.lexicon = signals.lexicon()
        self.languages = signals.language_detector
        self.name = str(model.info.get("name", "custom"))
        self._directions: dict[str, np.ndarray] = {}

    @classmethod
    def load(cls, path: str | Path | None = None, threshold: float = 0.65) -> Triager:
        """The default model, or a model file: one with a department head replaces the default, one without adds
        its `label` head to the default (a deployment's own queue or intent labels)."""
        default = default_model()
        if path is None:
            return cls(default, threshold=threshold)
        custom = TriageModel.load(path)
        if "department" in custom.heads:
            return cls(custom, custom if "label" in custom.heads else None, threshold)
        return cls(default, custom, threshold)

    def warm_up(self) -> None:
        """Load what loads lazily, so the first contact does not pay for it."""
        self.decide_many([TriageInput("warm up: my router does not connect")])

    def decide(self, item: TriageInput) -> TriageDecision:
        return self.decide_many([item])[0]

    def decide_many(self, items: Sequence[TriageInput]) -> list[TriageDecision]:
        texts = [message_text(i.subject, i.text) for i in items]
        words = [tokens(t) for t in texts]
        model = self.model
        features = model.features_of_tokens(words)
        dept_head = model.heads["department"]
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
            p = dict(zip(dept_head.classes, dept_p[row].tolist(), strict=True))
            leaned = self._lean_on_history(p, item.recent_departments)
            department = max(p, key=p.__getitem__)
            confidence = round(p[department], 4)
            span = slice(features.sparse.indptr[row], features.sparse.indptr[row + 1])
            deciding = self._deciding_words(words[row], features.sparse.indices[span], features.sparse.data[span],
                                            department)
            intent, intent_conf = self._intent(intent_p, row, department)
            sentiment, sentiment_words = self.lexicon.sentiment_of(text, words[row])
            priority, priority_words = self._priority(prio_p, row, text, words[row], intent, sentiment)
            language, _ = languages[row]
            needs_human = self.threshold >= 1.0 or confidence < self.threshold  # 1.0: people triage all
            decision = TriageDecision(
                department=department,
                confidence=confidence,
                intent=intent,
                intent_confidence=intent_conf,
                priority=priority,
                sentiment=sentiment,
                language=language,
                needs_human=needs_human,
                explanation="",
                signals={"department": deciding, "priority": priority_words, "sentiment": sentiment_words},
                model=self.name,
            )
            if leaned:
                decision.signals["history"] = [f"customer's recent {leaned} ticket"]
            if label_pred is not None:
                decision.label = label_pred[0][row]
                decision.label_confidence = round(float(label_pred[1][row]), 4)
            decision.explanation = _explain(decision)
            out.append(decision)
        return out

    def _lean_on_history(self, p: dict[str, float], recent: Sequence[str]) -> str | None:
        """An unsure decision leans toward the department of the customer's most recent ticket (a follow-up in other
        words is usually about the same thing); a confident one is left alone."""
        if not recent or recent[0] not in p or max(p.values()) >= self.threshold:
            return None
        for dept in p:
            p[dept] = (1 - HISTORY_WEIGHT) * p[dept] + (HISTORY_WEIGHT if dept == recent[0] else 0.0)
        return recent[0]

    def _deciding_words(self, words: list[str], indices: np.ndarray, data: np.ndarray, department: str) -> list[str]:
        direction = self._directions.get(department)
        if direction is None:
            direction = self._directions[department] = self.model.heads["department"].direction(department)
        contributions = self.model.vectorizer.word_contributions(words, indices, data, direction, _meaningful)
        return [w for w, weight in contributions if weight > 0][:4]

    def _intent(self, intent_p: np.ndarray | None, row: int, department: str) -> tuple[str | None, float | None]:
        if intent_p is None:
            return None, None
        classes = self.model.heads["intent"].classes
        allowed = [i for i, name in enumerate(classes) if INTENTS.get(name, (department,))[0] == department]
        if not allowed:
            return None, None
        probs = intent_p[row]
        best = max(allowed, key=lambda i: probs[i])
        share = probs[best] / max(float(probs[allowed].sum()), 1e-9)
        return classes[best], round(float(share), 4)

    def _priority(
        self, prio_p: np.ndarray | None, row: int, text: str, words: list[str], intent: str | None, sentiment: float
    ) -> tuple[str, list[str]]:
        priority = "normal"
        if prio_p is not None:
            classes = self.model.heads["priority"].classes
            priority = classes[int(prio_p[row].argmax())]
        level, said = self.lexicon.urgency_of(text, words)
        if level in ("urgent", "high"):
            priority = _max_priority(priority, level)
        elif level == "low" and priority == "normal":
            priority = "low"
        if intent in URGENT_BY_NATURE:
            priority = _max_priority(priority, URGENT_BY_NATURE[intent])
            said = said + [intent.replace("_", " ")]
        if sentiment <= -0.6 and priority in ("low", "normal"):
            priority = "high"
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


@functools.cache
def default_triager(threshold: float = 0.65) -> Triager:
    return Triager(default_model(), threshold=threshold)
