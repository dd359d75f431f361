"""Random streams per (seed, metric, image, class), never from the global RNG.

A stochastic metric must draw the same numbers for an (image, class) whatever batch,
shard or resume it is scored in, and whatever ran before it. Reseeding the global RNG
per sample gives that but is slow (this torch records a stack trace on every global
``torch.manual_seed``: ~0.2-3 ms a call, paid for every metric of every sample) and leaks
state between metrics. Instead every sample gets its own :class:`SampleRandom`, whose
generators are made on first use from a seed derived from the four names:

- :meth:`SampleRandom.torch` — a ``torch.Generator`` on the requested device (the CPU
  stream equals what the global CPU RNG gave after ``torch.manual_seed(seed)``, so a
  metric moved from the global RNG to it draws the very same numbers);
- :meth:`SampleRandom.numpy` — a ``numpy.random.Generator`` (PCG64).

Streams on different devices differ (CUDA's generator is another algorithm), as they
would with the global RNG; on one device they are fixed by the names alone.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch


def sample_seed(seed: int, metric: str, image_id: str, class_id: int) -> int:
    """A 32-bit seed per (metric, image, class): reruns and resumes draw the same numbers.

    The derivation the suite runner has always used for its per-sample seeds, so
    existing runs keep their numbers.
    """
    digest = hashlib.blake2b(f"{seed}|{metric}|{image_id}|{class_id}".encode(), digest_size=4)
    return int.from_bytes(digest.digest(), "big")


class SampleRandom:
    """The random streams of one (metric, image, class); each made on first use."""

    __slots__ = ("seed", "_numpy", "_torch")

    def __init__(self, seed: int, metric: str, image_id: str, class_id: int) -> None:
        self.seed = sample_seed(seed, metric, image_id, class_id)
        self._torch: dict[str, torch.Generator] = {}
        self._numpy: np.random.Generator | None = None

    @classmethod
    def from_seed(cls, seed: int) -> SampleRandom:
        """Streams for an already derived seed (tests, or a caller with its own scheme)."""
        self = cls.__new__(cls)
        self.seed = int(seed)
        self._torch = {}
        self._numpy = None
        return self

    def torch(self, device: torch.device | str = "cpu") -> torch.Generator:
        """This sample's ``torch.Generator`` on ``device`` (one per device, kept)."""
        key = str(torch.device(device))
        generator = self._torch.get(key)
        if generator is None:
            generator = torch.Generator(device=key).manual_seed(self.seed)
            self._torch[key] = generator
        return generator

    def numpy(self) -> np.random.Generator:
        """This sample's ``numpy.random.Generator`` (kept)."""
        if self._numpy is None:
            self._numpy = np.random.default_rng(self.seed)
        return self._numpy

    def __repr__(self) -> str:
        return f"SampleRandom(seed={self.seed})"


__all__ = ["SampleRandom", "sample_seed"]
