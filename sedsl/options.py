"""Click options that several commands take alike (sedsl/cli.py, sedsl/swap/commands.py)."""

from __future__ import annotations

import click

# the names `search`, `train` and `cost` accept, kept here so that the CLI starts without
# torch (tests/commandline checks them against sedsl/search/backbones.py and sedsl/cost/network.py)
SEARCH_BACKBONES = ("resnet20", "resnet32", "resnet56", "resnet18", "resnet50", "resnet101")
SE_BACKBONES = (
    *("regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf"),
    *("efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3"),
)
COST_BACKBONES = (*SEARCH_BACKBONES, *SE_BACKBONES)


class NameChoice(click.Choice):
    """A choice that also takes the name spelt in another case or without `_`, `-` or `.`
    (`regnety800mf`, `RegNet_Y_800MF`) and gives the canonical one (`regnet_y_800mf`)."""

    def convert(self, value, param, ctx):
        key = "".join(ch for ch in str(value).lower() if ch.isalnum())
        for choice in self.choices:
            if "".join(ch for ch in str(choice).lower() if ch.isalnum()) == key:
                return choice
        return super().convert(value, param, ctx)


text_or_json = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="a table, or JSON.",
)
