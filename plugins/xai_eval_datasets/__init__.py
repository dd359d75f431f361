"""Built-in plugin: dataset formats read from disk, never downloaded.

``coco`` (instances JSON via pycocotools), ``voc`` (PASCAL VOC XML + segmentation PNGs),
``ilsvrc`` (ImageNet validation XML + synset map), ``folder_csv`` (images + a CSV of
boxes), ``embedded`` / ``embedded_v2`` (the synthetic benchmarks, generated on first use,
read as COCO; v2 adds evidence masks) and
``imagenet_photos`` (labelled photos, classification only; default: foolbox's 20).
"""

from __future__ import annotations

from xai_eval import hookimpl


@hookimpl
def xai_eval_register_datasets() -> list[type]:
    from xai_eval.data.coco import CocoDataset
    from xai_eval.data.embedded import EmbeddedDataset
    from xai_eval.data.embedded_v2 import EmbeddedV2Dataset
    from xai_eval.data.folder_csv import FolderCsvDataset
    from xai_eval.data.foolbox_photos import ImagenetPhotosDataset
    from xai_eval.data.ilsvrc import IlsvrcDataset
    from xai_eval.data.voc import VocDataset

    return [CocoDataset, VocDataset, IlsvrcDataset, FolderCsvDataset, EmbeddedDataset,
            ImagenetPhotosDataset, EmbeddedV2Dataset]
