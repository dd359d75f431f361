"""Exceptions xai-eval raises on bad input: each says what was wrong and what to do.

They subclass the built-in exception a caller would expect (``ValueError``, ``TypeError``,
``LookupError``) so generic handlers keep working.
"""

from __future__ import annotations


class XaiEvalError(Exception):
    """Base class of every error raised on purpose by xai-eval."""


class UnknownNameError(XaiEvalError, LookupError):
    """A plugin-provided name (explainer, metric, dataset, ...) is not registered."""


class LayerResolutionError(XaiEvalError, ValueError):
    """The target layer could not be found or inferred."""


class InputValidationError(XaiEvalError, ValueError):
    """Images, targets, masks or boxes have the wrong shape, dtype or range."""


class InputTypeError(XaiEvalError, TypeError):
    """Images have the wrong dtype (for example uint8 instead of float)."""


class ModelOutputError(XaiEvalError, ValueError):
    """The model produced NaN/Inf or an output the explainer cannot use."""


class UnsupportedModelError(XaiEvalError, ValueError):
    """The method cannot work with this architecture (e.g. CAM without a GAP head)."""


class MissingResourceError(XaiEvalError, FileNotFoundError):
    """A weights file or dataset is not where it must be; the message says where to put it."""
