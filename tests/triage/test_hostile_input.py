"""Triage under hostile input: whatever arrives, the work per message is bounded (what is read, how long a word may
be, how many word-piece lookups a word costs, how much the caches keep), and the message is still decided."""

from __future__ import annotations

import random
import string

import numpy as np
import pytest

from tierdesk.kit.vocabulary import Department, Priority
from tierdesk.triage import features
from tierdesk.triage import text as triage_text
from tierdesk.triage.decision import TriageInput, Triager
from tierdesk.triage.features import WORD_CACHE_SIZE, WordPieceEmbedder
from tierdesk.triage.text import FOLD_CACHE_SIZE, MAX_BODY_CHARS, MAX_WORD, message_text, tokens

API = "/api/v1"


@pytest.fixture(scope="module")
def triager() -> Triager:
    return Triager.load(None, threshold=0.65)


def random_words(n: int, shortest: int, longest: int, seed: int = 8) -> str:
    rnd = random.Random(seed)
    return " ".join("".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(shortest, longest))) for _ in range(n))


GIANT = random_words(5_000, 20, 99)[:200_000]  # 200,000 characters of random long words
LONG_WORDS = random_words(10_000, 99, 99, seed=9)  # 10,000 random 99-letter words (a million characters)


@pytest.fixture
def feature_work(monkeypatch) -> list[str]:
    """Every word whose n-grams the features compute (words already cached are not computed again)."""
    seen: list[str] = []
    real = features.word_feature_ids

    def counting(word: str, *args):
        seen.append(word)
        return real(word, *args)

    monkeypatch.setattr(features, "word_feature_ids", counting)
    return seen


def test_a_giant_message_is_decided_from_a_bounded_part_of_it(triager, feature_work):
    subject = "Help " * 200  # 1,000 characters
    reading = triager.read(TriageInput(GIANT, subject))
    decision = reading.decide()
    assert decision.department in set(Department) and decision.priority in set(Priority)
    read = message_text(subject, GIANT)
    assert len(read) <= 500 + 1 + MAX_BODY_CHARS  # the subject's first 500 characters, a newline, the body's start
    assert reading.words == tokens(read) and all(len(w) <= MAX_WORD for w in reading.words)
    assert sum(len(w) for w in feature_work) <= len(read)  # n-grams computed only of words read, each at most once
    assert all(len(w) <= MAX_WORD for w in feature_work)


def test_ten_thousand_99_letter_words_are_not_language(triager, feature_work):
    reading = triager.read(TriageInput(LONG_WORDS, "Invoice"))
    assert reading.words == ["invoice"]  # no 99-letter word reaches the features, the embeddings or the lexicon
    assert all(len(w) <= MAX_WORD for w in feature_work)
    only_junk = triager.decide(TriageInput(LONG_WORDS))
    assert only_junk.needs_human  # nothing readable: the model's prior is not a decision
    assert only_junk.department in set(Department)


def test_the_customer_words_are_read_from_the_top():
    problem = "My router blinks red and the internet is gone.\n"
    text = message_text(None, problem + "filler text " * 50_000)
    assert text.startswith(problem) and len(text) == MAX_BODY_CHARS
    quoted = message_text(None, "> an old quoted line\n" * 10 + problem + "On Monday, Bob wrote:\n" + "old " * 9999)
    assert quoted == problem.rstrip("\n")  # quoted history still cut off
    short = "I was charged twice for my order.\nPlease refund it."
    assert message_text("Refund", short) == f"Refund\n{short}"  # an ordinary message is read whole


def test_a_word_piece_match_is_linear_in_the_word_length():
    class CountingIndex(dict):
        lookups = 0

        def __contains__(self, key):
            CountingIndex.lookups += 1
            return super().__contains__(key)

    vocab = ["ab", "##ab", "##b", "a"]
    embedder = WordPieceEmbedder(vocab, np.eye(len(vocab), dtype=np.float32))
    embedder.index = CountingIndex(embedder.index)
    word = "ab" * 5_000  # 10,000 letters: a quadratic match would look up ~50 million candidates
    assert embedder.pieces(word) == [0] + [1] * 4_999
    assert CountingIndex.lookups <= len(word) * embedder.longest_piece
    assert embedder.word_vector(word)[1] == 0  # longer than MAX_WORD: no meaning, whatever its pieces


def test_the_caches_are_bounded(triager):
    v, e = triager.model.vectorizer, triager.model.vectorizer.embedder
    assert WORD_CACHE_SIZE < 20_000
    triager.decide_many([TriageInput(random_words(400, 10, MAX_WORD, seed=s)) for s in range(50)])  # 20,000 words
    for cache in (v._word_cache, v._word_array_cache, v._bigram_cache, e._vectors, triage_text._folded):
        assert 0 < len(cache) <= getattr(cache, "limit", FOLD_CACHE_SIZE)
    assert all(len(word) <= MAX_WORD for word in v._word_cache)


# --- through the API ------------------------------------------------------------------------------------------------


def test_triage_api_decides_giant_messages_and_refuses_oversized_ones(client, world):
    for text in (GIANT, LONG_WORDS[:200_000]):
        r = client.post(f"{API}/triage", json={"text": text}, headers=world.auth("agent"))
        assert r.status_code == 200, r.text[:500]
        assert r.json()["department"] in ("CS", "TS")
    r = client.post(f"{API}/triage", json={"text": "x" * 200_001}, headers=world.auth("agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "text", r.text[:500]
    r = client.post(f"{API}/triage/batch", json={"items": [{"text": "ok"}, {"text": "x" * 200_001}]},
                    headers=world.auth("agent"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "items.1.text", r.text[:500]
    r = client.post(f"{API}/triage/batch", json={"items": [{"text": GIANT}] * 3}, headers=world.auth("agent"))
    assert r.status_code == 200 and len(r.json()["items"]) == 3


def test_a_contact_of_10000_random_99_letter_words_is_accepted_and_waits_for_a_person(client, world):
    html = "<p>" + LONG_WORDS[: 1_000_000 - 7] + "</p>"
    r = client.post(f"{API}/contacts", headers=world.auth("agent"), json={
        "brand": "acme", "channel": "email", "sender": {"email": "fuzz@example.com"}, "body_html": html})
    assert r.status_code == 201, r.text[:500]
    assert r.json()["ticket"]["queue_id"] == world.queues["acme/triage"]
