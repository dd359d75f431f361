"""Study definition files (``studies/*.yaml``): schema, loading and clear validation errors.

A definition names the task plugin, the dataset, the models and the explainers, and records
every parameter the paper leaves open (trials per participant, practice trials, attention
checks, pay, option order, ...) so a study is reproducible from its file alone. Loading
checks the names against the installed plugins and lists the available ones on a typo.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from xai_eval.errors import UnknownNameError
from xai_eval.plugins import default_registries
from xai_eval.studies.errors import StudyDefinitionError

#: dataset name meaning the embedded benchmark (``xai_eval.data.embedded``)
EMBEDDED = "embedded"
#: dataset formats that generate their data on first use (no ``root:`` needed)
GENERATED = frozenset({EMBEDDED, "embedded_v2"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetRef(_Strict):
    """Which images: ``embedded`` (default) or a dataset format plugin with its root."""

    name: str = EMBEDDED
    root: str | None = None
    split: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class ModelRef(_Strict):
    """A model: ``spec`` is what the model-source plugins resolve (``embedded:gap``, ...)."""

    name: str
    spec: str
    label: str | None = None
    target_layer: str | None = None


class ExplainerRef(_Strict):
    """An explainer plugin by name, with its options and the label used in results."""

    name: str
    label: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class RenderOptions(_Strict):
    """How a map becomes a picture: ``overlay`` (heat map over the image, for CAM-like
    maps) or ``map`` (the map alone in grey levels, for pixel-space methods)."""

    size: int = Field(224, ge=16, le=1024)
    mode: Literal["auto", "overlay", "map"] = "auto"
    alpha: float = Field(0.5, ge=0.0, le=1.0)


class ExclusionParams(_Strict):
    min_attention_pass: float = Field(1.0, ge=0.0, le=1.0)
    min_median_rt_ms: int = Field(500, ge=0)


class StudyParameters(BaseModel):
    """Parameters the papers do not give; recorded with the study. Task-specific extra keys
    are allowed (e.g. trust's ``stronger_model``)."""

    model_config = ConfigDict(extra="allow")

    trials_per_participant: int = Field(20, ge=1, le=1000)
    practice_trials: int = Field(2, ge=0, le=50)
    attention_checks: int = Field(2, ge=0, le=50)
    ratings_per_item: int | None = Field(None, ge=1)
    max_items: int | None = Field(None, ge=1)
    distinct_images: bool = False
    abandon_after_minutes: int = Field(120, ge=1)
    option_order: Literal["counterbalanced"] = "counterbalanced"
    pay: str | None = None
    completion_code: str | None = Field(None, max_length=64)
    completion_redirect: str | None = None
    store_platform_ids: Literal["hashed", "plain"] = "hashed"
    #: refuse participants who come without a Prolific PID / MTurk workerId (direct links)
    require_platform_id: bool = False
    exclusion: ExclusionParams = Field(default_factory=ExclusionParams)
    seed: int = 0

    @model_validator(mode="after")
    def _prolific_needs_a_fixed_code(self) -> StudyParameters:
        """Prolific accepts a submission only with the completion code set in the study's
        settings on Prolific; a random code per participant (``completion_code: null``) is
        unknown there, so every participant would be marked as not completed."""
        host = urlparse(self.completion_redirect or "").hostname or ""
        if (host == "prolific.com" or host.endswith(".prolific.com")) \
                and not self.completion_code:
            raise ValueError(
                "completion_redirect goes to Prolific, so completion_code must be the fixed "
                "code from your Prolific study's settings (Prolific knows no per-participant "
                "random codes)")
        return self


class Preregistration(_Strict):
    """What is registered before the first participant (part of the frozen definition)."""

    hypotheses: list[str] = Field(default_factory=list)
    analysis_plan: str = ""  # added to the task's own analysis plan
    exclusions: str = ""  # anything beyond parameters.exclusion, stated in words


class StudyDefinition(_Strict):
    """One study file."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    title: str = Field(min_length=1, max_length=200)
    task: str
    description: str = ""
    consent: str = ""
    instructions: str = ""
    debrief: str = ""
    dataset: DatasetRef = Field(default_factory=DatasetRef)
    models: list[ModelRef] = Field(min_length=1)
    explainers: list[ExplainerRef] = Field(min_length=1)
    render: RenderOptions = Field(default_factory=RenderOptions)
    parameters: StudyParameters = Field(default_factory=StudyParameters)
    preregistration: Preregistration | None = None

    @field_validator("models", "explainers")
    @classmethod
    def _unique_names(cls, value: list[Any]) -> list[Any]:
        names = [v.name for v in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"names must be unique; repeated: {', '.join(duplicates)}")
        return value

    def model(self, name: str) -> ModelRef:
        return next(m for m in self.models if m.name == name)

    def canonical_hash(self) -> str:
        """SHA-256 of the definition's canonical JSON: a change means a different study.

        Defaults are left out, so a new optional parameter in a later xai-eval version does
        not make an unchanged file look changed."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _format_validation(error: ValidationError, source: str) -> str:
    lines = [f"invalid study definition {source}:"]
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "(top level)"
        lines.append(f"  - {where}: {problem['msg']}")
    return "\n".join(lines)


def parse_definition(data: Any, source: str = "<data>") -> StudyDefinition:
    """Validate a mapping (already parsed YAML) into a :class:`StudyDefinition`."""
    if not isinstance(data, dict):
        raise StudyDefinitionError(f"study definition {source} must be a YAML mapping, "
                                   f"got {type(data).__name__}")
    try:
        return StudyDefinition.model_validate(data)
    except ValidationError as exc:
        raise StudyDefinitionError(_format_validation(exc, source)) from None


def load_definition(path: str | Path, registries: Any = None,
                    check_names: bool = True) -> StudyDefinition:
    """Read, validate and (with ``check_names``) resolve every plugin name of a study file."""
    path = Path(path)
    if not path.is_file():
        raise StudyDefinitionError(f"study file {path} does not exist; the shipped ones are "
                                   "studies/class_discrimination.yaml, studies/trust.yaml and "
                                   "studies/model_prediction.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise StudyDefinitionError(f"study file {path} is not valid YAML: {exc}") from None
    definition = parse_definition(data, str(path))
    if check_names:
        check_plugin_names(definition, registries)
    return definition


def check_plugin_names(definition: StudyDefinition, registries: Any = None) -> None:
    """Every task, explainer and dataset name must be installed; list the available ones."""
    registries = registries or default_registries()
    problems = []
    if definition.task not in registries.names("study_tasks"):
        problems.append(f"task {definition.task!r} is not installed; available: "
                        f"{', '.join(registries.names('study_tasks')) or 'none'}")
    explainers = registries.names("explainers")
    for ref in definition.explainers:
        if ref.name not in explainers:
            problems.append(f"explainer {ref.name!r} is not installed; available: "
                            f"{', '.join(explainers) or 'none'}")
    datasets = [EMBEDDED, *registries.names("datasets")]
    if definition.dataset.name not in datasets:
        problems.append(f"dataset {definition.dataset.name!r} is not installed; available: "
                        f"{', '.join(datasets)}")
    if definition.dataset.name not in GENERATED and not definition.dataset.root:
        problems.append(f"dataset {definition.dataset.name!r} needs `root:` (its folder)")
    if problems:
        raise StudyDefinitionError("study definition problems:\n  - " + "\n  - ".join(problems))


def task_class(name: str, registries: Any = None) -> type:
    """The registered :class:`~xai_eval.studies.tasks.StudyTask` subclass called ``name``."""
    try:
        return (registries or default_registries()).get("study_tasks", name).cls
    except UnknownNameError as exc:
        raise StudyDefinitionError(str(exc)) from None
