"""Deterministic partition of a dataset's images among workers.

Shard membership depends only on the image id (a stable hash), never on dataset order or
on the process, so ``n`` workers — torchrun ranks or ``--shard i/n`` on several machines —
cover every image exactly once and agree without talking to each other.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from xai_eval.errors import InputValidationError


@dataclass(frozen=True)
class Shard:
    """Worker ``index`` of ``count`` (0-based)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise InputValidationError(
                f"shard {self.index}/{self.count} is invalid: need 0 <= i < n, e.g. --shard 0/4"
            )

    @property
    def is_partial(self) -> bool:
        return self.count > 1

    def owns(self, image_id: str) -> bool:
        """Whether this worker processes ``image_id``."""
        return self.count == 1 or shard_of(image_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(image_id: str, count: int) -> int:
    """The shard (0..count-1) an image id belongs to: a stable hash, modulo ``count``."""
    digest = hashlib.blake2b(image_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def parse_shard(text: str | None) -> Shard | None:
    """``"i/n"`` -> Shard(i, n); ``None`` -> None."""
    if text is None:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputValidationError(
            f"--shard must look like i/n (worker i of n, 0-based), e.g. 0/4; got {text!r}"
        ) from None
    return Shard(index, count)


def shard_from_env() -> Shard:
    """torchrun's ``RANK``/``WORLD_SIZE`` when set, else the whole dataset."""
    world = os.environ.get("WORLD_SIZE")
    rank = os.environ.get("RANK")
    if world is None or rank is None:
        return Shard()
    try:
        return Shard(int(rank), int(world))
    except ValueError:
        raise InputValidationError(
            f"RANK={rank!r} / WORLD_SIZE={world!r} are not integers"
        ) from None
