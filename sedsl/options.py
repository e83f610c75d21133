"""Click options that several commands take alike (sedsl/cli.py, sedsl/swap/commands.py)."""

from __future__ import annotations

import click

text_or_json = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="a table, or JSON.",
)
