"""The triage decision with the shipped model: department, intent, priority, sentiment, language, confidence and the
words behind them; the same answer for the same input."""

from __future__ import annotations

import pytest

from tierdesk.kit.vocabulary import Department, Priority
from tierdesk.triage.decision import TriageInput, Triager
from tierdesk.triage.labels import INTENTS


@pytest.fixture(scope="module")
def triager() -> Triager:
    return Triager.load(None, threshold=0.65)


# Clear-cut messages, short and long, in English and German: the default model must get every one right.
PEOPLE_PROBLEMS = [
    "I was charged twice for my March invoice, please refund the second payment.",
    "Where is my parcel? Order 55102 was supposed to arrive on Monday.",
    "I want to cancel my subscription at the end of this month.",
    "Please change the billing address on my account to 12 Hill Road, Leeds.",
    "Ich möchte meinen Vertrag zum nächsten Monat kündigen.",
    "Die Rechnung ist doppelt abgebucht worden, bitte erstatten Sie den Betrag.",
]
PRODUCT_PROBLEMS = [
    "The app crashes every time I open the camera.",
    "My router blinks red and nothing loads since this morning.",
    "I cannot log in, the password reset email never arrives.",
    "Printer says error E-04 and will not print anything.",
    "Seit heute früh habe ich kein Internet, der Router blinkt rot.",
    "Die App stürzt beim Öffnen sofort ab.",
]


@pytest.mark.parametrize("text", PEOPLE_PROBLEMS)
def test_people_problems_go_to_customer_service(triager, text):
    d = triager.decide(TriageInput(text))
    assert d.department == "CS", d.explanation
    assert INTENTS[d.intent][0] == "CS"  # the intent always belongs to the decided department


@pytest.mark.parametrize("text", PRODUCT_PROBLEMS)
def test_product_problems_go_to_technical_support(triager, text):
    d = triager.decide(TriageInput(text))
    assert d.department == "TS", d.explanation
    assert INTENTS[d.intent][0] == "TS"


def test_a_decision_explains_itself_with_words_from_the_message(triager):
    d = triager.decide(TriageInput("The app crashes every time I open the camera."))
    assert d.signals["department"], d
    message_words = {"the", "app", "crashes", "every", "time", "i", "open", "camera"}
    assert all(set(phrase.split()) <= message_words for phrase in d.signals["department"]), d.signals
    assert d.explanation.startswith("Technical Support (")
    assert f"intent {d.intent}" in d.explanation


def test_same_input_same_decision(triager):
    texts = [TriageInput(t) for t in PEOPLE_PROBLEMS + PRODUCT_PROBLEMS]
    first = [d.as_dict() for d in triager.decide_many(texts)]
    again = [triager.decide(t).as_dict() for t in texts]  # one at a time gives what a batch gives
    assert first == again
    assert Triager.load(None, triager.threshold).decide(texts[0]).as_dict() == first[0]


def test_language_is_detected(triager):
    assert triager.decide(TriageInput("Ich habe seit gestern kein Internet mehr.")).language == "de"
    assert triager.decide(TriageInput("I have had no internet since yesterday.")).language == "en"
    assert triager.decide(TriageInput("Je n'ai plus internet depuis hier soir.")).language == "fr"


def test_sentiment_follows_the_tone_and_negation(triager):
    angry = triager.decide(TriageInput("This is unacceptable, the worst service ever. I am furious!!"))
    happy = triager.decide(TriageInput("Thanks a lot, the new router works great."))
    negated = triager.decide(TriageInput("The new router is not great."))
    assert angry.sentiment < -0.5 and angry.signals["sentiment"]
    assert happy.sentiment > 0.3
    assert negated.sentiment < 0 < happy.sentiment
    assert -1.0 <= angry.sentiment <= 1.0


def test_urgency_words_and_outages_raise_priority(triager):
    down = triager.decide(TriageInput("URGENT: our whole office is offline, nobody can work, production down."))
    question = triager.decide(TriageInput("Quick question, no rush: do you offer a student discount?"))
    assert down.priority == "urgent" and down.department == "TS"
    assert down.signals["priority"]
    assert question.priority == "low" and question.department == "CS"


def test_the_threshold_decides_who_triages(triager):
    text = TriageInput("Hello, I have a question about my account.")
    confidence = triager.decide(text).confidence
    assert 0.5 <= confidence <= 1.0
    assert Triager(triager.model, threshold=confidence + 0.0001).decide(text).needs_human
    assert not Triager(triager.model, threshold=confidence).decide(text).needs_human
    assert Triager(triager.model, threshold=1.0).decide(TriageInput(PRODUCT_PROBLEMS[0])).needs_human


def test_an_unsure_message_leans_on_the_customers_recent_department(triager):
    unsure = Triager(triager.model, threshold=0.999)  # below this, every decision counts as unsure
    vague = "hi, it's me again, any news?"
    alone = unsure.decide(TriageInput(vague))
    other = "TS" if alone.department == "CS" else "CS"
    leaned = unsure.decide(TriageInput(vague, recent_departments=(other,)))
    assert leaned.signals["history"] == [f"customer's recent {other} ticket"]
    assert leaned.department == other or leaned.confidence < alone.confidence
    sure = triager.decide(TriageInput(PRODUCT_PROBLEMS[0], recent_departments=("CS",)))
    assert sure.department == "TS" and "history" not in sure.signals  # a clear message is not overruled


def test_batched_language_detection_agrees_with_py3langid():
    """detect_many walks py3langid's automaton for a whole batch with NumPy; it must decide as py3langid does."""
    from tierdesk.triage.corpus import example_rows
    from tierdesk.triage.signals import LanguageDetector

    detector = LanguageDetector()
    texts = [r.text for r in example_rows()][:600] + [
        "", "12345 678", "OK", "HELLO WORLD THIS IS ALL CAPS", "ça marche pas du tout", "Zażółć gęślą jaźń",
        "x" * 500, "Der Router blinkt rot " * 30,
    ]
    ident = detector._get()

    def reference(text: str) -> tuple[str, float]:
        head = text[: detector.HEAD]
        if not any(ch.isalpha() for ch in head):
            return "en", 0.0
        lang, prob = ident.classify(head)
        prob = round(float(prob), 3)
        return ("en", prob) if prob < 0.5 else (str(lang), prob)

    expected = [reference(t) for t in texts]
    batched = detector.detect_many(texts)
    assert [lang for lang, _ in batched] == [lang for lang, _ in expected]
    assert max(abs(a[1] - b[1]) for a, b in zip(batched, expected, strict=True)) <= 0.002
    assert detector.detect_many(texts[:2]) == expected[:2]  # the small-batch path
    assert {lang for lang, _ in batched} >= {"en", "de", "fr", "es"}


def test_decisions_speak_the_shared_vocabulary(triager):
    d = triager.decide(TriageInput("Production down: the whole site is unreachable for all our users!"))
    assert d.department is Department.TS and d.priority is Priority.URGENT
    assert triager.read(TriageInput("refund please")).decide((Department.CS,)).department is Department.CS
    with pytest.raises(TypeError):
        Triager(triager.model)  # the threshold comes from the settings: no default of triage's own
