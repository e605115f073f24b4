"""Fitting triage models and scoring them.

One routine fits every model tierdesk has: the shipped default, a deployment's retrained model (`--from-db`) and a
model for any CSV label set. Rows carry a label per head (None where a row has no label for that head) and a weight,
so sources of different size and trust can be mixed without one drowning the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from tierdesk.triage.features import Vectorizer, WordPieceEmbedder
from tierdesk.triage.model import Head, TriageModel


@dataclass
class LabelledText:
    text: str
    labels: dict[str, str | None]
    weight: float = 1.0
    source: str = ""


@dataclass
class TrainingOptions:
    min_df: int = 2
    c: float = 10.0  # inverse regularisation strength of every head
    # How much the meaning block (static embeddings) counts against the word and character blocks. 2.0 measured
    # best for a CSV label set with thousands of rows (CLINC150); the triage models use TRIAGE_OPTIONS.
    dense_weight: float = 2.0
    max_iter: int = 2000
    balanced_heads: frozenset[str] = frozenset({"department"})  # heads whose classes are weighted to equal mass
    head_c: dict[str, float] = field(default_factory=dict)


# The shipped and the deployment-retrained models: on a few thousand hand-written rows the embeddings at full weight
# pull a message toward whatever example sounds alike and cost accuracy on messages written by others; at 1.0 they
# still carry unseen words. Every word is kept (min_df 1): with few rows per intent a word seen once still teaches.
# Measured with bench/triage.py: department balanced accuracy on the holdout and tickets_multilang, intent accuracy.
TRIAGE_OPTIONS = TrainingOptions(dense_weight=1.0, min_df=1)


def train(
    rows: Sequence[LabelledText],
    heads: Sequence[str],
    embedder: WordPieceEmbedder | None = None,
    options: TrainingOptions | None = None,
    progress: Callable[[str], None] | None = None,
    info: dict[str, Any] | None = None,
) -> TriageModel:
    options = options or TrainingOptions()
    say = progress or (lambda _msg: None)
    texts = [r.text for r in rows]
    say("building features")
    vectorizer = Vectorizer.fit(texts, embedder, min_df=options.min_df, dense_weight=options.dense_weight)
    x = vectorizer.transform(texts).stacked()
    weights = np.array([r.weight for r in rows], dtype=np.float64)
    fitted: dict[str, Head] = {}
    for name in heads:
        keep = np.array([r.labels.get(name) is not None for r in rows])
        labels = cast("list[str]", [r.labels[name] for r, k in zip(rows, keep, strict=True) if k])  # kept: set
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError(f"head {name!r} needs at least two different labels, got {classes}")
        say(f"fitting {name} ({len(labels)} rows, {len(classes)} classes)")
        clf = LogisticRegression(
            C=options.head_c.get(name, options.c),
            max_iter=options.max_iter,
            class_weight="balanced" if name in options.balanced_heads else None,
        )
        clf.fit(x[keep], labels, sample_weight=weights[keep])
        coef = clf.coef_.T.astype(np.float32)
        bias = clf.intercept_.astype(np.float32)
        if len(clf.classes_) == 2:  # one logit -> two symmetric columns, so every head is a softmax
            coef = np.hstack([-coef / 2, coef / 2])
            bias = np.array([-bias[0] / 2, bias[0] / 2], dtype=np.float32)
        fitted[name] = Head([str(c) for c in clf.classes_], coef, bias)
    return TriageModel(vectorizer, fitted, dict(info or {}))


@dataclass
class Scores:
    n: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    labels: list[str]
    confusion: list[list[int]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "balanced_accuracy": round(self.balanced_accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "labels": self.labels,
            "confusion": self.confusion,
        }


def score(truth: Sequence[str], predicted: Sequence[str]) -> Scores:
    labels = sorted(set(truth) | set(predicted))
    return Scores(
        n=len(truth),
        accuracy=float(accuracy_score(truth, predicted)),
        balanced_accuracy=float(balanced_accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        labels=labels,
        confusion=confusion_matrix(truth, predicted, labels=labels).tolist(),
    )
