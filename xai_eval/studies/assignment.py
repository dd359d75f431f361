"""Which items a participant sees, in which order, and how they are placed.

- **Balanced assignment.** Each new participant gets the ``k`` main items shown least so
  far (ties broken at random). With counts in ``{m, m+1}`` before a start, they stay within
  one of each other after it, so every stimulus ends with a number of ratings that differs
  by at most one from every other (the paper's "9 ratings per visualization" is the
  special case ``participants * k = 9 * items``). With ``distinct_images`` an image is not
  shown twice to one participant (class discrimination: seeing one image under two
  techniques would reveal the answer); images with the most least-shown items go first,
  which keeps the within-one guarantee for images with equally many items.
- **Conditions between subjects** (tasks with ``between_subjects``, e.g. model
  prediction): a new participant is given the condition with the fewest participants so
  far (random among ties), so group sizes never differ by more than one.
- **Order.** Practice items first (in random order), then the main items in random order
  with attention checks inserted at random positions (never first).
- **Counterbalancing.** The left/right (or option-order) flip of an item alternates over
  its successive presentations, starting from a bit derived from the item's key, so each
  layout is shown (almost exactly) half of the time and each presentation has p = 1/2.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Slot:
    """One planned trial: which item and its kind, in sequence order."""

    item_id: int
    kind: str


def choose_balanced(counts: Mapping[int, int], k: int, rng: random.Random,
                    groups: Mapping[int, str] | None = None) -> list[int]:
    """The ``k`` least-shown item ids (random among ties), at most one per group if given.

    ``counts`` maps every eligible item id to how often it has been assigned so far.
    With groups (images), groups are taken in the order (lowest count of any of their
    items, most items at that count, random) and the least-shown item of each is chosen.
    "Most items at the lowest count first" keeps the groups' backlogs level, so no group is
    left with two least-shown items when only one of them can be given to a participant;
    with equal-sized groups the counts then stay within one of each other.
    Returns fewer than ``k`` ids only when there are not enough items (or groups).
    """
    if k < 0:
        raise ValueError(f"trials per participant must be >= 0, got {k}")
    members: dict[object, list[int]] = defaultdict(list)
    for item_id in counts:
        members[groups[item_id] if groups is not None else item_id].append(item_id)

    def priority(group: object) -> tuple[int, int, float]:
        low = min(counts[i] for i in members[group])
        at_low = sum(counts[i] == low for i in members[group])
        return (low, -at_low, rng.random())

    chosen = []
    for group in sorted(members, key=priority)[:k]:
        low = min(counts[i] for i in members[group])
        chosen.append(rng.choice(sorted(i for i in members[group] if counts[i] == low)))
    return chosen


def choose_condition(items: Sequence[Any], shown: Mapping[int, int],
                     rng: random.Random) -> str:
    """The condition a new participant of a between-subjects study is given.

    ``items`` are the study's condition items (``.id``, ``.condition``) and ``shown`` how
    often each was assigned to a participant who counts. Every participant of a condition
    is assigned all of its training items, so a condition's head-count is the largest
    count of any of its items; the least-filled condition wins, random among ties.
    """
    filled: dict[str, int] = {}
    for item in items:
        filled[item.condition] = max(filled.get(item.condition, 0), shown.get(item.id, 0))
    if not filled:
        raise ValueError("a between-subjects study needs items with conditions")
    low = min(filled.values())
    return rng.choice(sorted(c for c, n in filled.items() if n == low))


def build_sequence(practice: Sequence[int], main: Sequence[int], attention: Sequence[int],
                   rng: random.Random) -> list[Slot]:
    """Practice first, then main items shuffled with attention checks at random positions."""
    practice = list(practice)
    rng.shuffle(practice)
    body = [Slot(item_id, "main") for item_id in main]
    rng.shuffle(body)
    for item_id in attention:
        # never at position 0 of the main block, so a check is not the very first trial
        body.insert(rng.randint(1, max(1, len(body))), Slot(item_id, "attention"))
    return [Slot(item_id, "practice") for item_id in practice] + body


def counterbalance_flip(item_key: str, times_shown: int) -> bool:
    """The layout bit for the item's next presentation: alternates, seeded by the key."""
    start = hashlib.sha256(item_key.encode()).digest()[0] & 1
    return bool((start + times_shown) % 2)
