"""The ``xai-eval`` command line: one click group; each area adds its own commands.

The explainer commands live here; the metric-suite commands (``run``, ``demo``, ``gapify``)
register from :mod:`xai_eval.suite.commands` and the study commands (``study``, ``serve``,
``db``, ``admin``) from :mod:`xai_eval.web.commands`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from xai_eval import __version__


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


@main.command("plugins")
@click.option("--verbose", "-v", is_flag=True, help="Also show each class's options.")
def plugins_command(verbose: bool) -> None:
    """List every plugin with its version, hooks and what it registers.

    Broken plugins (import errors, bad hooks, duplicate names) are listed with the reason;
    the exit status is 1 when any plugin failed.
    """
    from rich.console import Console
    from rich.table import Table

    from xai_eval.plugins import KIND_NOUN, default_registries

    registries = default_registries()
    console = Console()
    plugins = Table(title="Plugins", show_lines=False)
    for column in ("plugin", "version", "source", "hooks"):
        plugins.add_column(column)
    for info in registries.plugins:
        plugins.add_row(info.name, info.version, info.source,
                        ", ".join(h.removeprefix("xai_eval_register_") for h in info.hooks))
    console.print(plugins)
    for kind, entries in registries.entries.items():
        if not entries:
            continue
        table = Table(title=KIND_NOUN[kind].capitalize() + "s")
        for column in ("name", "plugin", "version", "summary"):
            table.add_column(column)
        if verbose:
            table.add_column("options")
        for name in sorted(entries):
            entry = entries[name]
            row = [name, entry.plugin, entry.version, entry.summary]
            if verbose:
                options = getattr(entry.cls, "options", {}) or {}
                row.append(", ".join(f"{k}={v!r}" for k, v in options.items()))
            table.add_row(*row)
        console.print(table)
    for error in registries.errors:
        console.print(f"[red]error:[/red] {error}")
    if registries.errors:
        sys.exit(1)


def _register_area_commands() -> None:
    """Attach the commands of the suite and study areas when those modules exist."""
    import importlib

    for module_name in ("xai_eval.explain.commands", "xai_eval.suite.commands",
                        "xai_eval.web.commands"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register(main)


_register_area_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
