"""``xai-eval plugins``: what is installed, from the registries the plugins fill."""

from __future__ import annotations

import sys

import click


@click.command("plugins")
@click.option("--verbose", "-v", is_flag=True,
              help="Also show each class's options, and each explainer's paper and oracle.")
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
    if verbose and registries.entries["explainers"]:
        console.print(_references(registries.entries["explainers"], Table))
    for error in registries.errors:
        console.print(f"[red]error:[/red] {error}")
    if registries.errors:
        sys.exit(1)


def _references(entries: dict, table_cls: type) -> object:
    """Explainer name -> its paper and the independent oracle its tests compare against."""
    table = table_cls(title="Explainer references")
    for column in ("name", "paper", "oracle (tests)"):
        table.add_column(column)
    for name in sorted(entries):
        cls = entries[name].cls
        table.add_row(name, getattr(cls, "paper", "") or "-", getattr(cls, "oracle", "") or "-")
    return table
