"""Balanced assignment, randomised order and counterbalanced placement."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from xai_eval.db.studies import Item, TrialInstance
from xai_eval.studies import participant_service as service
from xai_eval.studies.assignment import build_sequence, choose_balanced, counterbalance_flip
from xai_eval.studies.platform import PlatformVisit


@pytest.mark.parametrize("seed", range(20))
def test_choose_balanced_keeps_counts_within_one(seed):
    rng = random.Random(seed)
    n_items, k = rng.randint(3, 30), rng.randint(1, 12)
    k = min(k, n_items)
    counts = dict.fromkeys(range(n_items), 0)
    for _ in range(rng.randint(1, 40)):
        for item in choose_balanced(counts, k, rng):
            counts[item] += 1
        assert max(counts.values()) - min(counts.values()) <= 1


@pytest.mark.parametrize("seed", range(10))
def test_choose_balanced_with_distinct_images(seed):
    """One item per image per participant, counts still within one (4 techniques/image)."""
    rng = random.Random(seed)
    images, per_image = rng.randint(5, 20), 4
    k = rng.randint(1, images)
    groups = {i: f"img{i // per_image}" for i in range(images * per_image)}
    counts = dict.fromkeys(groups, 0)
    for _ in range(30):
        chosen = choose_balanced(counts, k, rng, groups)
        assert len(chosen) == k and len({groups[i] for i in chosen}) == k
        for item in chosen:
            counts[item] += 1
        assert max(counts.values()) - min(counts.values()) <= 1


def test_sequence_puts_practice_first_and_never_starts_main_with_a_check():
    rng = random.Random(0)
    for _ in range(50):
        slots = build_sequence([1, 2], [10, 11, 12, 13], [90, 91], rng)
        kinds = [s.kind for s in slots]
        assert kinds[:2] == ["practice", "practice"] and kinds[2] == "main"
        assert Counter(kinds) == {"practice": 2, "main": 4, "attention": 2}


def test_order_is_randomised_per_participant():
    orders = {tuple(s.item_id for s in build_sequence([], list(range(8)), [],
                                                      random.Random(seed)))
              for seed in range(20)}
    assert len(orders) > 10


def test_counterbalance_alternates():
    flips = [counterbalance_flip("item-a", shown) for shown in range(10)]
    assert flips.count(True) == 5 and all(a != b for a, b in zip(flips[:-1], flips[1:], strict=True))


def _start_many(factory, slug, n, workers=1):
    def one(_):
        with factory() as s:
            return service.start_or_resume(s, service.get_study(s, slug), PlatformVisit())

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


def _main_counts(factory):
    with factory() as s:
        mains = s.scalars(select(Item.id).where(Item.kind == "main")).all()
        shown = Counter(s.scalars(select(TrialInstance.item_id)
                                  .where(TrialInstance.kind == "main")))
    return {i: shown.get(i, 0) for i in mains}


def test_balanced_assignment_across_participants(study_db):
    factory, slug = study_db
    for _ in range(7):
        _start_many(factory, slug, 1)
        counts = _main_counts(factory)
        assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) == 7 * 4


def test_balanced_under_concurrent_starts(study_db):
    factory, slug = study_db
    started = _start_many(factory, slug, 10, workers=5)
    assert len({s.participant_id for s in started}) == 10
    counts = _main_counts(factory)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) == 40


def test_option_order_is_counterbalanced_per_item(study_db):
    factory, slug = study_db
    _start_many(factory, slug, 10)
    with factory() as s:
        per_item: dict[int, Counter] = {}
        for trial in s.scalars(select(TrialInstance)):
            per_item.setdefault(trial.item_id, Counter())[tuple(trial.placement["options"])] += 1
    for counter in per_item.values():
        values = list(counter.values()) + [0] * (2 - len(counter))
        assert abs(values[0] - values[1]) <= 1


def test_abandoned_sessions_free_their_items(study_db):
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from xai_eval.db.studies import Participant
    from xai_eval.studies.enrolment import _shown_counts

    factory, slug = study_db
    first = _start_many(factory, slug, 1)[0]

    def started(hours_ago):
        with factory() as s:
            s.execute(update(Participant).where(Participant.id == first.participant_id)
                      .values(started_at=datetime.now(timezone.utc)
                              - timedelta(hours=hours_ago)))
            s.commit()
            return _shown_counts(s, service.get_study(s, slug), abandon_after_minutes=120)

    assert sum(started(hours_ago=1).values()) == 6  # 1 practice + 4 main + 1 attention
    assert sum(started(hours_ago=3).values()) == 0  # walked away: items are free again
    with factory() as s:
        s.execute(update(Participant).where(Participant.id == first.participant_id)
                  .values(status="completed"))
        s.commit()
    assert sum(started(hours_ago=3).values()) == 6  # finished participants always count
