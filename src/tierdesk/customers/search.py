"""Full-text search over tickets: their subjects, their messages, and their customers' names, email addresses and
phone numbers; also a ticket by its number. What an agent types is read here into words (nothing of it ever reaches
the index's query syntax as syntax), the sources are asked in customers.repository, and the hits ranked and paged.

Ranking: each source gives its newest SEARCH_CANDIDATES matches with their rank (bm25 on SQLite, ts_rank_cd on
PostgreSQL); a ticket's score is its best message's rank plus twice its subject's, and a ticket number or a
customer's identity above any text. Best first, then newest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from tierdesk.customers import repository
from tierdesk.customers.identity import normalise_email, normalise_phone
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import InvalidInput
from tierdesk.tickets.models import Ticket

MAX_QUERY_CHARS = 200  # what is read of a query; the rest is ignored (and said so)
MAX_TERMS = 8
MAX_TERM_CHARS = 64
MAX_RESULTS = repository.SEARCH_CANDIDATES  # pages stop here: refine the search to go further
DEFAULT_PAGE = 25
MAX_PAGE = 100

_WORD = re.compile(r"[^\W_]+")  # letters and digits in any script: never an operator, a quote or a bracket
_TICKET_NUMBER = re.compile(r"#?(\d{1,18})")
_EMAIL_LIKE = re.compile(r"[^\s@]+@[^\s@]+")
_PHONE_LIKE = re.compile(r"\+?[\d ().-]{6,30}")
_IDENTITY_PREFIX = re.compile(r"[^\s]{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# Scores of the sources that are not text: above any text rank.
_TICKET_NUMBER_SCORE = 1000.0
_EXACT_IDENTITY_SCORE = 500.0
_IDENTITY_PREFIX_SCORE = 200.0
_NAME_SCORE = 100.0
_SUBJECT_WEIGHT = 2.0

Segments = list[tuple[str, bool]]  # a text cut into pieces, each marked when it is a matched word


@dataclass(frozen=True)
class SearchQuery:
    text: str
    terms: tuple[str, ...]
    ticket_id: int | None = None
    identities: tuple[str, ...] = ()  # normalised email address or phone number, matched exactly
    identity_prefix: str | None = None  # the start of an identity value ("ada@", "+4420")
    truncated: bool = False

    @property
    def problem(self) -> str | None:
        if not (self.terms or self.ticket_id or self.identities or self.identity_prefix):
            return ("Type a word from a subject or a message, a customer's name, email address or phone number, "
                    "or a ticket number.")
        return None


def parse(raw: str | None, phone_region: str | None = None) -> SearchQuery:
    """Read what the agent typed: words (letters and digits), a ticket number (#123 or 123), an email address or a
    phone number. Anything else (quotes, operators, brackets, control characters) is only a separator."""
    text = _CONTROL.sub(" ", raw or "").strip()
    truncated = len(text) > MAX_QUERY_CHARS
    if truncated:  # at a space, so no word is cut into a prefix of itself
        text = text[:MAX_QUERY_CHARS]
        text = text.rsplit(" ", 1)[0] if " " in text else text
    terms = tuple(dict.fromkeys(t.lower()[:MAX_TERM_CHARS] for t in _WORD.findall(text)))[:MAX_TERMS]
    ticket_id = None
    number = _TICKET_NUMBER.fullmatch(text)
    if number:
        ticket_id = int(number.group(1))
        if text.startswith("#"):
            terms = ()  # "#123" names a ticket; "123" may also be an order number in a message
    identities: list[str] = []
    if _EMAIL_LIKE.fullmatch(text):
        try:
            identities.append(normalise_email(text))
        except InvalidInput:
            pass
    elif _PHONE_LIKE.fullmatch(text) and sum(c.isdigit() for c in text) >= 6:
        try:
            identities.append(normalise_phone(text, phone_region))
        except InvalidInput:
            pass
    if identities:  # an address or a number is looked up as one, not as its pieces ("com", "44") in every message
        terms = ()
    prefix = None
    if " " not in text and _IDENTITY_PREFIX.fullmatch(text) and ("@" in text or text.startswith("+")):
        prefix = text.lower()
    return SearchQuery(text=text, terms=terms, ticket_id=ticket_id, identities=tuple(identities),
                       identity_prefix=prefix, truncated=truncated)


@dataclass
class SearchResult:
    ticket: Ticket
    brand_name: str
    customer_name: str | None
    customer_identity: str | None  # the customer's identity that matched, else their first
    score: float
    matched_in: list[str]  # "number", "customer", "subject", "message"
    subject: Segments
    snippet: Segments
    customer: Segments  # the customer's name, marked when it matched
    identity: Segments  # the identity shown (the one that matched, else their first), marked when it matched


@dataclass
class SearchResults:
    query: SearchQuery
    results: list[SearchResult] = field(default_factory=list)
    next_offset: int | None = None
    capped: bool = False  # there were more matches than MAX_RESULTS: refine to see the rest


@dataclass
class _Hit:
    score: float = 0.0
    message_id: int | None = None
    message_rank: float = 0.0
    matched_in: list[str] = field(default_factory=list)
    identity_exact: bool | None = None


def segments(marked: str | None) -> Segments:
    """The database's snippet (matched words between HIT_START and HIT_END) as pieces of plain text: the template
    escapes each piece and wraps the matched ones in <mark>, so nothing in the text can become markup."""
    if not marked:
        return []
    out: Segments = []
    hit = False
    for piece in re.split(f"([{repository.HIT_START}{repository.HIT_END}])", marked):
        if piece == repository.HIT_START:
            hit = True
        elif piece == repository.HIT_END:
            hit = False
        elif piece:
            out.append((_CONTROL.sub(" ", piece), hit))
    return out


def _mark_words(text: str, query: SearchQuery) -> Segments:
    """Mark the words of `text` that a query word matches (the last as a prefix), for names: no stemming there."""
    if not query.terms:
        return [(text, False)] if text else []
    out: Segments = []
    last = 0
    *whole, tail = query.terms
    for word in _WORD.finditer(text):
        w = word.group().lower()
        if w in whole or w.startswith(tail):
            if word.start() > last:
                out.append((text[last:word.start()], False))
            out.append((word.group(), True))
            last = word.end()
    if last < len(text):
        out.append((text[last:], False))
    return out


def _mark_prefix(value: str, query: SearchQuery) -> Segments:
    wanted = [v for v in (*query.identities, query.identity_prefix) if v]
    for v in wanted:
        if value == v or value.startswith(v):
            return [(value[:len(v)], True)] + ([(value[len(v):], False)] if len(value) > len(v) else [])
    return [(value, False)]


def search(db: Session, principal: Principal, query: SearchQuery, *, brand_id: int | None = None, offset: int = 0,
           limit: int = DEFAULT_PAGE) -> SearchResults:
    """The tickets the principal may see that match, best first then newest, `limit` of them from `offset`."""
    found = SearchResults(query=query)
    if query.problem:
        return found
    hits: dict[int, _Hit] = {}

    def hit(ticket_id: int) -> _Hit:
        return hits.setdefault(ticket_id, _Hit())

    if query.ticket_id is not None and repository.visible_ticket(db, principal, query.ticket_id, brand_id):
        h = hit(query.ticket_id)
        h.score += _TICKET_NUMBER_SCORE
        h.matched_in.append("number")
    if query.terms:
        for c in repository.search_messages(db, principal, query.terms, brand_id):
            h = hit(c.ticket_id)
            if h.message_id is None or c.score > h.message_rank:
                h.score += c.score - h.message_rank
                h.message_id, h.message_rank = c.message_id, c.score
            if "message" not in h.matched_in:
                h.matched_in.append("message")
        for c in repository.search_subjects(db, principal, query.terms, brand_id):
            h = hit(c.ticket_id)
            h.score += _SUBJECT_WEIGHT * c.score
            h.matched_in.append("subject")
    customers: dict[int, float] = {}
    exact: dict[int, bool] = {}
    if query.terms:
        for customer_id in repository.customers_named(db, principal, query.terms, brand_id):
            customers[customer_id] = _NAME_SCORE
    if query.identities or query.identity_prefix:
        exact = repository.customers_with_identity(db, principal, exact=list(query.identities),
                                                   prefix=query.identity_prefix, brand_id=brand_id)
        for customer_id, is_exact in exact.items():
            score = _EXACT_IDENTITY_SCORE if is_exact else _IDENTITY_PREFIX_SCORE
            customers[customer_id] = max(customers.get(customer_id, 0.0), score)
    for ticket_id, customer_id in repository.tickets_of_customers(db, principal, list(customers), brand_id):
        h = hit(ticket_id)
        h.score += customers[customer_id]
        h.matched_in.append("customer")
        h.identity_exact = exact.get(customer_id)

    ranked = sorted(hits.items(), key=lambda item: (-item[1].score, -item[0]))  # best first, then newest
    found.capped = len(ranked) > MAX_RESULTS
    ranked = ranked[:MAX_RESULTS]
    page = ranked[offset:offset + limit]
    if offset + limit < len(ranked):
        found.next_offset = offset + limit
    ids = [ticket_id for ticket_id, _ in page]
    rows = repository.search_rows(db, ids)
    subjects = repository.subject_highlights(db, query.terms, [t for t, h in page if "subject" in h.matched_in]) \
        if query.terms else {}
    snippets = repository.message_snippets(db, query.terms, [h.message_id for _, h in page if h.message_id]) \
        if query.terms else {}
    for ticket_id, h in page:
        row = rows.get(ticket_id)
        if row is None:  # deleted meanwhile
            continue
        identity = row.identities[0] if row.identities else None
        name: Segments = [(row.customer_name, False)] if row.customer_name else []
        identity_parts: Segments = []
        if "customer" in h.matched_in:
            if h.identity_exact is not None:  # matched by an identity: show that one, marked
                identity = next((v for v in row.identities if _mark_prefix(v, query)[0][1]), identity)
                identity_parts = _mark_prefix(identity or "", query)
            else:
                name = _mark_words(row.customer_name or "", query)
        if identity and not identity_parts:
            identity_parts = [(identity, False)]
        subject = segments(subjects.get(ticket_id)) or [(row.ticket.subject, False)]
        found.results.append(SearchResult(
            ticket=row.ticket, brand_name=row.brand_name, customer_name=row.customer_name, customer_identity=identity,
            score=round(h.score, 6), matched_in=h.matched_in, subject=subject,
            snippet=segments(snippets.get(h.message_id)) if h.message_id else [], customer=name,
            identity=identity_parts,
        ))
    return found


def message_of(found: SearchResults) -> str | None:
    """What to tell the person besides the results, if anything."""
    query = found.query
    if query.problem:
        return query.problem
    notes = []
    if query.truncated:
        notes.append(f"Only the first {MAX_QUERY_CHARS} characters of the search were used.")
    if not found.results and found.next_offset is None:
        notes.append("Nothing matches. Check the spelling, use fewer words, or search for the start of a word.")
    if found.capped and found.next_offset is None:
        notes.append(f"Only the best {MAX_RESULTS} matches are listed: add a word to narrow the search.")
    return " ".join(notes) or None
