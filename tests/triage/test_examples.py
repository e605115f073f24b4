"""The shipped training examples and lexicon are well-formed, and the benchmark's held-out set stays held out."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from tierdesk.kit.vocabulary import Priority
from tierdesk.triage.corpus import EXAMPLES_DIR, example_rows
from tierdesk.triage.labels import INTENTS, SENTIMENTS
from tierdesk.triage.signals import Lexicon
from tierdesk.triage.text import tokens

HOLDOUT = Path(__file__).parents[2] / "bench" / "data" / "triage_holdout.csv"
COLUMNS = ["text", "subject", "department", "intent", "priority", "sentiment", "language"]


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS, path
        return list(reader)


def _key(text: str) -> str:
    return " ".join(tokens(text))


def test_every_example_is_labelled_consistently():
    files = sorted(EXAMPLES_DIR.glob("*.csv"))
    assert files
    rows = [(path.name, row) for path in files for row in _read(path)]
    for name, row in rows:
        where = f"{name}: {row['text'][:60]!r}"
        assert row["intent"] in INTENTS, where
        assert row["department"] == INTENTS[row["intent"]][0], where
        assert row["priority"] in {p.value for p in Priority} and row["sentiment"] in SENTIMENTS, where
        assert len(row["language"]) == 2 and row["text"].strip(), where
    duplicates = [k for k, n in Counter(_key(r["text"]) for _, r in rows).items() if n > 1]
    assert duplicates == []
    # every intent is taught, in both departments' main languages
    for language in ("en", "de"):
        taught = {r["intent"] for _, r in rows if r["language"] == language}
        assert taught == set(INTENTS), (language, set(INTENTS) - taught)
    assert len(example_rows()) == len(rows)


def test_the_holdout_shares_no_message_with_the_training_examples():
    trained = {_key(row["text"]) for path in EXAMPLES_DIR.glob("*.csv") for row in _read(path)}
    held_out = _read(HOLDOUT)
    assert len(held_out) >= 100
    assert {_key(r["text"]) for r in held_out} & trained == set()
    assert {r["department"] for r in held_out} == {"CS", "TS"}


def test_the_lexicon_loads_and_scores_in_several_languages():
    lexicon = Lexicon.load()
    assert lexicon.sentiment_of("absolutely unacceptable and rude")[0] < -0.5
    assert lexicon.sentiment_of("vielen Dank, super schnell erledigt, sehr zufrieden")[0] > 0.3
    assert lexicon.sentiment_of("c'est inadmissible")[0] < 0
    assert lexicon.urgency_of("es geht gar nichts mehr, bitte dringend")[0] == "urgent"
    assert lexicon.urgency_of("no rush, just a quick question")[0] == "low"
    assert lexicon.urgency_of("third time I write, still not fixed")[0] == "high"
