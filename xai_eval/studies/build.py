"""``xai-eval study build``: from a study file to stimuli and items in the database.

The task plugin picks the qualifying items (:meth:`StudyTask.plan_items`); each requested
picture is rendered with the explainer plugins (``xai_eval.get_explainer``) on the named
dataset and models, encoded as PNG, hashed (SHA-256) and stored once with its provenance
(explainer, model, image, class, options). Everything is written in one transaction.

Idempotent: the study row keeps the SHA-256 of the canonical definition. Building the same
file again adds nothing; building a *changed* file under the same slug is reported (which
top-level sections differ) and refused unless ``replace=True`` and nobody has started it.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from sqlalchemy import func, select

from xai_eval.api import get_explainer
from xai_eval.db.base import make_engine, session_factory, session_scope
from xai_eval.db.migrate import upgrade
from xai_eval.db.studies import Item, Participant, Stimulus, Study
from xai_eval.plugins import default_registries
from xai_eval.studies.audit import record_audit
from xai_eval.studies.definition import EMBEDDED, StudyDefinition, load_definition, task_class
from xai_eval.studies.errors import StudyDefinitionError
from xai_eval.studies.render import content_hash, png_bytes, render_explanation
from xai_eval.studies.tasks import ItemPlan, StimulusRequest


@dataclass
class BuildReport:
    """What a build did; ``changed`` lists the sections of a definition that differ from the
    built one (the build then added nothing unless it replaced the study)."""

    slug: str
    study_id: int | None
    created: bool = False
    unchanged: bool = False
    replaced: bool = False
    items_added: int = 0
    stimuli_added: int = 0
    changed: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if self.changed and not self.replaced:
            return (f"study {self.slug!r} was built from a different definition (changed: "
                    f"{', '.join(self.changed)}); nothing was written. Use a new slug, or "
                    "--replace while no participant has started")
        if self.unchanged:
            return f"study {self.slug!r} is up to date; nothing added"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()))
        verb = "replaced" if self.replaced else "built"
        return (f"study {self.slug!r} {verb}: {self.items_added} items ({kinds}), "
                f"{self.stimuli_added} stimuli")


class BuildContext:
    """What a task's ``plan_items`` sees: the dataset, the models, names and predictions."""

    def __init__(self, definition: StudyDefinition, dataset: Any, models: Mapping[str, Any]):
        self.definition = definition
        self.dataset = dataset
        self.models = dict(models)
        self._rankings: dict[tuple[str, int, Any], list[int]] = {}

    def class_name(self, class_id: int) -> str:
        classes = getattr(self.dataset, "classes", None) or []
        return classes[class_id] if 0 <= class_id < len(classes) else f"class {class_id}"

    def image(self, index: int, cover: tuple[float, float, float, float] | None = None) -> Any:
        """Image ``index`` as PIL RGB, with ``cover`` (a fractional box) filled with the
        image's mean colour when given."""
        image = self.dataset[index].load_image()
        return apply_cover(image, cover) if cover is not None else image

    def model_input(self, model_name: str, index: int,
                    cover: tuple[float, float, float, float] | None = None) -> torch.Tensor:
        loaded = self.models[model_name]
        return loaded.preprocess(self.image(index, cover)).unsqueeze(0)

    def ranked(self, model_name: str, index: int,
               cover: tuple[float, float, float, float] | None = None) -> list[int]:
        """Class ids of ``model_name`` on image ``index`` (optionally covered), best first
        (cached)."""
        key = (model_name, index, cover)
        if key not in self._rankings:
            with torch.no_grad():
                logits = self.models[model_name].model(self.model_input(model_name, index, cover))
            self._rankings[key] = [int(c) for c in (-logits[0]).argsort(stable=True)]
        return self._rankings[key]

    def predict(self, model_name: str, index: int,
                cover: tuple[float, float, float, float] | None = None) -> int:
        """Top-1 class of ``model_name`` on image ``index`` (cached)."""
        return self.ranked(model_name, index, cover)[0]


def apply_cover(image: Any, cover: tuple[float, float, float, float]) -> Any:
    """A copy of the PIL ``image`` with the fractional box ``cover`` filled with the image's
    mean colour (a neutral occluder that adds no new edge colours)."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(image.convert("RGB")).copy()
    h, w = arr.shape[:2]
    x1, y1, x2, y2 = cover
    c1, c2 = int(np.floor(x1 * w)), int(np.ceil(x2 * w))
    r1, r2 = int(np.floor(y1 * h)), int(np.ceil(y2 * h))
    arr[max(0, r1):min(h, r2), max(0, c1):min(w, c2)] = arr.reshape(-1, 3).mean(axis=0)
    return Image.fromarray(arr)


def load_dataset(definition: StudyDefinition, registries: Any = None) -> Any:
    """The dataset the definition names, through the dataset plugins (``embedded``: the
    generated benchmark, cached after the first use)."""
    ref = definition.dataset
    registries = registries or default_registries()
    options = dict(ref.options)
    if ref.split:
        options.setdefault("split", ref.split)
    if ref.name == EMBEDDED and EMBEDDED not in registries.names("datasets"):
        from xai_eval.data.embedded import EmbeddedDataset

        return EmbeddedDataset(ref.root, **options)
    return registries.get("datasets", ref.name).cls(ref.root, **options)


def load_models(definition: StudyDefinition, registries: Any = None) -> dict[str, Any]:
    """``name -> LoadedModel`` for every model, resolved by the model-source plugins."""
    registries = registries or default_registries()
    sources = [registries.get("models", n).cls() for n in registries.names("models")]
    out = {}
    for ref in definition.models:
        source = next((s for s in sources if s.accepts(ref.spec)), None)
        if source is not None:
            out[ref.name] = source.load(ref.spec)
        elif ref.spec.startswith("embedded:"):
            from xai_eval.models.embedded import load_embedded_model

            out[ref.name] = load_embedded_model(ref.spec.split(":", 1)[1])
        else:
            raise StudyDefinitionError(
                f"no model source accepts {ref.spec!r} (model {ref.name!r}); installed "
                f"sources: {', '.join(registries.names('models')) or 'none'}")
    return out


class _Renderer:
    """Renders stimulus requests, reusing one explainer per (explainer, model)."""

    def __init__(self, context: BuildContext, registries: Any = None) -> None:
        self.context = context
        self.registries = registries
        self._explainers: dict[tuple[str, str], Any] = {}

    def _explainer(self, name: str, model_name: str) -> Any:
        key = (name, model_name)
        if key not in self._explainers:
            definition = self.context.definition
            ref = next(e for e in definition.explainers if e.name == name)
            loaded = self.context.models[model_name]
            layer = definition.model(model_name).target_layer or getattr(
                loaded, "target_layer", None)
            self._explainers[key] = get_explainer(
                name, loaded.model, target_layer=layer, registries=self.registries,
                **ref.options)
        return self._explainers[key]

    def render(self, request: StimulusRequest) -> tuple[bytes, int, int]:
        render = self.context.definition.render
        image = self.context.image(request.image_index, request.cover)
        if request.explainer is None:
            pixels = image.convert("RGB").resize((render.size, render.size))
            import numpy as np

            arr = np.asarray(pixels)
        else:
            x = self.context.model_input(request.model, request.image_index, request.cover)
            explanation = self._explainer(request.explainer, request.model).explain(
                x, [request.class_id])
            from xai_eval.explain.postprocess import normalize

            saliency = normalize(explanation.maps[0, 0], mode="minmax")
            arr = render_explanation(image, explanation.raw[0, 0], saliency, render.mode,
                                     render.alpha, render.size)
        return png_bytes(arr), arr.shape[1], arr.shape[0]


def _changed_sections(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def build_study(definition_path: str | Path, db_url: str | None = None, *,
                dataset: Any = None, models: Mapping[str, Any] | None = None,
                registries: Any = None, replace: bool = False, migrate: bool = True,
                progress: Callable[[int, int], None] | None = None,
                definition: StudyDefinition | None = None,
                step: Callable[[str], None] | None = None) -> BuildReport:
    """Build (or check) the study in ``definition_path`` into the database at ``db_url``.

    ``dataset``/``models`` override what the file names (tests inject tiny fakes);
    ``progress(done, total)`` is called after each rendered stimulus and ``step(text)``
    before each long step (the command line prints them: the first trust build spent three
    silent minutes training and running the models before the first stimulus).
    """
    say = step or (lambda _text: None)
    definition = definition or load_definition(definition_path, registries)
    if migrate:
        say("applying database migrations")
        upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            return _build(session, definition, dataset, models, registries, replace, progress,
                          say)
    finally:
        engine.dispose()


def _build(session: Any, definition: StudyDefinition, dataset: Any,
           models: Mapping[str, Any] | None, registries: Any, replace: bool,
           progress: Callable[[int, int], None] | None,
           say: Callable[[str], None] = lambda _text: None) -> BuildReport:
    new_json = definition.model_dump(mode="json")
    digest = definition.canonical_hash()
    existing = session.scalar(select(Study).where(Study.slug == definition.slug))
    report = BuildReport(definition.slug, existing.id if existing else None)
    if existing is not None:
        if existing.definition_hash == digest:
            report.unchanged = True
            return report
        report.changed = _changed_sections(existing.definition, new_json)
        if not replace:
            return report
        started = session.scalar(select(func.count()).select_from(Participant)
                                 .where(Participant.study_id == existing.id))
        if started:
            raise StudyDefinitionError(
                f"study {definition.slug!r} has {started} participants; it cannot be replaced. "
                "Give the changed definition a new slug")
        session.delete(existing)
        session.flush()
        report.replaced = True
    task = task_class(definition.task, registries)(definition)
    if dataset is None:
        say(f"loading dataset {definition.dataset.name!r}")
        dataset = load_dataset(definition, registries)
    if models is None:
        say(f"loading models {', '.join(m.spec for m in definition.models)} (the embedded "
            "benchmark's models are trained on the CPU on first use, a few minutes, then "
            "cached under ~/.cache/xai-eval or $XAI_EVAL_CACHE)")
        models = load_models(definition, registries)
    context = BuildContext(definition, dataset, models)
    say(f"choosing items with the {definition.task!r} task ({len(dataset)} images; tasks that "
        "need the models' predictions run them now)")
    plans = task.plan_items(context)
    say(f"rendering the stimuli of {len(plans)} items")
    mains = [p for p in plans if p.kind == "main"]
    if task.disjoint_phases:
        check_disjoint_phases(plans)
    if not mains:
        raise StudyDefinitionError(
            f"no item of dataset {definition.dataset.name!r} qualifies for task "
            f"{definition.task!r} (see the task's rules in docs/studies.md)")
    n_attention = min(len(mains), 4 * definition.parameters.attention_checks)
    plans += task.attention_plans(mains, n_attention, random.Random(definition.parameters.seed))
    study = Study(slug=definition.slug, title=definition.title, task=definition.task,
                  status="open", definition=new_json, definition_hash=digest,
                  id_salt=secrets.token_hex(16))
    session.add(study)
    session.flush()
    report.study_id = study.id
    report.created = not report.replaced
    stimulus_ids = _render_all(session, study, plans, context, registries, report, progress)
    for plan in plans:
        payload = dict(plan.payload)
        payload["stimuli"] = {r.role: stimulus_ids[r] for r in plan.stimuli}
        session.add(Item(study_id=study.id, key=plan.key, kind=plan.kind,
                         condition=plan.condition, image_id=plan.image_id, payload=payload,
                         answer_key=plan.answer_key))
        report.counts[plan.kind] = report.counts.get(plan.kind, 0) + 1
    report.items_added = len(plans)
    record_audit(session, "cli", "study_build", study,
                 {"definition_hash": digest, "items": len(plans),
                  "stimuli": report.stimuli_added, "replaced": report.replaced}, commit=False)
    return report


def check_disjoint_phases(plans: list[ItemPlan]) -> None:
    """Refuse a study whose test (main) images include training (practice) images: a
    participant who saw an image explained would be tested on an answer already shown
    (Hase & Bansal 2020's first design rule)."""
    training = {p.image_id for p in plans if p.kind == "practice"}
    overlap = sorted(training & {p.image_id for p in plans if p.kind == "main"})
    if overlap:
        shown = ", ".join(overlap[:10]) + (f" (+{len(overlap) - 10} more)" if len(overlap) > 10
                                           else "")
        raise StudyDefinitionError(
            f"the test images overlap the training images ({len(overlap)} shared: {shown}); "
            "a test image must never have been shown with the model's decision. Remove them "
            "from parameters.test_images or parameters.training_images")


def _render_all(session: Any, study: Study, plans: list[ItemPlan], context: BuildContext,
                registries: Any, report: BuildReport,
                progress: Callable[[int, int], None] | None) -> dict[StimulusRequest, int]:
    requests = list(dict.fromkeys(r for p in plans for r in p.stimuli))
    renderer = _Renderer(context, registries)
    by_hash: dict[str, int] = {}
    out: dict[StimulusRequest, int] = {}
    ds_name = context.definition.dataset.name
    for done, request in enumerate(requests, start=1):
        data, width, height = renderer.render(request)
        digest = content_hash(data)
        if digest not in by_hash:
            ref = next((e for e in context.definition.explainers
                        if e.name == request.explainer), None)
            stimulus = Stimulus(
                study_id=study.id, explainer=request.explainer, model=request.model,
                dataset=ds_name, image_id=context.dataset[request.image_index].image_id,
                class_id=request.class_id, class_name=context.class_name(request.class_id),
                options={"explainer": ref.options if ref else {},
                         "render": context.definition.render.model_dump()},
                content_hash=digest, data=data, width=width, height=height)
            session.add(stimulus)
            session.flush()
            by_hash[digest] = stimulus.id
            report.stimuli_added += 1
        out[request] = by_hash[digest]
        if progress is not None:
            progress(done, len(requests))
    return out
