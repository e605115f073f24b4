"""The signals around the department decision: sentiment, urgency words and language.

Sentiment and urgency come from a hand-written lexicon (lexicon.json, seven languages) so every score can say which
words produced it; language comes from py3langid (a naive Bayes over byte n-grams that ships its model as arrays).
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tierdesk.kit.vocabulary import Priority
from tierdesk.triage.text import tokens

LEXICON_PATH = Path(__file__).parent / "lexicon.json"
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "no", "fi", "cs", "tr", "ru", "ja", "zh", "ar")
NEGATION_WINDOW = 3
MAX_PHRASE = 5  # words in the longest lexicon phrase ("geht gar nichts mehr", "when you get a chance")
EMPHASIS_ALPHA = 15.0  # s / sqrt(s^2 + alpha): a raw sum of word weights squashed into -1..1


def _phrase(entry: str) -> tuple[str, ...]:
    phrase = tuple(tokens(entry))
    if len(phrase) > MAX_PHRASE:  # it could never match: say so rather than carry a dead entry
        raise ValueError(f"lexicon phrase {entry!r} is longer than {MAX_PHRASE} words")
    return phrase


@dataclass(frozen=True)
class Lexicon:
    sentiment: dict[tuple[str, ...], float]
    negators: frozenset[str]
    intensifiers: dict[str, float]
    priority: dict[tuple[str, ...], Priority]  # phrase -> urgent | high | low ("no rush")
    _first_words: dict[int, frozenset[str]] = field(default_factory=dict, compare=False)

    @classmethod
    def load(cls, path: Path = LEXICON_PATH) -> Lexicon:
        raw = json.loads(path.read_text(encoding="utf-8"))
        sentiment: dict[tuple[str, ...], float] = {}
        for entries in raw["sentiment"].values():
            for entry, weight in entries.items():
                if key := _phrase(entry):
                    sentiment[key] = float(weight)
        negators = frozenset(t for words in raw["negators"].values() for w in words for t in tokens(w))
        intensifiers = {}
        for entries in raw["intensifiers"].values():
            for entry, factor in entries.items():
                for t in tokens(entry)[:1]:
                    intensifiers[t] = float(factor)
        priority: dict[tuple[str, ...], Priority] = {}
        for levels in raw["priority"].values():
            for level, phrases in levels.items():
                for entry in phrases:
                    key = _phrase(entry)
                    if key and (key not in priority or Priority(level).rank <= priority[key].rank):
                        priority[key] = Priority(level)  # a phrase in two levels keeps the more urgent
        return cls(sentiment, negators, intensifiers, priority)

    def _matches(self, words: list[str], table: dict[tuple[str, ...], Any]) -> list[tuple[int, tuple[str, ...]]]:
        """Longest phrase matches, left to right, non-overlapping."""
        starts = self._starts(table)
        found, i = [], 0
        while i < len(words):
            if words[i] not in starts:
                i += 1
                continue
            for n in range(MAX_PHRASE, 0, -1):
                key = tuple(words[i : i + n])
                if len(key) == n and key in table:
                    found.append((i, key))
                    i += n
                    break
            else:
                i += 1
        return found

    def _starts(self, table: dict[tuple[str, ...], Any]) -> frozenset[str]:
        key = id(table)
        starts = self._first_words.get(key)
        if starts is None:
            starts = self._first_words[key] = frozenset(phrase[0] for phrase in table)
        return starts

    def sentiment_of(self, text: str, words: list[str] | None = None) -> tuple[float, list[str]]:
        """Sentiment in -1..1 and the words that moved it most (`words`: the text's tokens, if already made)."""
        words = tokens(text) if words is None else words
        total, hits = 0.0, []
        for i, key in self._matches(words, self.sentiment):
            weight = self.sentiment[key]
            before = words[max(0, i - NEGATION_WINDOW) : i]
            if i and words[i - 1] in self.intensifiers:
                weight *= self.intensifiers[words[i - 1]]
            if weight > 0 and any(w in self.negators for w in before):
                weight *= -0.6  # "not great" is mildly negative, not the opposite of great
            elif weight < 0 and self._negated_right_before(words, i):
                weight *= -0.3  # "not bad" is faintly positive; "not working, very frustrating" stays negative
            total += weight
            hits.append((abs(weight), " ".join(key)))
        emphasis = min(text.count("!"), 4) * 0.15
        if total < 0:
            total -= emphasis
        score = total / math.sqrt(total * total + EMPHASIS_ALPHA) if total else 0.0
        return round(score, 3), [w for _, w in sorted(hits, reverse=True)[:3]]

    def _negated_right_before(self, words: list[str], i: int) -> bool:
        j = i - 1
        if j >= 0 and words[j] in self.intensifiers:
            j -= 1
        return j >= 0 and words[j] in self.negators

    def urgency_of(self, text: str, words: list[str] | None = None) -> tuple[Priority | None, list[str]]:
        """The strongest urgency level the words claim (urgent, high or low), and those words."""
        words = tokens(text) if words is None else words
        levels = [(self.priority[key], " ".join(key)) for _, key in self._matches(words, self.priority)]
        for level in sorted(Priority, key=lambda p: p.rank):
            said = [phrase for lvl, phrase in levels if lvl == level]
            if said:
                return level, said[:3]
        return None, []


@functools.cache
def lexicon() -> Lexicon:
    return Lexicon.load()


class LanguageDetector:
    """py3langid restricted to the languages a helpdesk is likely to see; loaded once, on first use.

    `detect_many` walks py3langid's byte automaton for a whole batch at once with NumPy (one step per byte position
    for every text, instead of a Python loop per byte per text) and scores like `LanguageIdentifier.classify`:
    log1p of the feature counts times the naive Bayes table, the length temperature and the softmax. It reads the
    identifier's model arrays, so py3langid is pinned to 0.4 and tests check it agrees with `classify`."""

    HEAD = 200  # characters that decide: enough for the byte n-grams, and long emails stay fast

    def __init__(self, languages: tuple[str, ...] = LANGUAGES):
        self.languages = languages
        self._identifier: Any = None  # py3langid's LanguageIdentifier (untyped)
        self._arrays: Any = None  # its automaton as numpy arrays (nextmove, rowbase, output)
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._identifier is None:
            with self._lock:
                if self._identifier is None:
                    from py3langid import langid

                    identifier = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)
                    identifier.set_languages(list(self.languages))
                    self._arrays = (
                        np.frombuffer(identifier.tk_nextmove, dtype=np.uint32),  # shared, not copied
                        np.asarray(identifier._rowbase, dtype=np.int64),
                        np.asarray(identifier.tk_output, dtype=np.int64),
                    )
                    self._identifier = identifier
        return self._identifier

    def detect_many(self, texts: Sequence[str], fallback: str = "en") -> list[tuple[str, float]]:
        """Language code and probability of each text; too little text to tell gives the fallback."""
        ident = self._get()
        nextmove, rowbase, output = self._arrays
        heads = [t[: self.HEAD] for t in texts]
        rows = [i for i, h in enumerate(heads) if any(ch.isalpha() for ch in h)]
        found: list[tuple[str, float]] = [(fallback, 0.0)] * len(texts)
        if not rows:
            return found
        if len(rows) < 4:  # a few texts: py3langid's own walk is quicker than setting up the batch
            for i in rows:
                lang, prob = ident.classify(heads[i])
                prob = round(float(prob), 3)
                found[i] = (fallback, prob) if prob < 0.5 else (str(lang), prob)
            return found
        encoded = [ident._encode(heads[i]) for i in rows]
        lengths = np.array([len(e) for e in encoded])
        width = int(lengths.max())
        text_bytes = np.zeros((len(rows), width), np.int64)
        for r, e in enumerate(encoded):
            text_bytes[r, : len(e)] = np.frombuffer(e, np.uint8)
        # the automaton, all texts in step; positions past a text's end are walked too and masked out below
        state = np.zeros(len(rows), np.int64)
        features = np.empty((len(rows), width), np.int64)
        for i in range(width):
            state = nextmove[rowbase[state] + text_bytes[:, i]].astype(np.int64)
            features[:, i] = output[state]
        seen = (features >= 0) & (np.arange(width) < lengths[:, None])
        row_of, _ = np.nonzero(seen)
        keys, counts = np.unique(row_of * len(output) + features[seen], return_counts=True)
        key_rows, key_features = keys // len(output), keys % len(output)
        weights = np.log1p(counts.astype(np.float32))[:, None] * ident.nb_ptc[key_features].astype(np.float32)
        scores = np.zeros((len(rows), len(ident.nb_classes)), np.float32)
        present, starts = np.unique(key_rows, return_index=True)  # keys are sorted by row
        scores[present] = np.add.reduceat(weights, starts, axis=0) + ident.nb_pc
        # (a text with no features keeps zeros: uniform, so the fallback)
        scores *= (1.0 / np.sqrt(np.maximum(lengths, 1)))[:, None].astype(np.float32)
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
        for i, j in ident._alias_pairs:
            scores[:, i] += scores[:, j]
            scores[:, j] = 0.0
        best = scores.argmax(axis=1)
        for r, i in enumerate(rows):
            prob = round(float(scores[r, best[r]]), 3)
            found[i] = (fallback, prob) if prob < 0.5 else (str(ident.nb_classes[best[r]]), prob)
        return found


language_detector = LanguageDetector()
