"""routing: presence, capacity, routing policy; SLA calendars, policies and clocks; the outbox

Revision ID: 17bb2be2280c
Revises: 5345a0e420b4
Create Date: 2026-11-26 11:54:09.348070
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tierdesk.db

revision = '17bb2be2280c'
down_revision = '5345a0e420b4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # (existing rows get defaults: agents offline, queues routing to the longest idle agent)
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_next_attempt_at', ['next_attempt_at'], unique=False, postgresql_where=sa.text('delivered_at IS NULL AND failed_at IS NULL'), sqlite_where=sa.text('delivered_at IS NULL AND failed_at IS NULL'))

    op.create_table('agent_capacities',
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('work_kind', sa.Enum('phone', 'chat', 'email', name='work_kind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('max_active', sa.SmallInteger(), nullable=False),
    sa.CheckConstraint('max_active BETWEEN 0 AND 1000', name=op.f('ck_agent_capacities_max_active_range')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_capacities_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agent_id', 'work_kind', name=op.f('pk_agent_capacities'))
    )
    op.create_table('business_calendars',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('brand_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('weekly_hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('holidays', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_business_calendars_brand_id_brands'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_calendars')),
    sa.UniqueConstraint('brand_id', 'slug', name=op.f('uq_business_calendars_brand_id_slug'))
    )
    op.create_table('presence_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('before', sa.Enum('available', 'busy', 'away', 'offline', name='presence_before', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('after', sa.Enum('available', 'busy', 'away', 'offline', name='presence_after', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('changed_by_agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_presence_changes_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['changed_by_agent_id'], ['agents.id'], name=op.f('fk_presence_changes_changed_by_agent_id_agents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_presence_changes'))
    )
    with op.batch_alter_table('presence_changes', schema=None) as batch_op:
        batch_op.create_index('ix_presence_changes_agent_id_id', ['agent_id', 'id'], unique=False)

    op.create_table('sla_policies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('brand_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('department', sa.Enum('CS', 'TS', name='department', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('priority', sa.Enum('low', 'normal', 'high', 'urgent', name='priority', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('calendar_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('first_response_minutes', sa.Integer(), nullable=True),
    sa.Column('next_response_minutes', sa.Integer(), nullable=True),
    sa.Column('resolution_minutes', sa.Integer(), nullable=True),
    sa.Column('warn_before_minutes', sa.Integer(), nullable=False),
    sa.Column('escalate_on_breach', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('warn_before_minutes >= 0', name=op.f('ck_sla_policies_warn_before_positive')),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_sla_policies_brand_id_brands'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['calendar_id'], ['business_calendars.id'], name=op.f('fk_sla_policies_calendar_id_business_calendars')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('brand_id', 'slug', name=op.f('uq_sla_policies_brand_id_slug'))
    )
    op.create_table('sla_clocks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('brand_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('policy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('metric', sa.Enum('first_response', 'next_response', 'resolution', name='sla_metric', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('target_seconds', sa.Integer(), nullable=False),
    sa.Column('started_at', tierdesk.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('elapsed_seconds', sa.Float(), nullable=False),
    sa.Column('running_since', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warn_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warned_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('breached_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_sla_clocks_brand_id_brands'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.id'], name=op.f('fk_sla_clocks_policy_id_sla_policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_sla_clocks_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_clocks'))
    )
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.create_index('ix_sla_clocks_due_unbreached', ['due_at'], unique=False, postgresql_where=sa.text('breached_at IS NULL AND due_at IS NOT NULL'), sqlite_where=sa.text('breached_at IS NULL AND due_at IS NOT NULL'))
        batch_op.create_index('ix_sla_clocks_ticket_id_id', ['ticket_id', 'id'], unique=False)
        batch_op.create_index('ix_sla_clocks_warn_unwarned', ['warn_at'], unique=False, postgresql_where=sa.text('warned_at IS NULL AND warn_at IS NOT NULL'), sqlite_where=sa.text('warned_at IS NULL AND warn_at IS NOT NULL'))

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('presence', sa.Enum('available', 'busy', 'away', 'offline', name='presence_status', native_enum=False, create_constraint=True, length=16), nullable=False, server_default='offline'))
        batch_op.add_column(sa.Column('presence_since', tierdesk.db.UTCDateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()))
        batch_op.add_column(sa.Column('idle_since', tierdesk.db.UTCDateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()))

    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routing_policy', sa.Enum('longest_idle', 'least_loaded', 'round_robin', name='routing_policy', native_enum=False, create_constraint=True, length=16), nullable=False, server_default='longest_idle'))
        batch_op.add_column(sa.Column('round_robin_last_agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('overflow_queue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('overflow_after_seconds', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_queues_overflow_queue_id_queues'), 'queues', ['overflow_queue_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routable_since', tierdesk.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_due_at', tierdesk.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reopen_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('reopens_escalated', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_tickets_queue_routable_since', ['queue_id', 'routable_since'], unique=False, postgresql_where=sa.text('routable_since IS NOT NULL'), sqlite_where=sa.text('routable_since IS NOT NULL'))

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_queue_routable_since', postgresql_where=sa.text('routable_since IS NOT NULL'), sqlite_where=sa.text('routable_since IS NOT NULL'))
        batch_op.drop_column('reopens_escalated')
        batch_op.drop_column('reopen_count')
        batch_op.drop_column('sla_due_at')
        batch_op.drop_column('routable_since')

    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_queues_overflow_queue_id_queues'), type_='foreignkey')
        batch_op.drop_column('overflow_after_seconds')
        batch_op.drop_column('overflow_queue_id')
        batch_op.drop_column('round_robin_last_agent_id')
        batch_op.drop_column('routing_policy')

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('idle_since')
        batch_op.drop_column('presence_since')
        batch_op.drop_column('presence')

    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_clocks_warn_unwarned', postgresql_where=sa.text('warned_at IS NULL AND warn_at IS NOT NULL'), sqlite_where=sa.text('warned_at IS NULL AND warn_at IS NOT NULL'))
        batch_op.drop_index('ix_sla_clocks_ticket_id_id')
        batch_op.drop_index('ix_sla_clocks_due_unbreached', postgresql_where=sa.text('breached_at IS NULL AND due_at IS NOT NULL'), sqlite_where=sa.text('breached_at IS NULL AND due_at IS NOT NULL'))

    op.drop_table('sla_clocks')
    op.drop_table('sla_policies')
    with op.batch_alter_table('presence_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_presence_changes_agent_id_id')

    op.drop_table('presence_changes')
    op.drop_table('business_calendars')
    op.drop_table('agent_capacities')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_next_attempt_at', postgresql_where=sa.text('delivered_at IS NULL AND failed_at IS NULL'), sqlite_where=sa.text('delivered_at IS NULL AND failed_at IS NULL'))

    op.drop_table('outbox')
    # ### end Alembic commands ###
