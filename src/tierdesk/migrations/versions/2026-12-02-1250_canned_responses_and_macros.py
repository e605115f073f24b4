"""canned responses (a brand's shared prepared answers, or one agent's personal ones) and macros (a brand's one-click
treatments of a ticket: status, priority, tags to add and remove, disposition, assign to me, and a text to insert)

Revision ID: 795fb57a8ec7
Revises: 8c0c6a4d7b48
Create Date: 2026-12-02 12:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tierdesk.db

revision = '795fb57a8ec7'
down_revision = '8c0c6a4d7b48'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('canned_responses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('brand_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_canned_responses_brand_id_brands'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_agent_id'], ['agents.id'], name=op.f('fk_canned_responses_owner_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_responses'))
    )
    with op.batch_alter_table('canned_responses', schema=None) as batch_op:
        batch_op.create_index('ix_canned_responses_brand_title', ['brand_id', 'title'], unique=False)
        batch_op.create_index(batch_op.f('ix_canned_responses_owner_agent_id'), ['owner_agent_id'], unique=False)

    op.create_table('macros',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('brand_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('department', sa.Enum('CS', 'TS', name='macro_department', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('set_status', sa.Enum('new', 'open', 'pending', 'on_hold', 'solved', 'closed', name='macro_status', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('set_priority', sa.Enum('low', 'normal', 'high', 'urgent', name='macro_priority', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('add_tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('remove_tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('disposition', sa.String(length=64), nullable=True),
    sa.Column('assign_to_me', sa.Boolean(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_into', sa.Enum('inbound', 'outbound', 'note', name='macro_text_into', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_macros_brand_id_brands'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_macros')),
    sa.UniqueConstraint('brand_id', 'name', name=op.f('uq_macros_brand_id_name'))
    )


def downgrade() -> None:
    op.drop_table('macros')
    with op.batch_alter_table('canned_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_canned_responses_owner_agent_id'))
        batch_op.drop_index('ix_canned_responses_brand_title')

    op.drop_table('canned_responses')
