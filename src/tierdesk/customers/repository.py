from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload, selectinload

from tierdesk.brands.models import Brand
from tierdesk.customers.models import Customer, CustomerIdentity
from tierdesk.kit.actors import Principal
from tierdesk.kit.errors import NotFound
from tierdesk.kit.scope import scoped
from tierdesk.kit.vocabulary import IdentityKind, TicketStatus
from tierdesk.tickets.models import Message, Ticket


def get_visible(db: Session, principal: Principal, customer_id: int, *, for_update: bool = False) -> Customer:
    stmt = scoped(sa.select(Customer).where(Customer.id == customer_id), Customer.brand_id, principal).options(
        selectinload(Customer.identities)
    )
    if for_update:
        stmt = stmt.with_for_update()
    customer = db.scalar(stmt)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def identities_matching(db: Session, brand_id: int, wanted: list[tuple[IdentityKind, str]]) -> list[CustomerIdentity]:
    """The brand's identities among `wanted`, each with its customer (one round trip for both: intake's hot path)."""
    if not wanted:
        return []
    return list(
        db.scalars(
            sa.select(CustomerIdentity)
            .where(
                CustomerIdentity.brand_id == brand_id,
                sa.tuple_(CustomerIdentity.kind, CustomerIdentity.value).in_(wanted),
            )
            .options(joinedload(CustomerIdentity.customer, innerjoin=True))
        )
    )


def add_identities(
    db: Session, brand_id: int, customer_id: int, identities: list[tuple[IdentityKind, str]]
) -> set[tuple[IdentityKind, str]]:
    """Give the customer these identities, in one statement; returns those it got. An identity another transaction
    holds already is left to it (ON CONFLICT DO NOTHING: no error, so no savepoint is needed to carry on)."""
    if not identities:
        return set()
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(CustomerIdentity)
        .values([{"brand_id": brand_id, "customer_id": customer_id, "kind": kind, "value": value}
                 for kind, value in identities])
        .on_conflict_do_nothing(index_elements=["brand_id", "kind", "value"])
        .returning(CustomerIdentity.kind, CustomerIdentity.value)
    )
    return {(row.kind, row.value) for row in db.execute(stmt)}


def delete_unused(db: Session, customer_id: int) -> None:
    """Remove a customer made a moment ago in this transaction that turned out to exist already (with its identities,
    by the foreign key's cascade)."""
    db.execute(sa.delete(Customer).where(Customer.id == customer_id))


def search(
    db: Session,
    principal: Principal,
    *,
    brand_id: int | None,
    identity: tuple[IdentityKind, str] | None,
    text: str | None,
    after_id: int | None,
    limit: int,
) -> list[Customer]:
    stmt = scoped(sa.select(Customer), Customer.brand_id, principal).where(Customer.merged_into_id.is_(None))
    if brand_id is not None:
        stmt = stmt.where(Customer.brand_id == brand_id)
    if identity is not None:
        kind, value = identity
        stmt = stmt.where(
            Customer.id.in_(
                sa.select(CustomerIdentity.customer_id).where(
                    CustomerIdentity.kind == kind, CustomerIdentity.value == value
                )
            )
        )
    if text:
        # Prefix match on identities (email, phone, account id) or on the name: what an agent types to find someone.
        like = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Customer.display_name).like(like, escape="\\"),
                Customer.id.in_(
                    sa.select(CustomerIdentity.customer_id).where(
                        sa.func.lower(CustomerIdentity.value).like(like, escape="\\")
                    )
                ),
            )
        )
    if after_id is not None:
        stmt = stmt.where(Customer.id > after_id)
    return list(db.scalars(stmt.options(selectinload(Customer.identities)).order_by(Customer.id).limit(limit + 1)))


def tickets_of(db: Session, customer_id: int, limit: int) -> list[Ticket]:
    return list(
        db.scalars(sa.select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc()).limit(limit))
    )


def ticket_stats(db: Session, customer_id: int) -> tuple[list[str], int]:
    """Channels the customer has used, and how many of their tickets are not yet solved."""
    channels = db.scalars(
        sa.select(Message.channel)
        .where(Message.author_customer_id == customer_id)
        .distinct()
        .order_by(Message.channel)
    )
    open_count = db.scalar(
        sa.select(sa.func.count()).where(
            Ticket.customer_id == customer_id, Ticket.status.not_in((TicketStatus.SOLVED, TicketStatus.CLOSED))
        )
    )
    return [c.value for c in channels], open_count or 0


def move_identities(db: Session, source_id: int, target_id: int) -> None:
    db.execute(sa.update(CustomerIdentity).where(CustomerIdentity.customer_id == source_id)
               .values(customer_id=target_id))


def repoint_merged(db: Session, source_id: int, target_id: int) -> None:
    """Customers merged into the source earlier now point at the target (no chain of pointers)."""
    db.execute(sa.update(Customer).where(Customer.merged_into_id == source_id).values(merged_into_id=target_id))


def email_identities(db: Session, brand_id: int, values: list[str]) -> list[CustomerIdentity]:
    if not values:
        return []
    return list(db.scalars(sa.select(CustomerIdentity).where(
        CustomerIdentity.brand_id == brand_id, CustomerIdentity.kind == IdentityKind.EMAIL,
        CustomerIdentity.value.in_(values))))


# ---- full-text search over tickets, messages and customers (the index: migration 2026-12-02-1230) ------------------
# Each source gives its newest matches first, at most SEARCH_CANDIDATES of them, each with its rank: on a common
# word the newest-first scan stops after a few thousand rows instead of ranking every match in a million messages,
# and a rare word is read from the index whole. customers.search ranks and pages the candidates.

SEARCH_CANDIDATES = 200
SEARCH_CUSTOMERS = 50  # customers matched by name or identity whose tickets are candidates
HIT_START, HIT_END = "\x01", "\x02"  # what the database puts around a matched word in a snippet

_FTS = {name: sa.table(name, sa.column("rowid")) for name in ("search_messages", "search_tickets", "search_customers")}
_SNIPPET_WORDS = 24
_HEADLINE_OPTIONS = (f"StartSel={HIT_START}, StopSel={HIT_END}, MaxWords=30, MinWords=12, MaxFragments=2, "
                     "FragmentDelimiter=\" … \"")
_HEADLINE_CHARS = 20_000  # ts_headline parses what it is given: the start of a long message is enough for a snippet


@dataclass(frozen=True)
class SearchCandidate:
    ticket_id: int
    score: float
    message_id: int | None = None  # the message that matched, for its snippet


def _postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _fts5_match(terms: tuple[str, ...], prefix: bool = True) -> str:
    """An FTS5 query that means exactly the words: each quoted (a quote inside doubled), ANDed, the last a prefix."""
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    return " ".join(quoted) + ("*" if prefix else "")


_WORD = re.compile(r"[^\W_]+")
_RANK_CHARS = 2_000  # SQLite: a candidate is ranked on the start of its text


def _matches_term(word: str, term: str, last: bool) -> bool:
    """Whether a word of a text is one a query word found (SQLite, in Python): the same word, the last query word's
    prefix, or the same stem as Porter's would be, nearly (a shared start of all but the query word's last two
    letters: "charges" for "charged"). Used for ranking and marking only; what matches is the index's answer."""
    if word == term or (last and word.startswith(term)):
        return True
    common = len(term) - 2 if len(term) > 4 else len(term)
    return word[:common] == term[:common] and abs(len(word) - len(term)) <= 3


def _hit_spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    last = len(terms) - 1
    return [m.span() for m in _WORD.finditer(text)
            if any(_matches_term(m.group().lower(), t, i == last) for i, t in enumerate(terms))]


def _text_rank(text: str, terms: tuple[str, ...]) -> float:
    """BM25's term-frequency part over the start of the text (no IDF: every candidate has every word)."""
    hits = len(_hit_spans(text[:_RANK_CHARS], terms))
    words = max(1, len(text[:_RANK_CHARS]) // 6)
    return hits * 2.2 / (hits + 1.2 * (0.25 + 0.75 * words / 60))


def _marked(text: str, terms: tuple[str, ...], *, window: int | None) -> str:
    """The text (or a window of `window` words around its first matched word), matched words between HIT_START and
    HIT_END, as the databases' own snippet functions give it."""
    spans = _hit_spans(text, terms)
    start, end, prefix, suffix = 0, len(text), "", ""
    if window is not None:
        words = [m.span() for m in _WORD.finditer(text)]
        first = next((i for i, w in enumerate(words) if spans and w == spans[0]), 0)
        lo, hi = max(0, first - window // 3), min(len(words), max(0, first - window // 3) + window)
        if words:
            start = words[lo][0] if lo > 0 else 0
            end = words[hi - 1][1] if hi < len(words) else len(text)
            prefix, suffix = ("…" if lo > 0 else ""), ("…" if hi < len(words) else "")
    out, at = [prefix], start
    for a, b in spans:
        if a < start or b > end:
            continue
        out += [text[at:a].replace(HIT_START, "").replace(HIT_END, ""), HIT_START, text[a:b], HIT_END]
        at = b
    out += [text[at:end].replace(HIT_START, "").replace(HIT_END, ""), suffix]
    return "".join(out)


def _fts5_candidates(db: Session, fts_name: str, model: Any, select: list[Any], text: Any,
                     principal: Principal, brand_id: int | None, terms: tuple[str, ...]) -> list[Any]:
    """SQLite: the newest rows that match, their text's start for ranking. The words as they are first (FTS5 walks
    that newest first and stops at the limit), then, when that did not fill the candidates, the last word as a
    prefix too (which reads every word it starts)."""
    fts = _FTS[fts_name]
    found: dict[int, Any] = {}
    for prefix in (False, True):
        stmt = _limit_brand(
            sa.select(fts.c.rowid, *select, sa.func.substr(text, 1, _RANK_CHARS)).select_from(fts)
            .join(model, model.id == fts.c.rowid)
            .where(sa.literal_column(fts_name).op("MATCH")(_fts5_match(terms, prefix)))
            .order_by(fts.c.rowid.desc()).limit(SEARCH_CANDIDATES),
            model.brand_id, principal, brand_id)
        rows = db.execute(stmt).all()
        for row in rows:
            found.setdefault(row[0], row)
        if len(rows) >= SEARCH_CANDIDATES:
            break
    return sorted(found.values(), key=lambda row: -row[0])[:SEARCH_CANDIDATES]


def _tsquery(terms: tuple[str, ...], config: str) -> sa.ColumnElement[Any]:
    """A tsquery that means exactly the words: each a quoted lexeme (a quote doubled, a backslash escaped), ANDed,
    the last a prefix. Stop words drop out (an all-stop-word query matches nothing)."""
    quoted = ["'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms]
    text = " & ".join(quoted) + ":*"
    return sa.func.to_tsquery(sa.literal_column(f"'{config}'::regconfig"), sa.literal(text, sa.Text))


def _tsvector(column: Any, config: str) -> sa.ColumnElement[Any]:
    # Written exactly as the expression indexes are, so the planner uses them.
    return sa.func.to_tsvector(sa.literal_column(f"'{config}'::regconfig"), column)


def _limit_brand(stmt: Any, column: InstrumentedAttribute[int], principal: Principal, brand_id: int | None) -> Any:
    stmt = scoped(stmt, column, principal)
    return stmt.where(column == brand_id) if brand_id is not None else stmt


def search_messages(db: Session, principal: Principal, terms: tuple[str, ...], brand_id: int | None
                    ) -> list[SearchCandidate]:
    """The newest messages that contain every word (the last as a prefix), with their rank."""
    if _postgres(db):
        vector: sa.ColumnElement[Any] = sa.literal_column("messages.search_vector")
        newest = _limit_brand(
            sa.select(Message.id, Message.ticket_id, vector.label("vector"))
            .where(vector.op("@@")(_tsquery(terms, "english")))
            .order_by(Message.id.desc()).limit(SEARCH_CANDIDATES),
            Message.brand_id, principal, brand_id).subquery()
        # Ranked outside the LIMIT, so only the candidates are ranked.
        stmt: sa.Select[Any] = sa.select(newest.c.ticket_id, newest.c.id,
                                         sa.func.ts_rank_cd(newest.c.vector, _tsquery(terms, "english")))
    else:
        rows = _fts5_candidates(db, "search_messages", Message, [Message.ticket_id], Message.body_text, principal,
                                brand_id, terms)
        return [SearchCandidate(ticket_id, _text_rank(text or "", terms), message_id)
                for message_id, ticket_id, text in rows]
    return [SearchCandidate(ticket_id, float(score or 0), message_id)
            for ticket_id, message_id, score in db.execute(stmt)]


def search_subjects(db: Session, principal: Principal, terms: tuple[str, ...], brand_id: int | None
                    ) -> list[SearchCandidate]:
    """The newest tickets whose subject contains every word, with their rank."""
    if _postgres(db):
        vector = _tsvector(Ticket.subject, "english")
        newest = _limit_brand(
            sa.select(Ticket.id, Ticket.subject).where(vector.op("@@")(_tsquery(terms, "english")))
            .order_by(Ticket.id.desc()).limit(SEARCH_CANDIDATES),
            Ticket.brand_id, principal, brand_id).subquery()
        stmt: sa.Select[Any] = sa.select(newest.c.id, sa.func.ts_rank_cd(
            _tsvector(newest.c.subject, "english"), _tsquery(terms, "english")))
    else:
        rows = _fts5_candidates(db, "search_tickets", Ticket, [], Ticket.subject, principal, brand_id, terms)
        return [SearchCandidate(ticket_id, _text_rank(text or "", terms)) for ticket_id, text in rows]
    return [SearchCandidate(ticket_id, float(score or 0)) for ticket_id, score in db.execute(stmt)]


def customers_named(db: Session, principal: Principal, terms: tuple[str, ...], brand_id: int | None) -> list[int]:
    """Customers whose name has every word (the last as a prefix), newest first."""
    if _postgres(db):
        # Every match first (a name's words are rare: the GIN index), then the newest: with ORDER BY id and LIMIT
        # together the planner may walk every customer newest first, testing each name, when nobody matches.
        matching = _limit_brand(sa.select(Customer.id).where(
            _tsvector(sa.func.coalesce(Customer.display_name, ""), "simple").op("@@")(_tsquery(terms, "simple"))),
            Customer.brand_id, principal, brand_id).cte("named").prefix_with("MATERIALIZED")
        stmt = sa.select(matching.c.id).order_by(matching.c.id.desc())
    else:  # ordered by the index's rowid, so the index is read first (not every customer of the brand)
        fts = _FTS["search_customers"]
        stmt = _limit_brand(sa.select(Customer.id).select_from(fts).join(Customer, Customer.id == fts.c.rowid)
                            .where(sa.literal_column("search_customers").op("MATCH")(_fts5_match(terms))),
                            Customer.brand_id, principal, brand_id).order_by(fts.c.rowid.desc())
    return list(db.scalars(stmt.limit(SEARCH_CUSTOMERS)))


def customers_with_identity(db: Session, principal: Principal, *, exact: list[str], prefix: str | None,
                            brand_id: int | None) -> dict[int, bool]:
    """Customers with an identity (email, phone, account id) equal to one of `exact` or starting with `prefix`:
    customer id -> whether the match was exact. One statement each, so each reads its own index range."""
    conditions: list[sa.ColumnElement[bool]] = [CustomerIdentity.value.in_(exact)] if exact else []
    if prefix:
        if _postgres(db):  # LIKE 'prefix%' is what the text_pattern_ops index serves
            like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(CustomerIdentity.value.like(like, escape="\\"))
        else:  # a range over the (binary-collated) index
            conditions.append(sa.and_(CustomerIdentity.value >= prefix, CustomerIdentity.value < prefix + "\U0010ffff"))
    found: dict[int, bool] = {}
    for condition in conditions:
        stmt = _limit_brand(sa.select(CustomerIdentity.customer_id, CustomerIdentity.value).where(condition),
                            CustomerIdentity.brand_id, principal, brand_id)
        if brand_id is not None or not principal.is_admin:
            # With the brands known, every kind too: the (brand, kind, value) index then serves the value's range.
            stmt = stmt.where(CustomerIdentity.kind.in_(list(IdentityKind)))
        for customer_id, value in db.execute(stmt.limit(SEARCH_CUSTOMERS)):
            found[customer_id] = found.get(customer_id, False) or value in exact
    return found


def tickets_of_customers(db: Session, principal: Principal, customer_ids: list[int], brand_id: int | None
                         ) -> list[tuple[int, int]]:
    """(ticket id, customer id) of the newest tickets of these customers."""
    if not customer_ids:
        return []
    stmt = _limit_brand(sa.select(Ticket.id, Ticket.customer_id).where(Ticket.customer_id.in_(customer_ids)),
                        Ticket.brand_id, principal, brand_id)
    return [(t, c) for t, c in db.execute(stmt.order_by(Ticket.id.desc()).limit(SEARCH_CANDIDATES))]


def visible_ticket(db: Session, principal: Principal, ticket_id: int, brand_id: int | None) -> int | None:
    stmt = _limit_brand(sa.select(Ticket.id).where(Ticket.id == ticket_id), Ticket.brand_id, principal, brand_id)
    found: int | None = db.scalar(stmt)
    return found


@dataclass(frozen=True)
class SearchRow:
    ticket: Ticket
    brand_name: str
    customer_name: str | None
    identities: list[str]


def search_rows(db: Session, ticket_ids: list[int]) -> dict[int, SearchRow]:
    """The page's tickets with their brand's and customer's names and the customers' identities: two statements."""
    if not ticket_ids:
        return {}
    rows = db.execute(
        sa.select(Ticket, Brand.name, Customer.display_name)
        .join(Brand, Brand.id == Ticket.brand_id).join(Customer, Customer.id == Ticket.customer_id)
        .where(Ticket.id.in_(ticket_ids))
    ).all()
    identities: dict[int, list[str]] = {}
    customer_ids = {ticket.customer_id for ticket, _, _ in rows}
    for customer_id, value in db.execute(
        sa.select(CustomerIdentity.customer_id, CustomerIdentity.value)
        .where(CustomerIdentity.customer_id.in_(customer_ids)).order_by(CustomerIdentity.id)
    ):
        identities.setdefault(customer_id, []).append(value)
    return {ticket.id: SearchRow(ticket, brand, name, identities.get(ticket.customer_id, []))
            for ticket, brand, name in rows}


def message_snippets(db: Session, terms: tuple[str, ...], message_ids: list[int]) -> dict[int, str]:
    """A short passage of each message around the words, the words between HIT_START and HIT_END."""
    if not message_ids:
        return {}
    if _postgres(db):
        # The markers are taken out of the text first, so every marker in the result is the database's own.
        text = sa.func.translate(sa.func.left(Message.body_text, _HEADLINE_CHARS), HIT_START + HIT_END, "")
        stmt: sa.Select[Any] = sa.select(Message.id, sa.func.ts_headline(
            sa.literal_column("'english'::regconfig"), text, _tsquery(terms, "english"), _HEADLINE_OPTIONS)
        ).where(Message.id.in_(message_ids))
    else:
        # Marked here: FTS5's snippet() needs the MATCH again, and a prefix MATCH costs a read of every word it
        # starts for each row.
        bodies = db.execute(sa.select(Message.id, sa.func.substr(Message.body_text, 1, _HEADLINE_CHARS))
                            .where(Message.id.in_(message_ids)))
        return {message_id: _marked(text or "", terms, window=_SNIPPET_WORDS) for message_id, text in bodies}
    return {message_id: snippet for message_id, snippet in db.execute(stmt)}


def subject_highlights(db: Session, terms: tuple[str, ...], ticket_ids: list[int]) -> dict[int, str]:
    """The subjects of these tickets, their matched words between HIT_START and HIT_END."""
    if not ticket_ids:
        return {}
    if _postgres(db):
        text = sa.func.translate(Ticket.subject, HIT_START + HIT_END, "")
        stmt: sa.Select[Any] = sa.select(Ticket.id, sa.func.ts_headline(
            sa.literal_column("'english'::regconfig"), text, _tsquery(terms, "english"),
            f"StartSel={HIT_START}, StopSel={HIT_END}, HighlightAll=true")).where(Ticket.id.in_(ticket_ids))
    else:
        subjects = db.execute(sa.select(Ticket.id, Ticket.subject).where(Ticket.id.in_(ticket_ids)))
        return {ticket_id: _marked(subject, terms, window=None) for ticket_id, subject in subjects}
    return {ticket_id: subject for ticket_id, subject in db.execute(stmt)}
