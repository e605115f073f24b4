"""Where SQL lives (the README's Layout section says it): a domain's statements are in its repository.py, except in
the two modules whose statements are their algorithm, the routing pass (routing/router.py) and the ticket mutations
(tickets/mutations.py, with the router's bulk compare-and-set). Services, APIs, tasks and the rest call those.
`db.get(Model, id)` and `db.add(row)` are fine anywhere: they are the session's identity map, not queries."""

from __future__ import annotations

import ast
import pathlib

import tierdesk

ROOT = pathlib.Path(tierdesk.__file__).parent
SQL_HOME = {"repository.py", "router.py", "mutations.py", "models.py"}  # models: the schema (index conditions)
BUILDERS = {"sa.select", "sa.update", "sa.insert", "sa.delete", "sa.exists", "sa.text", "select", "update", "insert",
            "delete", "exists", "text"}


def statements_outside_repositories(root: pathlib.Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if len(rel.parts) < 2 or rel.parts[0] == "migrations" or rel.name in SQL_HOME:
            continue  # top-level modules (app, cli, db, migrate, demo) are infrastructure and composition roots
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in BUILDERS:
                found.append(f"{rel.as_posix()}:{node.lineno} {ast.unparse(node)[:70]}")
    return found


def test_domain_statements_live_in_repositories():
    assert statements_outside_repositories(ROOT) == []


def test_the_check_finds_a_statement_in_a_service(tmp_path):
    (tmp_path / "tickets").mkdir()
    (tmp_path / "tickets" / "service.py").write_text("import sqlalchemy as sa\n\ndef f(db):\n"
                                                     "    return db.scalar(sa.select(1))\n")
    (tmp_path / "tickets" / "repository.py").write_text("import sqlalchemy as sa\nQ = sa.select(1)\n")
    assert statements_outside_repositories(tmp_path) == ["tickets/service.py:4 sa.select(1)"]
