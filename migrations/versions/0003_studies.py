"""Human studies: studies, stimuli, items, participants, trial sequences, responses, audit log,
admin users.

Revision ID: 0003_studies
Revises: 0001_base
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003_studies'
down_revision = '0001_base'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_user')),
    sa.UniqueConstraint('username', name=op.f('uq_admin_user_username'))
    )
    op.create_table('study',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('task', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('definition_hash', sa.String(length=64), nullable=False),
    sa.Column('id_salt', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study')),
    sa.UniqueConstraint('slug', name=op.f('uq_study_slug'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_audit_log_study_id_study'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_table('participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('platform_id_hash', sa.String(length=64), nullable=True),
    sa.Column('platform_ids', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('completion_code', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_participant_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participant')),
    sa.UniqueConstraint('study_id', 'platform_id_hash', name='uq_participant_study_platform_id'),
    sa.UniqueConstraint('token_hash', name=op.f('uq_participant_token_hash'))
    )
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participant_study_id'), ['study_id'], unique=False)

    op.create_table('stimulus',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('explainer', sa.String(length=64), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('dataset', sa.String(length=128), nullable=False),
    sa.Column('image_id', sa.String(length=256), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=True),
    sa.Column('class_name', sa.String(length=128), nullable=True),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('mime', sa.String(length=32), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('file_path', sa.String(length=512), nullable=True),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_stimulus_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stimulus')),
    sa.UniqueConstraint('study_id', 'content_hash', name='uq_stimulus_study_hash')
    )
    with op.batch_alter_table('stimulus', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stimulus_study_id'), ['study_id'], unique=False)

    op.create_table('study_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('condition', sa.String(length=128), nullable=False),
    sa.Column('image_id', sa.String(length=256), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('answer_key', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_study_item_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_item')),
    sa.UniqueConstraint('study_id', 'key', name='uq_study_item_study_key')
    )
    with op.batch_alter_table('study_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_item_study_id'), ['study_id'], unique=False)

    op.create_table('trial_instance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=64), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('order_index', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('placement', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['study_item.id'], name=op.f('fk_trial_instance_item_id_study_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_trial_instance_participant_id_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trial_instance')),
    sa.UniqueConstraint('participant_id', 'item_id', name='uq_trial_instance_participant_item'),
    sa.UniqueConstraint('participant_id', 'order_index', name='uq_trial_instance_participant_order'),
    sa.UniqueConstraint('public_id', name=op.f('uq_trial_instance_public_id'))
    )
    with op.batch_alter_table('trial_instance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trial_instance_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trial_instance_participant_id'), ['participant_id'], unique=False)

    op.create_table('response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('trial_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=False),
    sa.Column('side_mapping', sa.JSON(), nullable=False),
    sa.Column('correct', sa.Boolean(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('rt_ms', sa.Integer(), nullable=False),
    sa.Column('is_practice', sa.Boolean(), nullable=False),
    sa.Column('is_attention_check', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_response_participant_id_participant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trial_id'], ['trial_instance.id'], name=op.f('fk_response_trial_id_trial_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response')),
    sa.UniqueConstraint('participant_id', 'trial_id', name='uq_response_participant_trial')
    )
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_participant_id'), ['participant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_participant_id'))

    op.drop_table('response')
    with op.batch_alter_table('trial_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trial_instance_participant_id'))
        batch_op.drop_index(batch_op.f('ix_trial_instance_item_id'))

    op.drop_table('trial_instance')
    with op.batch_alter_table('study_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_item_study_id'))

    op.drop_table('study_item')
    with op.batch_alter_table('stimulus', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stimulus_study_id'))

    op.drop_table('stimulus')
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participant_study_id'))

    op.drop_table('participant')
    op.drop_table('audit_log')
    op.drop_table('study')
    op.drop_table('admin_user')
