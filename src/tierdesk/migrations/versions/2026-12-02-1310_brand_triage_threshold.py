"""A brand's own triage threshold, and the audit filtered by who made the changes.

brands.triage_threshold: the triage confidence below which a new ticket of the brand waits in its triage queue for a
person (0 to 1), set in the admin; NULL keeps the deployment's TIERDESK_TRIAGE_CONFIDENCE_THRESHOLD, so existing
brands behave as before. audit_entries gets an index on (actor_agent_id, id) for /admin/audit's "changes by" filter.

Revision ID: faf4bcbfe3a9
Revises: b64921efd7cd
Create Date: 2026-12-02 17:32:44.427711+00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'faf4bcbfe3a9'
down_revision = 'b64921efd7cd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_actor_agent_id_id', ['actor_agent_id', 'id'], unique=False)

    with op.batch_alter_table('brands', schema=None) as batch_op:
        batch_op.add_column(sa.Column('triage_threshold', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('brands', schema=None) as batch_op:
        batch_op.drop_column('triage_threshold')

    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_actor_agent_id_id')
