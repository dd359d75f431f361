"""``python -m xai_eval.cli``: the same command group as the ``xai-eval`` console script."""

from xai_eval.cli import main

main()
