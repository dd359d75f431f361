"""Creating a participant: lock the study, pick balanced items, write the whole sequence.

Writing every :class:`~xai_eval.db.studies.TrialInstance` up front (rather than choosing the
next trial on the fly) is what makes resume exact: the sequence, the placements and the
position are all in the database, and a participant's page is a pure function of it.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from xai_eval.db.studies import Item, Participant, Study, TrialInstance
from xai_eval.studies.assignment import build_sequence, choose_balanced, counterbalance_flip
from xai_eval.studies.tasks import StudyTask

#: default minutes after which an unfinished participant's items are given to others
ABANDON_AFTER_MINUTES = 120


def enrol(session: Session, study: Study, task: StudyTask, token_hash: str, platform: str,
          id_hash: str | None, stored_ids: dict[str, str]) -> Participant:
    """Add a participant with a balanced, shuffled, counterbalanced sequence (not committed).

    The study row is write-locked first (a no-op UPDATE), so concurrent enrolments are
    serialised and each sees the counts the previous one wrote: balance holds under load.
    """
    session.execute(update(Study).where(Study.id == study.id).values(status=Study.status))
    params = study.parameters
    rng = random.Random(secrets.randbits(64))
    items = list(session.scalars(select(Item).where(Item.study_id == study.id)))
    by_kind: dict[str, list[Item]] = {"main": [], "practice": [], "attention": []}
    for item in items:
        by_kind[item.kind].append(item)
    shown = _shown_counts(session, study, int(params.get("abandon_after_minutes",
                                                         ABANDON_AFTER_MINUTES)))
    mains = {item.id: shown.get(item.id, 0) for item in by_kind["main"]}
    groups = ({item.id: item.image_id for item in by_kind["main"]}
              if params.get("distinct_images", False) else None)
    k = int(params.get("trials_per_participant", len(mains)))
    chosen = choose_balanced(mains, k, rng, groups)
    practice = [i.id for i in sorted(by_kind["practice"], key=lambda i: i.key)][
        : int(params.get("practice_trials", 0))]
    attention_pool = [i.id for i in by_kind["attention"]]
    attention = rng.sample(attention_pool,
                           min(int(params.get("attention_checks", 0)), len(attention_pool)))
    participant = Participant(study_id=study.id, token_hash=token_hash, platform=platform,
                              platform_id_hash=id_hash, platform_ids=stored_ids)
    session.add(participant)
    session.flush()
    item_by_id = {item.id: item for item in items}
    for index, slot in enumerate(build_sequence(practice, chosen, attention, rng)):
        item = item_by_id[slot.item_id]
        flip = counterbalance_flip(item.key, shown.get(item.id, 0))
        session.add(TrialInstance(
            public_id=secrets.token_urlsafe(16), participant_id=participant.id, item_id=item.id,
            order_index=index, kind=slot.kind, placement=task.placement(item.payload, flip)))
    session.flush()
    session.refresh(participant)
    return participant


def _shown_counts(session: Session, study: Study, abandon_after_minutes: int) -> Counter[int]:
    """How often each item is assigned to a participant who counts for balancing: one who
    completed, or who started less than ``abandon_after_minutes`` ago. Abandoned sessions
    (and excluded/returned participants) free their items, so completed ratings stay
    balanced; an abandoned participant who comes back still finds their own sequence."""
    cutoff = datetime.now(timezone.utc) - timedelta(minutes=abandon_after_minutes)
    counted = or_(Participant.status == "completed",
                  and_(Participant.status == "started", Participant.started_at >= cutoff))
    rows = session.execute(
        select(TrialInstance.item_id)
        .join(Participant, Participant.id == TrialInstance.participant_id)
        .where(Participant.study_id == study.id, counted))
    return Counter(item_id for (item_id,) in rows)
