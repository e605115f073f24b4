"""chat: per-brand chat settings, a conversation per chat ticket, and its event log numbered by seq

Revision ID: e7c1a3f9d2b6
Revises: b81d5e0c3a27
Create Date: 2026-12-02 11:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tierdesk.db

revision = 'e7c1a3f9d2b6'
down_revision = 'b81d5e0c3a27'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chat_settings',
    sa.Column('brand_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('allowed_origins', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('pre_chat_form', sa.Boolean(), nullable=False),
    sa.Column('calendar_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('identity_secret_sealed', sa.Text(), nullable=True),
    sa.Column('updated_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_chat_settings_brand_id_brands'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['calendar_id'], ['business_calendars.id'], name=op.f('fk_chat_settings_calendar_id_business_calendars'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('brand_id', name=op.f('pk_chat_settings'))
    )
    op.create_table('chat_conversations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('brand_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('visitor_id', sa.String(length=200), nullable=False),
    sa.Column('visitor_name', sa.String(length=200), nullable=True),
    sa.Column('visitor_email', sa.String(length=320), nullable=True),
    sa.Column('status', sa.Enum('waiting', 'active', 'ended', name='chat_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('customer_delivered_seq', sa.Integer(), nullable=False),
    sa.Column('customer_read_seq', sa.Integer(), nullable=False),
    sa.Column('agent_delivered_seq', sa.Integer(), nullable=False),
    sa.Column('agent_read_seq', sa.Integer(), nullable=False),
    sa.Column('email_offered_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('continued_by_email', sa.Boolean(), nullable=False),
    sa.Column('customer_connection', sa.String(length=32), nullable=True),
    sa.Column('customer_left_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.Enum('agent', 'customer', 'system', 'integration', name='actor_kind', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('ended_by_agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('ended_reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_chat_conversations_agent_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_chat_conversations_brand_id_brands'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_chat_conversations_customer_id_customers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ended_by_agent_id'], ['agents.id'], name=op.f('fk_chat_conversations_ended_by_agent_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_chat_conversations_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_conversations'))
    )
    with op.batch_alter_table('chat_conversations', schema=None) as batch_op:
        batch_op.create_index('ix_chat_conversations_open', ['status'], unique=False, postgresql_where=sa.text("status <> 'ended'"), sqlite_where=sa.text("status <> 'ended'"))
        batch_op.create_index('ix_chat_conversations_ticket_id', ['ticket_id'], unique=False)

    op.create_table('chat_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('message', 'delivered', 'read', 'agent_joined', 'agent_left', 'email_offered', 'ended', name='chat_event_kind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('actor_kind', sa.Enum('agent', 'customer', 'system', 'integration', name='actor_kind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_chat_events_agent_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['chat_conversations.id'], name=op.f('fk_chat_events_conversation_id_chat_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_chat_events_message_id_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_events')),
    sa.UniqueConstraint('conversation_id', 'actor_kind', 'client_id', name=op.f('uq_chat_events_conversation_id_actor_kind_client_id')),
    sa.UniqueConstraint('conversation_id', 'seq', name=op.f('uq_chat_events_conversation_id_seq'))
    )


def downgrade() -> None:
    op.drop_table('chat_events')
    with op.batch_alter_table('chat_conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_conversations_ticket_id')
        batch_op.drop_index('ix_chat_conversations_open', postgresql_where=sa.text("status <> 'ended'"), sqlite_where=sa.text("status <> 'ended'"))

    op.drop_table('chat_conversations')
    op.drop_table('chat_settings')
