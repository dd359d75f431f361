"""load_model with the torchvision and import-path sources: real files, strict loading, errors.

Weights files are made here, in torchvision's own format (``torch.save(state_dict)`` of a
``get_model(name, weights=None)`` network), and named as torchvision names its downloads.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import xai_eval_models
from torchvision.models import get_model

from xai_eval import hookimpl
from xai_eval.errors import InputValidationError, MissingResourceError, UnknownNameError
from xai_eval.models.base import LoadedModel, ModelSource
from xai_eval.models.loading import load_model, model_sources
from xai_eval.models.torchvision_source import _matching_weights
from xai_eval.models.weights import WeightsMismatchError
from xai_eval.plugins import build_registries

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's file name for ResNet18_Weights.IMAGENET1K_V1


@pytest.fixture(autouse=True)
def empty_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point torchvision's cache at an empty folder, so no real download is ever found."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home" / "hub" / "checkpoints"


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, nn.Module]:
    torch.manual_seed(1)
    model = get_model("resnet18", weights=None).eval()
    path = tmp_path_factory.mktemp("weights") / RESNET18_FILE
    torch.save(model.state_dict(), path)
    return path, model


def same_outputs(a: nn.Module, b: nn.Module, size: int = 64) -> None:
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)


# --- torchvision source -------------------------------------------------------------------
def test_loads_a_local_torchvision_weights_file(resnet18_file) -> None:
    path, original = resnet18_file
    loaded = load_model("resnet18", weights=str(path))
    assert loaded.name == f"resnet18@{path}"
    assert not loaded.model.training
    same_outputs(loaded.model, original)
    assert len(loaded.classes) == 1000 and loaded.classes[0] == "tench"
    assert loaded.input_size == (224, 224)
    assert (loaded.preprocess.resize_size, loaded.preprocess.crop_size) == ([256], [224])


def test_spec_with_at_is_the_same_as_the_weights_argument(resnet18_file) -> None:
    path, original = resnet18_file
    same_outputs(load_model(f"resnet18@{path}").model, original)
    with pytest.raises(InputValidationError, match="weights given twice"):
        load_model(f"resnet18@{path}", weights=str(path))


def test_preprocessing_produces_the_model_input_from_a_pil_image(resnet18_file) -> None:
    from PIL import Image

    loaded = load_model("resnet18", weights=str(resnet18_file[0]))
    tensor = loaded.preprocess(Image.new("RGB", (300, 260), (124, 116, 104)))
    assert tensor.shape == (3, 224, 224)
    # the ImageNet mean colour normalises to ~0
    assert tensor.abs().max() < 0.02


def test_bare_name_finds_the_file_in_torchvisions_cache(resnet18_file, empty_torch_cache) -> None:
    empty_torch_cache.mkdir(parents=True)
    (empty_torch_cache / RESNET18_FILE).write_bytes(resnet18_file[0].read_bytes())
    loaded = load_model("resnet18")
    assert loaded.name == f"resnet18@{empty_torch_cache / RESNET18_FILE}"
    same_outputs(loaded.model, resnet18_file[1])


def test_bare_name_without_a_file_says_what_to_fetch_and_where(empty_torch_cache) -> None:
    with pytest.raises(MissingResourceError) as info:
        load_model("resnet50")
    message = str(info.value)
    assert "pretrained weights must be supplied as a local file" in message
    assert "never downloads" in message
    assert f"put the file at {empty_torch_cache / 'resnet50-11ad3fa6.pth'}" in message
    assert "https://download.pytorch.org/models/resnet50-11ad3fa6.pth" in message
    assert "IMAGENET1K_V1 -> resnet50-0676ba61.pth" in message
    assert "--weights /path/resnet50-11ad3fa6.pth" in message


def test_missing_weights_path_says_where_it_was_expected(tmp_path) -> None:
    missing = tmp_path / "nowhere" / "resnet50-0676ba61.pth"
    with pytest.raises(MissingResourceError, match=f"weights file {missing} for resnet50 does not exist"):
        load_model("resnet50", weights=str(missing))


def test_file_name_selects_torchvisions_matching_transforms() -> None:
    v1 = _matching_weights("resnet50", Path("/w/resnet50-0676ba61.pth"))
    other = _matching_weights("resnet50", Path("/w/my-resnet50.pth"))
    assert v1.name == "IMAGENET1K_V1" and v1.transforms().resize_size == [256]
    assert other.name == "IMAGENET1K_V2" and other.transforms().resize_size == [232]


def test_random_weights_only_when_asked() -> None:
    loaded = load_model("resnet18@random")
    assert loaded.name == "resnet18" and len(loaded.classes) == 1000


def test_fine_tuned_head_is_read_from_the_file(tmp_path) -> None:
    model = get_model("resnet18", weights=None, num_classes=20).eval()
    torch.save(model.state_dict(), tmp_path / "voc.pth")
    loaded = load_model("resnet18", weights=str(tmp_path / "voc.pth"))
    assert loaded.classes is None  # ImageNet names do not apply to a 20-class head
    same_outputs(loaded.model, model)


def test_wrong_keys_name_what_differs(resnet18_file, tmp_path) -> None:
    state = torch.load(resnet18_file[0], weights_only=True)
    state["layer1.0.conv_one.weight"] = state.pop("layer1.0.conv1.weight")
    torch.save(state, tmp_path / "renamed.pth")
    with pytest.raises(WeightsMismatchError) as info:
        load_model("resnet18", weights=str(tmp_path / "renamed.pth"))
    message = str(info.value)
    assert "does not fit resnet18" in message
    assert "missing: layer1.0.conv1.weight" in message
    assert "unexpected: layer1.0.conv_one.weight" in message


def test_another_architectures_file_is_refused(tmp_path) -> None:
    torch.save(get_model("squeezenet1_1", weights=None).state_dict(), tmp_path / "squeeze.pth")
    with pytest.raises(WeightsMismatchError, match=r"does not fit resnet18: missing: conv1.weight"):
        load_model("resnet18", weights=str(tmp_path / "squeeze.pth"))


def test_shape_mismatch_is_listed(resnet18_file, tmp_path) -> None:
    state = torch.load(resnet18_file[0], weights_only=True)
    state["conv1.weight"] = state["conv1.weight"][:, :1]
    torch.save(state, tmp_path / "gray.pth")
    with pytest.raises(WeightsMismatchError,
                       match=r"with other shapes: conv1.weight \(file \(64, 1, 7, 7\), network \(64, 3, 7, 7\)\)"):
        load_model("resnet18", weights=str(tmp_path / "gray.pth"))


def test_checkpoint_wrapper_and_dataparallel_prefix_are_undone(resnet18_file, tmp_path) -> None:
    state = torch.load(resnet18_file[0], weights_only=True)
    checkpoint = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}
    torch.save(checkpoint, tmp_path / "checkpoint.pth")
    same_outputs(load_model("resnet18", weights=str(tmp_path / "checkpoint.pth")).model,
                 resnet18_file[1])


@pytest.mark.parametrize("content", ["garbage", "whole_model"])
def test_unreadable_files_get_a_clear_error(tmp_path, content) -> None:
    path = tmp_path / "bad.pth"
    if content == "garbage":
        path.write_bytes(b"<html>404 Not Found</html>")
    else:
        torch.save(nn.Linear(2, 2), path)  # a pickled module, not a state dict
    with pytest.raises(WeightsMismatchError, match=r"cannot read .*bad.pth as PyTorch weights for resnet18"):
        load_model("resnet18", weights=str(path))


def test_googlenet_gets_torchvisions_pretrained_configuration(tmp_path) -> None:
    # torchvision builds pretrained GoogLeNet with transform_input=True and drops the aux
    # heads after loading; a local file must give the same network.
    reference = get_model("googlenet", weights=None, transform_input=True, aux_logits=True,
                          init_weights=False).eval()
    torch.save(reference.state_dict(), tmp_path / "googlenet-1378be20.pth")
    loaded = load_model("googlenet", weights=str(tmp_path / "googlenet-1378be20.pth")).model
    assert loaded.transform_input and loaded.aux1 is None and loaded.aux2 is None
    same_outputs(loaded, reference)


def test_unknown_names_get_suggestions() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'resnet50'"):
        load_model("resnet5")
    with pytest.raises(UnknownNameError, match="not an image classifier"):
        load_model("fcn_resnet50")
    with pytest.raises(InputValidationError, match="non-empty string"):
        load_model("  ")


# --- import-path source -------------------------------------------------------------------
FACTORY_MODULE = '''
import torch.nn as nn
from xai_eval.models.base import LoadedModel


def build():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 3))


def build_loaded():
    return LoadedModel(name="tiny", model=build(), preprocess=lambda image: image,
                       classes=["a", "b", "c"], input_size=(16, 16), target_layer="0")


def not_a_model():
    return "hello"
'''


@pytest.fixture
def factory_module(tmp_path, monkeypatch) -> str:
    (tmp_path / "xe_tiny_factories.py").write_text(textwrap.dedent(FACTORY_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "xe_tiny_factories"


def test_import_path_factory_with_weights(factory_module, tmp_path) -> None:
    import importlib

    trained = importlib.import_module(factory_module).build().eval()
    torch.save(trained.state_dict(), tmp_path / "tiny.pth")
    loaded = load_model(f"{factory_module}:build", weights=str(tmp_path / "tiny.pth"))
    assert loaded.name == f"{factory_module}:build@{tmp_path / 'tiny.pth'}"
    same_outputs(loaded.model, trained, size=16)
    assert loaded.classes is None and not loaded.model.training
    assert loaded.preprocess.transforms[1].size == (224, 224)  # the ImageNet recipe


def test_import_path_factory_returning_a_loaded_model(factory_module) -> None:
    loaded = load_model(f"{factory_module}:build_loaded")
    assert (loaded.classes, loaded.target_layer, loaded.input_size) == (["a", "b", "c"], "0", (16, 16))


def test_import_path_errors(factory_module, tmp_path) -> None:
    from xai_eval.errors import UnsupportedModelError

    with pytest.raises(UnsupportedModelError, match=r"has no 'biuld'; its callables are: .*build, build_loaded"):
        load_model(f"{factory_module}:biuld")
    with pytest.raises(UnsupportedModelError, match=r"returned str; a model factory must return"):
        load_model(f"{factory_module}:not_a_model")
    with pytest.raises(MissingResourceError, match="torch.save"):
        load_model(f"{factory_module}:build@{tmp_path / 'none.pth'}")
    with pytest.raises(WeightsMismatchError, match="does not fit"):
        torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "linear.pth")
        load_model(f"{factory_module}:build", weights=str(tmp_path / "linear.pth"))
    with pytest.raises(UnknownNameError, match="no model source accepts 'not_installed_pkg:f'"):
        load_model("not_installed_pkg:f")


# --- source order ------------------------------------------------------------------------
class GreedySource(ModelSource):
    """Claims every 'xe_tiny_factories:*' spec (stands in for e.g. the embedded source)."""

    name = "greedy"

    def accepts(self, spec: str) -> bool:
        return spec.startswith("xe_tiny_factories:")

    def load(self, spec, device="cpu") -> LoadedModel:
        return LoadedModel(name="greedy", model=nn.Identity(), preprocess=lambda image: image)


class GreedyPlugin:
    @hookimpl
    def xai_eval_register_models(self):
        return [GreedySource]


def test_specific_sources_win_over_the_import_path_fallback(factory_module) -> None:
    registries = build_registries(load_entry_points=False,
                                  extra_plugins=[xai_eval_models, GreedyPlugin()])
    names = [s.name for s in model_sources(registries)]
    # Specific sources (priority < 100) come first; the import-path fallback is always last.
    assert names.index("greedy") < names.index("torchvision") < names.index("import_path")
    assert names[-1] == "import_path"
    assert {"embedded", "efficientnet_lite0"} <= set(names)
    assert load_model(f"{factory_module}:build", registries=registries).name == "greedy"


def test_builtin_plugin_registers_both_sources() -> None:
    registries = build_registries()
    assert {"torchvision", "import_path"} <= set(registries.names("models"))
    assert registries.get("models", "torchvision").plugin == "model_sources"


def test_vit_input_size_is_read_from_the_position_embeddings() -> None:
    from xai_eval.models.torchvision_source import _builder_kwargs

    # vit_h_14's default weights (SWAG, 518 px) are not the only ones: a 224 px file must
    # get the 224 px network and transforms even when renamed.
    state = {"encoder.pos_embedding": torch.zeros(1, 16 * 16 + 1, 4),
             "conv_proj.weight": torch.zeros(4, 3, 14, 14)}
    weights = _matching_weights("vit_h_14", Path("/w/my_vit.pth"), state)
    assert weights.name == "IMAGENET1K_SWAG_LINEAR_V1"
    assert weights.transforms().crop_size == [224]
    assert _builder_kwargs("vit_h_14", weights, state)["image_size"] == 224
    default = _matching_weights("vit_h_14", None)
    assert _builder_kwargs("vit_h_14", default, None)["image_size"] == 518
