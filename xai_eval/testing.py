"""Test fixtures for code built on xai-eval: a synthetic study written straight into SQL.

Not part of the product's behaviour (nothing under ``xai_eval/`` imports it): it is here,
like ``numpy.testing``, so that our tests, ``benchmarks/study_load.py`` and third-party
tests (a web front end, a task plugin) can all make a study in a second.

:func:`create_sample_study` writes a small class-discrimination study without rendering
explainers on a model: the same rows ``xai-eval study build`` writes (study, stimuli with
provenance, items with the task's payload and server-only key), using the real
``class_discrimination`` task plugin for placement, presentation and scoring, but with
generated pictures (a blob on a gradient). It is a fixture, not an experiment::

    from xai_eval.testing import create_sample_study
    with session_factory(make_engine(url))() as session:   # after `xai-eval db upgrade`
        create_sample_study(session, slug="sample", images=6, trials=4)
"""

from __future__ import annotations

import hashlib
import io
import secrets
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from xai_eval.db.studies import Item, Stimulus, Study

CATEGORIES = ("cat", "dog", "horse", "sheep", "cow", "bird", "car", "bus", "boat", "train")
EXPLAINERS = ("guided_backprop", "guided_gradcam")
QUESTION = "Which of the two object categories is depicted in the image?"


def _picture(seed: int, size: int = 96) -> bytes:
    """A deterministic heat-map-like PNG: a warm blob on a cool gradient."""
    image = Image.new("RGB", (size, size))
    pixels = image.load()
    for y in range(size):
        for x in range(size):
            pixels[x, y] = (20 + x // 3, 40 + y // 3, 120 + (seed * 37) % 100)
    draw = ImageDraw.Draw(image)
    cx, cy = 20 + (seed * 13) % (size - 40), 20 + (seed * 29) % (size - 40)
    for radius, color in ((22, (255, 200, 0)), (14, (255, 120, 0)), (7, (230, 20, 20))):
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=color)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def definition(slug: str, trials: int, practice: int, attention: int,
               min_median_rt_ms: int = 500, completion_redirect: str | None = None,
               parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The study file (as a mapping) of the sample study; ``parameters`` adds to (or
    replaces) its study parameters."""
    spec = {
        "slug": slug, "title": f"Which object is explained? ({slug})",
        "task": "class_discrimination",
        "description": "synthetic study for tests and load benchmarks",
        "consent": "This is a test study with generated pictures. Taking part is voluntary.",
        "instructions": "Each picture highlights the part of an image a network looked at. "
                        "Choose the object category the highlighted region shows.",
        "debrief": "Thank you! The pictures were generated; no real data was collected.",
        "models": [{"name": "vgg16", "spec": "vgg16"}],
        "explainers": [{"name": name} for name in EXPLAINERS],
        "parameters": {"trials_per_participant": trials, "practice_trials": practice,
                       "attention_checks": attention,
                       "completion_redirect": completion_redirect,
                       "exclusion": {"min_attention_pass": 1.0,
                                     "min_median_rt_ms": min_median_rt_ms}},
    }
    spec["parameters"].update(parameters or {})
    return spec


def create_sample_study(session: Session, slug: str = "sample", images: int = 12,
                        trials: int = 6, practice: int = 2, attention: int = 1,
                        status: str = "open", min_median_rt_ms: int = 500,
                        completion_redirect: str | None = None,
                        parameters: dict[str, Any] | None = None) -> Study:
    """Write a class-discrimination study with ``images`` two-category images x explainers.

    Returns the (committed) study. Practice items use the first ``practice`` images.
    """
    spec = definition(slug, trials, practice, attention, min_median_rt_ms, completion_redirect,
                      parameters)
    from xai_eval.studies.definition import parse_definition

    parsed = parse_definition(spec)
    study = Study(slug=slug, title=parsed.title, task=parsed.task, status=status,
                  definition=parsed.model_dump(mode="json"),
                  definition_hash=parsed.canonical_hash(), id_salt=secrets.token_hex(16))
    session.add(study)
    session.flush()
    mains: list[Item] = []
    for number in range(images + practice):
        first, second = CATEGORIES[number % len(CATEGORIES)], CATEGORIES[(number + 3) % len(CATEGORIES)]
        target = first if number % 2 == 0 else second
        image_id = f"synthetic_{number:04d}"
        is_practice = number < practice
        for e_index, explainer in enumerate(EXPLAINERS[:1] if is_practice else EXPLAINERS):
            data = _picture(number * 7 + e_index)
            stimulus = Stimulus(
                study_id=study.id, explainer=explainer, model="vgg16", dataset="synthetic",
                image_id=image_id, class_id=CATEGORIES.index(target), class_name=target,
                options={}, mime="image/png", content_hash=hashlib.sha256(data).hexdigest(),
                data=data, width=96, height=96)
            session.add(stimulus)
            session.flush()
            kind = "practice" if is_practice else "main"
            item = Item(
                study_id=study.id, key=f"{kind}:{image_id}:{target}:vgg16:{explainer}",
                kind=kind, condition=explainer, image_id=image_id,
                payload={"question": QUESTION, "names": sorted([first, second]),
                         "provenance": {"main": {"model": "vgg16", "explainer": explainer,
                                                 "class_id": CATEGORIES.index(target)}},
                         "stimuli": {"main": stimulus.id}},
                answer_key={"correct": target, "label": target})
            session.add(item)
            if kind == "main":
                mains.append(item)
    for index, base in enumerate(mains[:max(attention, 0) * 2]):
        names = base.payload["names"]
        target = names[index % 2]
        payload = dict(base.payload)
        payload["question"] = ("This is an attention check: please ignore the picture and "
                               f"select “{target}”.")
        session.add(Item(study_id=study.id, key=f"attention:{index}:{base.key}",
                         kind="attention", condition="attention", image_id=base.image_id,
                         payload=payload, answer_key={"correct": target, "label": target}))
    session.commit()
    return study


def create_sample_trust_study(session: Session, slug: str = "trust_sample", images: int = 4,
                              trials: int = 3, size: int = 224) -> Study:
    """Write a small trust study (two models' pictures side by side, the 5-point scale)
    with generated pictures, as ``study build`` would for the ``trust`` task plugin; no
    practice or attention items. For screen and browser tests."""
    spec = {"slug": slug, "title": f"Which model is more reliable? ({slug})", "task": "trust",
            "models": [{"name": "vgg16", "spec": "vgg16"}, {"name": "alexnet", "spec": "alexnet"}],
            "explainers": [{"name": "guided_gradcam"}],
            "parameters": {"trials_per_participant": trials, "practice_trials": 0,
                           "attention_checks": 0, "stronger_model": "vgg16"}}
    from xai_eval.studies.definition import parse_definition

    parsed = parse_definition(spec)
    study = Study(slug=slug, title=parsed.title, task="trust", status="open",
                  definition=parsed.model_dump(mode="json"),
                  definition_hash=parsed.canonical_hash(), id_salt=secrets.token_hex(16))
    session.add(study)
    session.flush()
    for number in range(images):
        category = CATEGORIES[number % len(CATEGORIES)]
        ids = {}
        for offset, model in enumerate(("vgg16", "alexnet")):
            data = _picture(number * 11 + offset, size)
            stimulus = Stimulus(
                study_id=study.id, explainer="guided_gradcam", model=model,
                dataset="synthetic", image_id=f"synthetic_{number:04d}",
                class_id=CATEGORIES.index(category), class_name=category, options={},
                mime="image/png", content_hash=hashlib.sha256(data).hexdigest(), data=data,
                width=size, height=size)
            session.add(stimulus)
            session.flush()
            ids[model] = stimulus.id
        session.add(Item(
            study_id=study.id, key=f"main:synthetic_{number:04d}:{category}:guided_gradcam",
            kind="main", condition="guided_gradcam", image_id=f"synthetic_{number:04d}",
            payload={"class_name": category, "stronger": "vgg16",  # the task's own question
                     "provenance": {m: {"model": m, "explainer": "guided_gradcam"}
                                    for m in ids},
                     "stimuli": ids},
            answer_key={"stronger": "vgg16"}))
    session.commit()
    return study
