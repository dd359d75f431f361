"""Built-in plugin: model sources (torchvision + local weights, import paths, embedded, real).

Each source lives in its own module; this package only lists them. To add one, write the
module (a :class:`xai_eval.models.base.ModelSource` subclass with a unique ``name`` and, if it
must win over a more generic source, a ``priority`` below 100) and append it to
:data:`SOURCES` below — one import, one list entry.
"""

from __future__ import annotations

from xai_eval import hookimpl
from xai_eval.models.base import ModelSource
from xai_eval.models.embedded import EmbeddedModelSource
from xai_eval.models.embedded_v2 import EmbeddedV2ModelSource
from xai_eval.models.import_path_source import ImportPathSource
from xai_eval.models.real import EfficientNetLite0Source
from xai_eval.models.torchvision_source import TorchvisionSource

#: Every model source this plugin registers (load_model orders them by ``priority``).
SOURCES: list[type[ModelSource]] = [
    TorchvisionSource,  # resnet50, resnet50@/path/w.pth, resnet50@random
    ImportPathSource,  # package.module:factory[@/path/w.pth] (the fallback)
    EmbeddedModelSource,  # embedded:gap, embedded:fc (trained on first use, then cached)
    EfficientNetLite0Source,  # efficientnet_lite0 (optional [real] extra)
    EmbeddedV2ModelSource,  # embedded_v2:gap|fc|biased|unbiased (shipped, hash-checked weights)
]


@hookimpl
def xai_eval_register_models() -> list[type[ModelSource]]:
    return list(SOURCES)
