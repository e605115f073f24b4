"""email: IMAP mailboxes the worker polls, with their UID checkpoint and lease

Revision ID: c4f2a9e1b7d3
Revises: 9bdb155c267f
Create Date: 2026-12-02 03:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tierdesk.db

revision = 'c4f2a9e1b7d3'
down_revision = '9bdb155c267f'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('imap_mailboxes',
    sa.Column('id', _ID, nullable=False),
    sa.Column('brand_id', _ID, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('security', sa.Enum('tls', 'starttls', 'plain', name='mail_security', native_enum=False,
                                  create_constraint=True, length=16), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('password_sealed', sa.Text(), nullable=False),
    sa.Column('folder', sa.String(length=255), nullable=False),
    sa.Column('after_processing', sa.Enum('move', 'flag', name='after_import', native_enum=False,
                                          create_constraint=True, length=16), nullable=False),
    sa.Column('move_to', sa.String(length=255), nullable=False),
    sa.Column('uid_validity', sa.BigInteger(), nullable=True),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('retry_uids', _JSON, nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('claimed_until', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_polled_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_imap_mailboxes_brand_id_brands'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imap_mailboxes')),
    sa.UniqueConstraint('brand_id', 'name', name=op.f('uq_imap_mailboxes_brand_id_name'))
    )
    with op.batch_alter_table('imap_mailboxes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imap_mailboxes_brand_id'), ['brand_id'], unique=False)


def downgrade() -> None:
    op.drop_table('imap_mailboxes')
