"""The admin's list pages ask the database a bounded number of questions, however many agents, codes and audit
entries there are (no query per row)."""

from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

from tests.pages import set_password, sign_in
from tierdesk.agents.schemas import AgentCreate, AgentUpdate, SkillLevel
from tierdesk.agents.service import create_agent, update_agent
from tierdesk.kit.actors import SYSTEM, Principal
from tierdesk.kit.vocabulary import AgentRole
from tierdesk.tickets.schemas import DispositionCreate
from tierdesk.tickets.service import create_disposition


@contextmanager
def counting(database):
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)


def _grow(database, world, n: int, start: int) -> None:
    admin = Principal(agent_id=world.agents["admin"], role=AgentRole.ADMIN, brand_ids=frozenset())
    with database.transaction() as db:
        for i in range(start, start + n):
            agent = create_agent(db, admin, AgentCreate(
                email=f"a{i}@example.com", display_name=f"A{i}", brands=["acme", "globex"],
                skills=[SkillLevel(skill="billing", level=2), SkillLevel(skill="routers", level=3)]))
            update_agent(db, admin, agent.id, AgentUpdate(tier=2))
            create_disposition(db, SYSTEM, DispositionCreate(brand="acme", code=f"code-{i}", label=f"Code {i}"))


def test_admin_pages_ask_a_bounded_number_of_queries(web, world, database):
    set_password(database, world.agents["admin"])
    sign_in(web, "admin@example.com")
    pages = ("/admin/agents", "/admin/audit", "/admin/dispositions", "/admin/brands", "/admin/triage",
             f"/admin/agents/{world.agents['agent']}", "/admin/integrations")
    counts = []
    for n, start in ((3, 0), (30, 100)):
        _grow(database, world, n, start)
        seen = {}
        for path in pages:
            with counting(database) as statements:
                assert web.get(path).status_code == 200, path
            seen[path] = len(statements)
        counts.append(seen)
    assert counts[0] == counts[1]
    assert max(counts[1].values()) <= 12
