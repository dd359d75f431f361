"""Simulated participants for a pilot of a model-prediction study, and its power analysis.

A *model observer* takes the study exactly as a person would, through the participant
JSON API (``/api/...``; the command line drives the real app with Flask's test client): it
sees only what the pages show — the pictures, the captions, the question and the options.

- **Training**: from each example it keeps the photo (downsampled to 8x8 RGB) and the
  decision in the caption ("The model decided: X"). When an explanation is shown beside the
  photo it also keeps where the explanation picture stands out from its own median colour
  (its *saliency*, 8x8) — the observer cannot tell a method's colour code, so it treats
  every rendering alike.
- **Test**: a nearest-class-mean classifier over the classes it saw decided, on the photo's
  pixels weighted by the mean training saliency (uniform weights without explanations),
  restricted to the offered options; classes never seen in training get no mean.
- Each observer has its own seed: Gaussian noise on its features (``noise``) and a lapse
  rate (random answer) make participants differ, as people do. Attention checks are
  answered as instructed.

The pilot's per-participant test accuracies give Cohen's d of each explainer against the
control, and statsmodels' ``TTestIndPower`` the participants per condition that a two-sided
Welch/Student comparison needs (:func:`~xai_eval.studies.utility.required_per_condition`).
A model observer is not a person: the numbers size a study, they do not replace it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xai_eval.studies.utility import UtilityReport, required_per_condition

GRID = 8
DECIDED = re.compile(r"The model decided: (.+)$")
SELECT = re.compile(r"select “(.+?)”")


def _pixels(png: bytes) -> np.ndarray:
    """(GRID, GRID, 3) floats in [0, 1] of a PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        small = img.convert("RGB").resize((GRID, GRID), Image.Resampling.BOX)
    return np.asarray(small, dtype=float) / 255.0


def saliency(png: bytes) -> np.ndarray:
    """Where an explanation picture differs from its own median colour, (GRID, GRID),
    normalised to mean 1 (uniform when the picture is flat)."""
    arr = _pixels(png)
    distance = np.linalg.norm(arr - np.median(arr.reshape(-1, 3), axis=0), axis=2)
    total = distance.mean()
    return distance / total if total > 1e-9 else np.ones((GRID, GRID))


@dataclass
class ModelObserver:
    """One simulated participant (see the module docstring)."""

    seed: int
    noise: float = 0.15
    lapse: float = 0.1
    examples: list[tuple[np.ndarray, str]] = field(default_factory=list)
    maps: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def learn(self, photo: bytes, decision: str, explanation: bytes | None) -> None:
        self.examples.append((_pixels(photo), decision))
        if explanation is not None:
            self.maps.append(saliency(explanation))

    def _weights(self) -> np.ndarray:
        return np.mean(self.maps, axis=0) if self.maps else np.ones((GRID, GRID))

    def _features(self, pixels: np.ndarray, weights: np.ndarray) -> np.ndarray:
        x = (pixels * weights[..., None]).ravel()
        return x + self.rng.normal(0.0, self.noise, size=x.shape)

    def predict(self, photo: bytes, options: list[str]) -> str:
        if self.rng.random() < self.lapse or not self.examples:
            return str(self.rng.choice(options))
        weights = self._weights()
        means: dict[str, list[np.ndarray]] = {}
        for pixels, decision in self.examples:
            means.setdefault(decision, []).append(self._features(pixels, weights))
        x = self._features(_pixels(photo), weights)
        known = [o for o in options if o in means]
        if not known:
            return str(self.rng.choice(options))
        distances = {o: float(np.linalg.norm(x - np.mean(means[o], axis=0))) for o in known}
        return min(known, key=lambda o: (distances[o], o))


class ApiParticipant:
    """The participant JSON API as a browser uses it, over a Flask-like test client
    (``get``/``post`` returning responses with ``get_json()``, ``data``, ``status_code``)."""

    def __init__(self, client: Any, slug: str) -> None:
        self.client = client
        self.csrf = client.get("/api/csrf").get_json()["csrf_token"]
        started = client.post(f"/api/studies/{slug}/sessions", json={},
                              headers={"X-CSRFToken": self.csrf})
        if started.status_code not in (200, 201):
            raise RuntimeError(f"the study refused a simulated participant: "
                               f"{started.status_code} {started.get_data(as_text=True)[:200]}")

    def trial(self) -> dict[str, Any]:
        return self.client.get("/api/sessions/current/trial").get_json()

    def picture(self, stimulus: dict[str, Any]) -> bytes:
        return self.client.get(stimulus["url"]).data

    def answer(self, trial_id: str, value: Any, rt_ms: int) -> None:
        response = self.client.post("/api/sessions/current/answers",
                                    json={"trial_id": trial_id, "answer": value, "rt_ms": rt_ms},
                                    headers={"X-CSRFToken": self.csrf})
        if response.status_code not in (200, 201):
            raise RuntimeError(f"an answer was refused: {response.status_code} "
                               f"{response.get_data(as_text=True)[:200]}")


def take_study(api: ApiParticipant, observer: ModelObserver) -> int:
    """Answer every trial of ``api``'s participant as ``observer``; returns the trial count."""
    done = 0
    while True:
        trial = api.trial()
        if trial.get("done"):
            return done
        by_position = {s["position"]: s for s in trial["stimuli"]}
        values = [o["value"] for o in trial["options"]]
        labels = {o["label"]: o["value"] for o in trial["options"]}
        instructed = SELECT.search(trial["question"])
        photo = by_position.get("center") or by_position.get("left")
        if instructed and instructed.group(1) in labels:
            value = labels[instructed.group(1)]
        elif values == ["next"] and photo is not None:
            decided = DECIDED.search(photo["caption"])
            explanation = by_position.get("right")
            observer.learn(api.picture(photo), decided.group(1) if decided else "",
                           api.picture(explanation) if explanation else None)
            value = "next"
        else:
            # counterfactual tests show the changed photo on the right: predict for that one
            target = by_position.get("right") or photo
            value = observer.predict(api.picture(target), [str(v) for v in values])
        api.answer(trial["trial_id"], value, 1500 + int(observer.rng.integers(0, 1500)))
        done += 1


@dataclass
class PilotResult:
    """The pilot's utility report with each explainer's effect size and required n."""

    report: UtilityReport
    participants: int
    alpha: float
    power: float
    required: dict[str, int | None]

    def as_dict(self) -> dict[str, Any]:
        return {"participants": self.participants, "alpha": self.alpha, "power": self.power,
                "required_per_condition": dict(self.required), **self.report.as_dict()}

    def lines(self) -> list[str]:
        """The table the command prints (and the admin page shows)."""
        out = [f"simulated participants: {self.participants}; chance {self.report.chance:.3f}"]
        for c in self.report.conditions:
            out.append(f"  {c.condition:<20} n={c.participants:<3} accuracy {c.mean:.3f}")
        for u in self.report.utilities:
            d = "n/a" if u.cohens_d is None else f"{u.cohens_d:+.2f}"
            need = self.required.get(u.condition)
            out.append(f"  utility {u.condition:<12} {u.utility:+.3f} (Cohen's d {d}) -> "
                       + (f"{need} participants per condition" if need else
                          "no effect to detect")
                       + f" for power {self.power:.2f} at alpha {self.alpha:.2f}")
        out += [f"  note: {n}" for n in self.report.notes]
        return out


def run_pilot(new_client: Callable[[], Any], slug: str, participants: int,
              report: Callable[[], UtilityReport], seed: int = 0, alpha: float = 0.05,
              power: float = 0.8, progress: Callable[[int, int], None] | None = None,
              **observer: Any) -> PilotResult:
    """Send ``participants`` model observers through the study (each on a fresh client,
    assigned by the study's balanced between-subjects rule), then size the study."""
    for number in range(participants):
        take_study(ApiParticipant(new_client(), slug), ModelObserver(seed * 100_003 + number,
                                                                     **observer))
        if progress is not None:
            progress(number + 1, participants)
    result = report()
    required = {u.condition: required_per_condition(u.cohens_d, alpha, power)
                for u in result.utilities}
    return PilotResult(result, participants, alpha, power, required)
