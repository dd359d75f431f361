"""The admin blueprint (``/admin/``): login, studies with live progress, results, exports.

One module per job: :mod:`.blueprint` (the blueprint and its login guard), :mod:`.auth`
(login/logout), :mod:`.studies` (the pages), :mod:`.exports` (downloads), with
:mod:`.results_display` and :mod:`.charts` formatting the admin service's numbers.
Templates are in ``templates/admin/``. Importing this package registers every view.
"""

from __future__ import annotations

from xai_eval.web.admin import auth, exports, studies  # noqa: F401  (register the views)
from xai_eval.web.admin.blueprint import bp

__all__ = ["bp"]
