"""Run a suite: models x explainers x datasets x metrics, every per-image result into SQL.

Work is cut into *units* — one (model, explainer, dataset, image) — plus one model-level
unit per (model, dataset, image) for classification. A unit's metric rows and its
completion marker are committed together, so a killed run loses at most the batch in
flight and ``--resume`` redoes exactly what is missing.

Determinism: batches are fixed slices of the shard's image list, and a batch with any
pending unit is recomputed whole, so a resumed run computes every stored number in the
same batch as an uninterrupted run would (equal tables, bit for bit). Metrics are seeded
per (metric, image, class), never by position in the run.
"""

from __future__ import annotations

import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from xai_eval.data.base import CorruptImageError, Dataset
from xai_eval.db.base import database_url, make_engine, session_factory
from xai_eval.db.migrate import upgrade
from xai_eval.errors import LayerResolutionError, UnsupportedModelError, XaiEvalError
from xai_eval.metrics.base import MetricContext
from xai_eval.metrics.seeds import SampleRandom
from xai_eval.plugins import Registries, default_registries
from xai_eval.suite import store
from xai_eval.suite.config import SuiteConfig
from xai_eval.suite.resources import (
    build_explainer,
    build_metric,
    load_model,
    needs_topk,
    open_dataset,
)
from xai_eval.suite.samples import (
    PreparedImage,
    fit_maps,
    label_classes,
    prepare_image,
    sample_fields_missing,
)
from xai_eval.suite.sharding import Shard, shard_from_env
from xai_eval.suite.units import Batch, ModelPass, classification_rows, result_row, update_recording

#: errors that mean "this explainer cannot work with this model at all"
PAIR_ERRORS = (UnsupportedModelError, LayerResolutionError)


class InjectedFailure(RuntimeError):
    """Raised by ``RunOptions.fail_after_units`` (tests simulate a crash with it)."""


@dataclass
class RunOptions:
    """How to run (none of this changes the results, so none of it is in the run id)."""

    db_url: str | None = None
    resume: bool = False
    shard: Shard | None = None
    run_name: str | None = None
    progress: bool = True
    base_dir: Path | None = None  # where relative dataset roots are resolved (the YAML's folder)
    fail_after_units: int | None = None  # testing: crash after this many committed units
    echo: Callable[[str], None] = print


@dataclass
class RunOutcome:
    """What happened: the run id, whether it is complete, and what this process did."""

    run_id: str
    db_url: str
    complete: bool
    reused: bool = False
    units_written: int = 0
    skipped_pairs: list[tuple[str, str, str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


class SuiteRunner:
    """Runs one suite configuration against one database."""

    def __init__(self, config: SuiteConfig, registries: Registries | None = None,
                 options: RunOptions | None = None) -> None:
        self.config = config
        self.registries = registries or default_registries()
        self.options = options or RunOptions()
        self.shard = self.options.shard or shard_from_env()
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{self.shard}"
        self.timings: dict[str, float] = defaultdict(float)
        self._warned: set[str] = set()
        self._units_written = 0

    # --- entry point ---------------------------------------------------------------------
    def run(self) -> RunOutcome:
        config, options = self.config, self.options
        config.check_names(self.registries)
        start = time.perf_counter()
        datasets = {d.id: open_dataset(d, self.registries, options.base_dir)
                    for d in config.datasets}  # every dataset fails here, before any work
        self.image_ids = {key: self._image_ids(ds, config_entry.limit)
                          for (key, ds), config_entry in zip(datasets.items(), config.datasets,
                                                             strict=True)}
        url = database_url(options.db_url)
        upgrade(url)  # locked; a clear error on an unreachable database, schema at heads
        engine = make_engine(url)
        self.factory = session_factory(engine)
        self.run_id = config.run_id(options.run_name, options.base_dir)
        outcome = RunOutcome(self.run_id, url, complete=False)
        try:
            existing = store.get_run(self.factory, self.run_id)
            if existing is not None and not options.resume and not self.shard.is_partial:
                if existing.completed_at is not None:
                    options.echo(
                        f"run {self.run_id} ({existing.name!r}) is already complete in this "
                        f"database (finished {existing.completed_at:%Y-%m-%d %H:%M}); showing "
                        "its stored results. Use --name to start a separate run."
                    )
                    outcome.complete = outcome.reused = True
                    return outcome
                raise store.RunExistsError(
                    f"run {self.run_id} ({existing.name!r}) already exists in {url} and is "
                    f"incomplete ({store.count_units(self.factory, self.run_id)} of "
                    f"{existing.total_units} units done). Pass --resume to finish it, or "
                    "--name NAME to start a separate run"
                )
            store.create_run(self.factory, self.run_id, options.run_name or config.name,
                             config.config_hash(options.base_dir),
                             config.resolved(options.base_dir), self._total_units())
            self.timings["setup"] += time.perf_counter() - start
            for model_entry in config.models:
                self._run_model(model_entry, datasets)
            outcome.complete = self.is_complete()
            if outcome.complete:
                store.mark_complete(self.factory, self.run_id)
            outcome.skipped_pairs = [
                (s.model, s.explainer, s.dataset, s.reason)
                for s in store.skips(self.factory, self.run_id) if s.image_id == store.PAIR_SKIP
            ]
        finally:
            outcome.units_written = self._units_written
            outcome.timings = dict(self.timings)
            engine.dispose()
        return outcome

    # --- bookkeeping ---------------------------------------------------------------------
    @staticmethod
    def _image_ids(dataset: Dataset, limit: int | None) -> list[str]:
        count = len(dataset) if limit is None else min(limit, len(dataset))
        ids = [dataset[i].image_id for i in range(count)]
        if len(set(ids)) != len(ids):
            raise XaiEvalError("dataset yields duplicate image ids; ids must be unique")
        return ids

    def _total_units(self) -> int:
        images = sum(len(ids) for ids in self.image_ids.values())
        return sum(images * (1 + len(self.config.explainers_for(m.id))) for m in self.config.models)

    def is_complete(self) -> bool:
        """Every unit of every shard is done or skipped (checked in the database)."""
        skipped = store.skips(self.factory, self.run_id)
        for model in self.config.models:
            for dataset_id, ids in self.image_ids.items():
                done = store.done_units(self.factory, self.run_id, model.id, dataset_id)
                bad_images = {s.image_id for s in skipped if s.dataset == dataset_id and not s.model}
                for explainer in [""] + [e.id for e in self.config.explainers_for(model.id)]:
                    skipped_here = {s.image_id for s in skipped if s.dataset == dataset_id
                                    and s.model == model.id and s.explainer == explainer}
                    if store.PAIR_SKIP in skipped_here:
                        continue
                    for image_id in ids:
                        if image_id in bad_images or image_id in skipped_here:
                            continue
                        if (explainer, image_id) not in done:
                            return False
        return True

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.options.echo(f"note: {message}")

    def _committed(self, count: int) -> None:
        self._units_written += count
        limit = self.options.fail_after_units
        if limit is not None and self._units_written >= limit:
            raise InjectedFailure(f"injected failure after {self._units_written} units")

    # --- the work ------------------------------------------------------------------------
    def _run_model(self, model_entry: Any, datasets: dict[str, Dataset]) -> None:
        tic = time.perf_counter()
        loaded = load_model(model_entry, self.registries, self.config.device)
        explainers: dict[str, Any] = {}
        for entry in self.config.explainers_for(model_entry.id):
            try:
                explainers[entry.id] = build_explainer(entry, loaded, model_entry, self.registries)
            except PAIR_ERRORS as exc:
                for dataset_id in datasets:
                    self._skip_pair(model_entry.id, entry.id, dataset_id, exc)
        self.timings["load models"] += time.perf_counter() - tic
        for dataset_entry in self.config.datasets:
            self._run_model_dataset(model_entry.id, loaded, explainers, dataset_entry,
                                    datasets[dataset_entry.id])

    def _skip_pair(self, model: str, explainer: str, dataset: str, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        store.record_skip(self.factory, self.run_id, dataset, store.PAIR_SKIP, reason,
                          model=model, explainer=explainer)
        self._warn_once(f"pair:{model}:{explainer}",
                        f"skipping explainer {explainer!r} for model {model!r}: {exc}")

    def _run_model_dataset(self, model_id: str, loaded: Any, explainers: dict[str, Any],
                           dataset_entry: Any, dataset: Dataset) -> None:
        from tqdm import tqdm

        dataset_id = dataset_entry.id
        ids = self.image_ids[dataset_id]
        done = store.done_units(self.factory, self.run_id, model_id, dataset_id)
        skipped = store.skips(self.factory, self.run_id)
        bad = {s.image_id for s in skipped if s.dataset == dataset_id and not s.model}
        for s in skipped:
            if s.dataset == dataset_id and s.model == model_id:
                done.add((s.explainer, s.image_id))
        pair_skipped = {e for e, i in done if i == store.PAIR_SKIP}
        active = [e for e in explainers if e not in pair_skipped]
        owned = [i for i, image_id in enumerate(ids) if self.shard.owns(image_id)]
        size = self.config.batch_size
        batches = [owned[s:s + size] for s in range(0, len(owned), size)]
        metrics = {e: [(m, build_metric(m, self.registries)) for m in self.config.metrics]
                   for e in active}
        want_topk = self.config.topk if needs_topk(self.config.metrics, self.registries) else 0
        work = ModelPass(model_id, loaded, dataset_id, explainers, metrics, pair_skipped,
                         want_topk, self.config.device)
        bar = tqdm(total=len(owned) * (1 + len(active)), unit="unit",
                   desc=f"{model_id} on {dataset_id}", disable=not self.options.progress,
                   leave=False)
        try:
            for batch in batches:
                batch_ids = [ids[i] for i in batch if ids[i] not in bad]
                pending = {e: {i for i in batch_ids if (e, i) not in done}
                           for e in ["", *active] if e not in pair_skipped}
                finished = len(batch) * (1 + len(active)) - sum(len(p) for p in pending.values())
                bar.update(finished)
                if not any(pending.values()):
                    continue
                prepared = self._prepare(batch, dataset, loaded, dataset_id)
                decoded = {p.item.image_id for p in prepared}
                bar.update(sum(len(p - decoded) for p in pending.values()))
                pending = {e: p & decoded for e, p in pending.items()}
                if not prepared:
                    continue
                self._run_batch(Batch(work, prepared, pending), bar)
        finally:
            bar.close()

    def _prepare(self, batch: list[int], dataset: Dataset, loaded: Any, dataset_id: str
                 ) -> list[PreparedImage]:
        tic = time.perf_counter()
        prepared = []
        item_label = getattr(dataset, "item_label", None)
        for index in batch:
            item = dataset[index]
            label = item_label(item) if callable(item_label) else None
            try:
                prepared.append(prepare_image(index, item, loaded, label))
            except CorruptImageError as exc:
                store.record_skip(self.factory, self.run_id, dataset_id, item.image_id, str(exc))
                self._warn_once(f"bad:{dataset_id}:{item.image_id}",
                                f"skipping image {item.image_id!r} of {dataset_id!r}: {exc}")
        self.timings["decode"] += time.perf_counter() - tic
        return prepared

    def _run_batch(self, batch: Batch, bar: Any) -> None:
        work, pending = batch.work, batch.pending
        tic = time.perf_counter()
        batch.classify()
        self.timings["classify"] += time.perf_counter() - tic
        if pending.get(""):
            rows = classification_rows(self.run_id, work.model_id, work.dataset_id,
                                       batch.prepared, batch.logits, batch.present, pending[""])
            store.write_unit_rows(self.factory, self.run_id, work.model_id, "", work.dataset_id,
                                  sorted(pending[""]), rows, self.worker)
            bar.update(len(pending[""]))
            self._committed(len(pending[""]))
        for explainer_id in work.explainers:
            todo = pending.get(explainer_id)
            if explainer_id in work.pair_skipped or not todo:
                continue
            tic = time.perf_counter()
            maps = self._explain(batch, explainer_id, todo)
            self.timings[f"explain {explainer_id}"] += time.perf_counter() - tic
            if maps is None:  # the pair was skipped
                work.pair_skipped.add(explainer_id)
                bar.update(len(todo))
                continue
            tic = time.perf_counter()
            context = batch.context(explainer_id)
            rows = []
            for b, image in enumerate(batch.prepared):
                if image.item.image_id in todo and maps[b] is not None:
                    rows.extend(self._metric_rows(batch, b, maps[b], context))
            self.timings["metrics"] += time.perf_counter() - tic
            tic = time.perf_counter()
            store.write_unit_rows(self.factory, self.run_id, work.model_id, explainer_id,
                                  work.dataset_id, sorted(todo), rows, self.worker)
            self.timings["database"] += time.perf_counter() - tic
            bar.update(len(todo))
            self._committed(len(todo))

    def _explain(self, batch: Batch, explainer_id: str, todo: set[str]
                 ) -> list[torch.Tensor | None] | None:
        """(K, H, W) maps per image; None entries for images it failed on; None if the pair fails."""
        model_id, dataset_id = batch.work.model_id, batch.work.dataset_id
        explainer = batch.work.explainers[explainer_id]
        images, targets, prepared = batch.images, batch.targets, batch.prepared
        assert images is not None and targets is not None
        size = tuple(images.shape[-2:])
        try:
            maps = fit_maps(explainer.explain(images, targets).maps.detach().cpu(), size,
                            explainer_id)
            return list(maps)
        except PAIR_ERRORS as exc:
            self._skip_pair(model_id, explainer_id, dataset_id, exc)
            return None
        except XaiEvalError:
            pass  # isolate the image(s) it fails on
        out: list[torch.Tensor | None] = []
        for b, image in enumerate(prepared):
            try:
                single = explainer.explain(images[b:b + 1], targets[b:b + 1]).maps.detach().cpu()
                out.append(fit_maps(single, size, explainer_id)[0])
            except PAIR_ERRORS as exc:
                self._skip_pair(model_id, explainer_id, dataset_id, exc)
                return None
            except XaiEvalError as exc:
                out.append(None)
                if image.item.image_id in todo:
                    store.record_skip(self.factory, self.run_id, dataset_id, image.item.image_id,
                                      f"{type(exc).__name__}: {exc}", model=model_id,
                                      explainer=explainer_id)
        return out

    def _metric_rows(self, batch: Batch, b: int, maps: torch.Tensor, context: MetricContext
                     ) -> list[dict[str, Any]]:
        """Every metric's rows for image ``b`` of ``batch``, one per (metric, class)."""
        model_id, dataset_id = context.model_id, context.dataset
        explainer_id, image = context.explainer_id, batch.prepared[b]
        metrics = batch.work.metrics[explainer_id]
        rows = []
        classes = batch.present[b]
        labelled = label_classes(image, classes)
        for column, class_id in enumerate(classes):
            samples = batch.samples(b, class_id, column, maps, context)
            for entry, metric in metrics:
                if entry.max_images is not None and image.index >= entry.max_images:
                    continue
                if entry.classes == "label" and class_id not in labelled:
                    continue
                sample = samples[entry.region]
                missing = sample_fields_missing(sample, getattr(metric, "requires", frozenset()))
                if missing:
                    self._warn_once(f"req:{entry.id}:{dataset_id}",
                                    f"metric {entry.id!r} needs {missing}, which dataset "
                                    f"{dataset_id!r} lacks for some images; those are not scored")
                    continue
                sample.random = SampleRandom(self.config.seed, entry.id, sample.image_id, class_id)
                if getattr(metric, "global_rng", False):  # a plugin drawing from torch's RNG
                    torch.manual_seed(sample.random.seed)
                tic = time.perf_counter()
                try:
                    values, warned = update_recording(metric, sample)
                except XaiEvalError as exc:  # this sample cannot be scored: record, go on
                    store.record_skip(self.factory, self.run_id, dataset_id, sample.image_id,
                                      f"metric {entry.id!r}, class {class_id}: {exc}",
                                      model=model_id, explainer=f"{explainer_id}:{entry.id}")
                    self._warn_once(f"err:{entry.id}:{dataset_id}",
                                    f"metric {entry.id!r} could not score some samples of "
                                    f"{dataset_id!r} (recorded in skipped_images): {exc}")
                    continue
                finally:
                    self.timings[f"metric {entry.id}"] += time.perf_counter() - tic
                if warned and f"warn:{entry.id}:{dataset_id}" not in self._warned:
                    store.record_warning(self.factory, self.run_id, dataset_id, entry.id, warned[0])
                    self._warn_once(f"warn:{entry.id}:{dataset_id}", f"metric {entry.id!r} warned "
                                    f"on {dataset_id!r} (in the report): {warned[0]}")
                rows.append(result_row(self.run_id, model_id, explainer_id, dataset_id, entry.id,
                                      sample.image_id, class_id, values))
        return rows
