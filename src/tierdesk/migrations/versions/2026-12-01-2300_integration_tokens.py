"""integrations: channel gateways with tokens of their own; ticket events name the integration that acted

Revision ID: a8e1c7d2f301
Revises: 17bb2be2280c
Create Date: 2026-12-01 23:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tierdesk.db

revision = 'a8e1c7d2f301'
down_revision = '17bb2be2280c'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('integrations',
    sa.Column('id', _ID, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('scope', sa.Enum('intake', name='token_scope', native_enum=False, create_constraint=True, length=16),
              nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integrations')),
    sa.UniqueConstraint('digest', name=op.f('uq_integrations_digest')),
    sa.UniqueConstraint('name', name=op.f('uq_integrations_name'))
    )
    op.create_table('integration_brands',
    sa.Column('integration_id', _ID, nullable=False),
    sa.Column('brand_id', _ID, nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_integration_brands_brand_id_brands'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'],
                            name=op.f('fk_integration_brands_integration_id_integrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('integration_id', 'brand_id', name=op.f('pk_integration_brands'))
    )
    # The actor kind gains 'integration' (its CHECK constraint is replaced; SQLite rebuilds the table for it).
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_integration_id', _ID, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ticket_events_actor_integration_id_integrations'), 'integrations',
                                    ['actor_integration_id'], ['id'], ondelete='SET NULL')
        batch_op.drop_constraint(batch_op.f('ck_ticket_events_actor_kind'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_ticket_events_actor_kind'),
            sa.text("actor_kind IN ('agent', 'customer', 'system', 'integration')"),
        )


def downgrade() -> None:
    op.execute("UPDATE ticket_events SET actor_kind = 'system' WHERE actor_kind = 'integration'")
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ticket_events_actor_kind'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_ticket_events_actor_kind'), sa.text("actor_kind IN ('agent', 'customer', 'system')")
        )
        batch_op.drop_constraint(batch_op.f('fk_ticket_events_actor_integration_id_integrations'),
                                 type_='foreignkey')
        batch_op.drop_column('actor_integration_id')
    op.drop_table('integration_brands')
    op.drop_table('integrations')
