"""ticket viewers: who has a ticket open in the web UI (viewing or replying) and when their page last checked in,
for the ticket page's collision warning

Revision ID: d05327fc882f
Revises: 5c3e9a71d0f4
Create Date: 2026-12-02 12:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tierdesk.db

revision = 'd05327fc882f'
down_revision = '5c3e9a71d0f4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_viewers',
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.Enum('viewing', 'replying', name='viewer_state', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('seen_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_ticket_viewers_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_viewers_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', 'agent_id', name=op.f('pk_ticket_viewers'))
    )


def downgrade() -> None:
    op.drop_table('ticket_viewers')
