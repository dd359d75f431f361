"""Per-sample random streams: fixed by (seed, metric, image, class), independent of order."""

from __future__ import annotations

import numpy as np
import torch

from xai_eval.metrics.seeds import SampleRandom, sample_seed


def runner_sample_seed(seed: int, metric: str, image_id: str, class_id: int) -> int:
    """The seed the suite runner gives a sample (``sample.random = SampleRandom(...)``)."""
    return SampleRandom(seed, metric, image_id, class_id).seed


def test_seed_derivation_is_the_runners() -> None:
    # values of the derivation the runner used before the streams were wired (blake2b, 4
    # bytes of "seed|metric|image|class"): stored runs keep their numbers
    known = {(0, "deletion", "img_1", 3): 3617678192,
             (7, "sanity_randomization", "a/b.jpg", 0): 2762658253}
    for args, value in known.items():
        assert sample_seed(*args) == runner_sample_seed(*args) == value


def test_cpu_stream_equals_the_global_rng_after_manual_seed() -> None:
    streams = SampleRandom(0, "m", "img", 1)
    torch.manual_seed(streams.seed)
    expected = torch.rand(7)
    assert torch.equal(torch.rand(7, generator=SampleRandom(0, "m", "img", 1).torch()), expected)


def test_streams_do_not_depend_on_order_or_batching() -> None:
    keys = [("img_a", 1), ("img_b", 1), ("img_a", 2), ("img_c", 0)]

    def draws(order: list[tuple[str, int]]) -> dict[tuple[str, int], tuple]:
        out = {}
        for image_id, class_id in order:
            streams = SampleRandom(3, "metric", image_id, class_id)
            torch.rand(5)  # global draws in between change nothing
            out[(image_id, class_id)] = (torch.rand(4, generator=streams.torch()).tolist(),
                                         streams.numpy().random(3).tolist())
        return out

    forward = draws(keys)
    assert draws(keys[::-1]) == forward
    assert draws(keys[2:] + keys[:2]) == forward
    assert len({v[0][0] for v in forward.values()}) == len(keys)  # distinct streams


def test_generators_are_kept_per_device_and_global_state_is_untouched() -> None:
    torch.manual_seed(11)
    before = torch.random.get_rng_state()
    streams = SampleRandom(0, "m", "img", 0)
    first = torch.rand(2, generator=streams.torch("cpu"))
    second = torch.rand(2, generator=streams.torch(torch.device("cpu")))  # same generator
    assert not torch.equal(first, second)
    assert streams.numpy() is streams.numpy()
    assert torch.equal(torch.random.get_rng_state(), before)


def test_from_seed_uses_the_seed_as_given() -> None:
    streams = SampleRandom.from_seed(42)
    assert np.array_equal(streams.numpy().random(3), np.random.default_rng(42).random(3))
    assert torch.equal(torch.rand(3, generator=streams.torch()),
                       torch.rand(3, generator=torch.Generator().manual_seed(42)))
