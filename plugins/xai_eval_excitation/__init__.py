"""Built-in plugin: Excitation Backprop (MWP) and contrastive MWP (Zhang et al., ECCV 2016)."""

from __future__ import annotations

from xai_eval import hookimpl
from xai_eval_excitation.explainers import ContrastiveMWP, ExcitationBackprop

__all__ = ["ContrastiveMWP", "ExcitationBackprop"]


@hookimpl
def xai_eval_register_explainers() -> list[type]:
    return [ExcitationBackprop, ContrastiveMWP]
