"""The suite YAML: pydantic models, name checks against the plugin registries, the run id.

A suite lists models x explainers x datasets x metrics. Entries may be plain names or
mappings with options; every entry has an ``id`` (defaults to its name) under which its
results are stored, so the same explainer with two option sets can appear twice::

    name: my-suite
    batch_size: 8
    models:
      - {id: gap, spec: "embedded:gap"}
    explainers: [gradcam, {name: cam, models: [gap]}]
    datasets:
      - {id: val, format: coco, root: data/coco, options: {split: val2017}, limit: 500}
    metrics: [localization_error, {name: deletion, max_images: 50}]

The run id is a hash of the *resolved* configuration (defaults filled in, dataset roots
made absolute) plus the user-given name; presentation settings (report examples) are left
out so they can change without starting a new run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xai_eval.errors import XaiEvalError
from xai_eval.plugins import Registries

#: metrics scored for every class present by default (the others: the image label only)
ALL_CLASS_METRICS = frozenset({"pointing_game", "energy_pointing_game", "mask_iou"})


class SuiteConfigError(XaiEvalError, ValueError):
    """The suite YAML is malformed or names something that is not installed."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        return value


class ModelEntry(BaseModel):
    """A model to explain: a specification string resolved by the model-source plugins."""

    model_config = ConfigDict(extra="forbid")

    spec: str
    id: str | None = None
    weights: str | None = None
    gapified: str | None = None  # weights written by `xai-eval gapify` for this base model
    target_layer: str | None = None  # None: the source's recommendation, else automatic
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"spec": value}
        return value

    @model_validator(mode="after")
    def _default_id(self) -> ModelEntry:
        if not self.id:
            self.id = self.spec.split("@", 1)[0].replace("embedded:", "")
        return self


class ExplainerEntry(_Entry):
    """An explainer by registry name, with options and an optional list of model ids."""

    name: str
    id: str | None = None
    label: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    models: list[str] | None = None  # None: every model

    @model_validator(mode="after")
    def _default_id(self) -> ExplainerEntry:
        self.id = self.id or self.name
        return self


class DatasetEntry(BaseModel):
    """A dataset in one of the registered formats, read from ``root``."""

    model_config = ConfigDict(extra="forbid")

    format: str
    root: str | None = None
    id: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _default_id(self) -> DatasetEntry:
        self.id = self.id or self.format
        return self


class MetricEntry(_Entry):
    """A metric by registry name with its protocol parameters.

    ``max_images`` restricts an expensive metric (deletion, insertion) to the first N
    images of each dataset (by dataset order, so every shard agrees on the subset).
    ``classes`` picks which classes of an image are scored: ``label`` (the image-level
    label, as ILSVRC's single-label protocols do; every class present when the dataset has
    no label) or ``all`` (every class present, as the pointing game on VOC/COCO does).
    """

    name: str
    id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    max_images: int | None = Field(default=None, ge=1)
    classes: Literal["label", "all"] | None = None
    #: what a localization metric scores against: the object's box/mask, the box/mask of
    #: its evidence part, or the planted-bias cue (datasets that record them: embedded_v2)
    region: Literal["object", "evidence", "cue"] = "object"

    @model_validator(mode="after")
    def _default_id(self) -> MetricEntry:
        self.id = self.id or self.name
        if self.classes is None:
            self.classes = "all" if self.name in ALL_CLASS_METRICS else "label"
        return self


class ReportSettings(BaseModel):
    """Presentation only (not part of the run id)."""

    model_config = ConfigDict(extra="forbid")

    examples: int = Field(default=3, ge=0)
    #: rows (images) of the explanation grid PNG written next to report.html; 0: none
    grid: int = Field(default=0, ge=0)
    #: bootstrap resamples behind every cell's interval and the verdict; 0: no intervals
    resamples: int = Field(default=1000, ge=0)
    #: level of the intervals and of the paired comparisons (Holm-corrected)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    #: images of the metric-reliability table (MetaQuantus NR/AR, docs/verdict.md); 0: none
    reliability: int = Field(default=0, ge=0)


class SuiteConfig(BaseModel):
    """A whole suite; see the module docstring for the YAML layout."""

    model_config = ConfigDict(extra="forbid")

    name: str = "suite"
    seed: int = 0
    batch_size: int = Field(default=8, ge=1)
    device: str = "cpu"
    topk: int = Field(default=5, ge=1)
    models: list[ModelEntry]
    explainers: list[ExplainerEntry]
    #: ``paper``: only ``explainers`` (the papers' table); ``all``: ``more_explainers`` too
    methods: Literal["paper", "all"] = "paper"
    more_explainers: list[ExplainerEntry] = Field(default_factory=list)
    datasets: list[DatasetEntry]
    metrics: list[MetricEntry] = Field(default_factory=list)
    report: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("models", "explainers", "datasets")
    @classmethod
    def _non_empty(cls, value: list[Any]) -> list[Any]:
        if not value:
            raise ValueError("must list at least one entry")
        return value

    @model_validator(mode="after")
    def _apply_methods(self) -> SuiteConfig:
        """``methods: all`` appends ``more_explainers`` (idempotent: ids already listed stay)."""
        if self.methods == "all":
            listed = {e.id for e in self.explainers}
            self.explainers = self.explainers + [e for e in self.more_explainers
                                                 if e.id not in listed]
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> SuiteConfig:
        for field in ("models", "explainers", "datasets", "metrics"):
            ids = [entry.id for entry in getattr(self, field)]
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(
                    f"{field} ids must be unique; {duplicates} appear more than once (give "
                    "each entry its own `id:`)"
                )
        model_ids = {m.id for m in self.models}
        for explainer in self.explainers:
            unknown = sorted(set(explainer.models or []) - model_ids)
            if unknown:
                raise ValueError(
                    f"explainer {explainer.id!r} is restricted to models {unknown}, which the "
                    f"suite does not define; defined model ids: {sorted(model_ids)}"
                )
        return self

    # --- derived ------------------------------------------------------------------------
    def resolved(self, base_dir: Path | None = None) -> dict[str, Any]:
        """The configuration that determines the results (hashed into the run id)."""
        # the effective explainer list is what matters: the switch and the pool of extra
        # methods stay out, so a ``paper`` run keeps the run id it had before they existed
        data = self.model_dump(mode="json", exclude={"report", "methods", "more_explainers"})
        for metric in data["metrics"]:  # the default region leaves older run ids unchanged
            if metric.get("region") == "object":
                del metric["region"]
        for dataset in data["datasets"]:
            if dataset["root"] is not None:
                root = Path(dataset["root"]).expanduser()
                if not root.is_absolute() and base_dir is not None:
                    root = base_dir / root
                dataset["root"] = str(root.resolve())
        return data

    def run_id(self, run_name: str | None = None, base_dir: Path | None = None) -> str:
        """Hash of the resolved config plus the run name: equal configs share a run."""
        payload = json.dumps(self.resolved(base_dir), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(f"{payload}\0{run_name or self.name}".encode()).hexdigest()
        return digest[:32]

    def config_hash(self, base_dir: Path | None = None) -> str:
        payload = json.dumps(self.resolved(base_dir), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def explainers_for(self, model_id: str) -> list[ExplainerEntry]:
        return [e for e in self.explainers if e.models is None or model_id in e.models]

    def check_names(self, registries: Registries) -> None:
        """Fail on any explainer, metric or dataset format the plugins do not provide."""
        problems = []
        for kind, noun, names in (
            ("explainers", "explainer", [e.name for e in self.explainers]),
            ("metrics", "metric", [m.name for m in self.metrics]),
            ("datasets", "dataset format", [d.format for d in self.datasets]),
        ):
            available = registries.names(kind)
            for name in names:
                if name not in available:
                    problems.append(
                        f"unknown {noun} {name!r}; available: {', '.join(available) or 'none'}"
                    )
        if problems:
            hint = ""
            if registries.errors:
                hint = " (some plugins failed to load: " + "; ".join(map(str, registries.errors)) + ")"
            raise SuiteConfigError("suite names what is not installed: " + "; ".join(problems) + hint)


def parse_suite(data: Any, source: str = "suite") -> SuiteConfig:
    """Validate a parsed YAML document, turning pydantic's errors into one clear message."""
    if not isinstance(data, dict):
        raise SuiteConfigError(
            f"{source}: a suite must be a YAML mapping with models, explainers, datasets and "
            f"metrics; got {type(data).__name__}"
        )
    try:
        return SuiteConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            lines.append(f"  {where}: {error['msg']}")
        raise SuiteConfigError(f"{source} is not a valid suite:\n" + "\n".join(lines)) from None


def load_suite(path: str | Path, registries: Registries | None = None,
               methods: str | None = None) -> SuiteConfig:
    """Read and validate a suite YAML; with ``registries``, also check every name.

    ``methods`` (``"paper"`` or ``"all"``) overrides the file's ``methods:`` switch.
    """
    path = Path(path)
    if not path.is_file():
        raise SuiteConfigError(f"suite file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SuiteConfigError(f"{path} is not valid YAML: {exc}") from None
    if methods is not None and isinstance(data, dict):
        data = {**data, "methods": methods}
    config = parse_suite(data, str(path))
    if registries is not None:
        config.check_names(registries)
    return config


def default_suite_path() -> Path:
    """The embedded demo suite shipped inside the package."""
    return Path(__file__).with_name("default.yaml")


def real_suite_path() -> Path:
    """The real-model suite shipped inside the package (``xai-eval demo --real``)."""
    return Path(__file__).with_name("real.yaml")
