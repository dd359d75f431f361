"""The ``xai-eval`` command line: one click group, one module per command group.

==========================  ==========================================================
module                      commands
==========================  ==========================================================
:mod:`xai_eval.cli.explain`  ``explain`` (one image, one method -> an overlay PNG)
:mod:`xai_eval.cli.suite`    ``run``, ``demo`` (metric suites)
:mod:`xai_eval.cli.models`   ``gapify`` (the CAM paper's GAP network, fine-tuned)
:mod:`xai_eval.cli.study`    ``study build|check|list|results|export|pilot``
:mod:`xai_eval.cli.db`       ``db upgrade``
:mod:`xai_eval.cli.serve`    ``serve``, ``admin create|find-participant``
:mod:`xai_eval.cli.plugins`  ``plugins``
==========================  ==========================================================

The command modules import only click (and :mod:`xai_eval.errors`) at module level; each
command imports its domain inside its body, so ``xai-eval --help`` and every command's
``--help`` start in a fraction of a second and load no torch
(``tests/core/test_torch_free.py`` checks that). The console script is
``xai_eval.cli:main``; ``python -m xai_eval.cli`` runs the same group.
"""

from __future__ import annotations

from pathlib import Path

import click

from xai_eval import __version__
from xai_eval.cli.db import db_group
from xai_eval.cli.explain import explain_command
from xai_eval.cli.models import gapify_command
from xai_eval.cli.plugins import plugins_command
from xai_eval.cli.serve import admin_group, serve
from xai_eval.cli.study import study_group
from xai_eval.cli.suite import demo_command, run_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xai-eval")
@click.option("--plugins-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also load every *.py file in this folder as a plugin (for experiments).")
def main(plugins_dir: Path | None) -> None:
    """xai-eval: compute visual explanations, score them with localization and
    faithfulness metrics, and run human studies on them.

    Start with `xai-eval demo` (the default suite on the embedded benchmark) or
    `xai-eval plugins` (what is installed).
    """
    if plugins_dir is not None:
        from xai_eval.plugins import reload_default_registries

        reload_default_registries(plugins_dir)


for _command in (explain_command, run_command, demo_command, gapify_command, study_group,
                 db_group, serve, admin_group, plugins_command):
    main.add_command(_command)
del _command
