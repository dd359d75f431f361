"""Results stay on the input's device as tensors (peers: pytorch-grad-cam #356), and create-
and-call cycles on CUDA keep ``torch.cuda.memory_allocated`` flat (pytorch-grad-cam PR #575:
a CUDA-only leak slipped through CPU-only tests).

Every registered explainer is checked on the CPU always, and on CUDA when a GPU is present.
"""

from __future__ import annotations

import gc

import pytest
import torch

from .conftest import ALL_EXPLAINERS, GapNet, for_every_explainer, make_explainer

CUDA = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="no CUDA device: the CUDA checks need a GPU (the CPU ones ran)")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]


def _check_on(result, device: torch.device, batch: int, k: int) -> None:
    for field in ("maps", "raw", "scores", "degenerate"):
        value = getattr(result, field)
        assert isinstance(value, torch.Tensor), f"{field} is {type(value).__name__}, not a tensor"
        assert value.device == device, f"{field} is on {value.device}, not {device}"
    if result.class_ids is not None:
        assert result.class_ids.device == device
    assert result.maps.shape == (batch, k, 16, 16) and result.maps.dtype == torch.float32
    assert result.degenerate.shape == (batch, k)


@for_every_explainer
@pytest.mark.parametrize("device", DEVICES)
def test_results_stay_on_the_input_device(method: str, device: str) -> None:
    model = GapNet().eval().to(device)
    images = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(3)).to(device)
    explainer = make_explainer(method, model)
    result = explainer.explain(images, [[0, 3], [2, 1]])
    _check_on(result, images.device, 2, 2)
    predicted = explainer.explain(images)  # arg-max targets are made on the device too
    _check_on(predicted, images.device, 2, 1)
    for out in (explainer(images, 1), explainer.attribute(images, 1)):
        assert isinstance(out, torch.Tensor) and out.device == images.device


@CUDA
@for_every_explainer
def test_cuda_matches_cpu(method: str) -> None:
    """The same weights and images give the same maps on both devices (up to float noise)."""
    model = GapNet().eval()
    images = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    on_cpu = make_explainer(method, model).explain(images, [[0, 3], [2, 1]])
    on_gpu = make_explainer(method, model.cuda()).explain(images.cuda(), [[0, 3], [2, 1]])
    torch.testing.assert_close(on_gpu.raw.cpu(), on_cpu.raw, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(on_gpu.maps.cpu(), on_cpu.maps, rtol=1e-4, atol=1e-5)


@CUDA
def test_cuda_memory_flat_over_100_create_and_call_cycles() -> None:
    model = GapNet().eval().cuda()
    # 64x64 images: one leaked input copy (48 KiB) or activation per cycle adds up to several
    # MiB over 100 cycles, far above the bound below.
    x = torch.randn(2, 3, 64, 64, device="cuda")

    def cycle(i: int) -> None:
        explainer = make_explainer(ALL_EXPLAINERS[i % len(ALL_EXPLAINERS)], model)
        result = explainer.explain(x, [[1, 2], [3, 4]])
        assert result.maps.is_cuda

    for i in range(2 * len(ALL_EXPLAINERS)):  # warm-up: cuDNN handles, lazy modules
        cycle(i)
    gc.collect()
    torch.cuda.synchronize()
    start = torch.cuda.memory_allocated()
    for i in range(100):
        cycle(i)
    gc.collect()
    torch.cuda.synchronize()
    grown = torch.cuda.memory_allocated() - start
    assert grown <= 256 * 2**10, f"CUDA memory_allocated grew by {grown / 2**20:.2f} MiB"
    assert all(p.grad is None for p in model.parameters())
