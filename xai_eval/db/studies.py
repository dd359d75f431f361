"""Tables of the human studies: definitions, stimuli, participants, trials, answers, audit.

Design choices that protect the data (see the lessons in ``shared/PROTOCOLS.md``):

- The trial sequence of a participant is written once, when the participant starts
  (:class:`TrialInstance`, one row per trial with its order and left/right placement), so a
  refresh, a back button or a new device resumes exactly where the participant was.
- Every answer is one :class:`Response` row, committed as it arrives; ``(participant_id,
  trial_id)`` is unique, so a double submit can never store two answers.
- Answer keys live only in :attr:`Item.answer_key`; nothing that builds a page reads it.
- The browser only ever sees :attr:`TrialInstance.public_id` (random, unguessable) and a
  participant token whose SHA-256 is stored (:attr:`Participant.token_hash`), never the
  token itself; platform ids (Prolific PID, MTurk workerId) are stored as keyed HMAC hashes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xai_eval.db.base import Base


def utcnow() -> datetime:
    """Timezone-aware now (UTC); every timestamp column stores UTC."""
    return datetime.now(timezone.utc)


#: Study life cycle: only ``open`` studies accept new participants.
STUDY_STATUSES = ("draft", "open", "paused", "closed")
#: Participant life cycle.
PARTICIPANT_STATUSES = ("started", "completed", "excluded", "returned")
#: Kinds of item.
ITEM_KINDS = ("main", "practice", "attention")


class Study(Base):
    """One study built from a YAML definition (``studies/*.yaml``)."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: the validated definition as built (JSON), and the SHA-256 of its canonical form
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    definition_hash: Mapped[str] = mapped_column(String(64))
    #: random per-study salt mixed into the platform-id HMAC
    id_salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    items: Mapped[list[Item]] = relationship(back_populates="study", cascade="all, delete-orphan")

    @property
    def parameters(self) -> dict[str, Any]:
        """The study parameters (trials per participant, pay, ...) as built."""
        return dict(self.definition.get("parameters", {}))


class Stimulus(Base):
    """One rendered visualization (PNG) with its provenance; deduplicated by content hash."""

    __tablename__ = "stimulus"
    __table_args__ = (UniqueConstraint("study_id", "content_hash", name="uq_stimulus_study_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    explainer: Mapped[str | None] = mapped_column(String(64))  # None: the plain image
    model: Mapped[str | None] = mapped_column(String(128))
    dataset: Mapped[str] = mapped_column(String(128))
    image_id: Mapped[str] = mapped_column(String(256))
    class_id: Mapped[int | None] = mapped_column(Integer)
    class_name: Mapped[str | None] = mapped_column(String(128))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    mime: Mapped[str] = mapped_column(String(32), default="image/png")
    content_hash: Mapped[str] = mapped_column(String(64))
    #: the PNG bytes, or (for large studies) a path relative to the instance folder
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    file_path: Mapped[str | None] = mapped_column(String(512))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Item(Base):
    """One question that can be shown: its stimuli, what is asked, and the key (server only).

    ``condition`` groups items for the statistics (the explainer for class discrimination,
    the explainer pair for trust). ``payload`` is everything the task needs to build the
    page (stimulus roles, option labels); ``answer_key`` is what scoring needs and is never
    put into a page or API response.
    """

    __tablename__ = "study_item"
    __table_args__ = (UniqueConstraint("study_id", "key", name="uq_study_item_study_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16), default="main")
    condition: Mapped[str] = mapped_column(String(128))
    image_id: Mapped[str] = mapped_column(String(256))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    answer_key: Mapped[dict[str, Any]] = mapped_column(JSON)

    study: Mapped[Study] = relationship(back_populates="items")


class Participant(Base):
    """One person taking one study; identified by a token whose hash is stored."""

    __tablename__ = "participant"
    __table_args__ = (
        UniqueConstraint("study_id", "platform_id_hash", name="uq_participant_study_platform_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    platform: Mapped[str] = mapped_column(String(16), default="direct")
    #: HMAC of the main platform id (PROLIFIC_PID / workerId); NULL for anonymous links
    platform_id_hash: Mapped[str | None] = mapped_column(String(64))
    #: every platform parameter received, values hashed (or plain if the study says so)
    platform_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="started")
    completion_code: Mapped[str | None] = mapped_column(String(64))
    #: HMAC of the platform's own session (Prolific SESSION_ID / MTurk assignmentId): resuming
    #: by platform id needs the same one, so a known participant id alone takes nothing over
    platform_session_hash: Mapped[str | None] = mapped_column(String(64))
    #: set by a researcher: the next visit with this platform id may resume from a new session
    reentry_allowed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    trials: Mapped[list[TrialInstance]] = relationship(
        back_populates="participant", order_by="TrialInstance.order_index",
        cascade="all, delete-orphan",
    )


class TrialInstance(Base):
    """One trial in one participant's sequence: which item, at which position, how placed."""

    __tablename__ = "trial_instance"
    __table_args__ = (
        UniqueConstraint("participant_id", "order_index", name="uq_trial_instance_participant_order"),
        UniqueConstraint("participant_id", "item_id", name="uq_trial_instance_participant_item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("study_item.id", ondelete="CASCADE"),
                                         index=True)
    order_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    #: left/right placement and option order as shown, e.g. {"left": "model_a", ...}
    placement: Mapped[dict[str, Any]] = mapped_column(JSON)

    participant: Mapped[Participant] = relationship(back_populates="trials")
    item: Mapped[Item] = relationship()
    response: Mapped[Response | None] = relationship(back_populates="trial", uselist=False)


class Response(Base):
    """One answer, stored as it arrives; unique per (participant, trial)."""

    __tablename__ = "response"
    __table_args__ = (UniqueConstraint("participant_id", "trial_id", name="uq_response_participant_trial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial_instance.id", ondelete="CASCADE"))
    #: the raw answer as shown (option value, or the rating as displayed)
    answer: Mapped[Any] = mapped_column(JSON)
    #: placement as shown (side -> model / option order), copied for self-contained exports
    side_mapping: Mapped[dict[str, Any]] = mapped_column(JSON)
    correct: Mapped[bool | None] = mapped_column(Boolean)
    #: analysis value: 1/0 for correctness, or the rating recoded so + = the stronger model
    score: Mapped[float | None] = mapped_column(Float)
    rt_ms: Mapped[int] = mapped_column(Integer)
    is_practice: Mapped[bool] = mapped_column(Boolean, default=False)
    is_attention_check: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    trial: Mapped[TrialInstance] = relationship(back_populates="response")


class AuditLog(Base):
    """Who did what to a study: exports, status changes, builds, admin logins."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    study_id: Mapped[int | None] = mapped_column(ForeignKey("study.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)

    #: the study, for showing its slug (loaded with the row: the audit page lists 500)
    study: Mapped[Study | None] = relationship(lazy="joined")


class AdminUser(Base):
    """An administrator; the password is stored as a werkzeug (scrypt/pbkdf2) hash."""

    __tablename__ = "admin_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def set_password(self, password: str) -> None:
        """Hash and store ``password`` (never kept in clear)."""
        from werkzeug.security import generate_password_hash

        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash (constant-time comparison)."""
        from werkzeug.security import check_password_hash

        return check_password_hash(self.password_hash, password)


class RateLimit(Base):
    """One throttle counter: failed logins of an account or a client, enrolments of a client.

    Kept in the database (not in process memory) so every worker thread and every server
    process sees the same count. ``key_hash`` is a SHA-256 of the account name or client
    address, never the value itself. ``blocked_until`` set and in the future: refuse at once.
    """

    __tablename__ = "rate_limit"
    __table_args__ = (UniqueConstraint("scope", "key_hash", name="uq_rate_limit_scope_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: "login_account" | "login_client" | "enrol_client"
    scope: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AdminSession(Base):
    """A logged-in admin browser; the cookie carries a random token whose SHA-256 is here.

    Server-side, so logging out (``revoked_at``), the idle timeout (``last_seen_at``) and
    "log out everywhere" take effect at once, whatever copies of the cookie exist.
    """

    __tablename__ = "admin_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"),
                                          index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
