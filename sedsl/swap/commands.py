"""`sedsl swap` and `sedsl evaluate` (registered by sedsl/cli.py). Thin, and torch-free
until a command runs, so that `sedsl check` keeps starting fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sedsl.options import SE_BACKBONES, NameChoice, text_or_json

EXIT_USAGE = 2


def _evaluation_options(command):
    """How `swap --evaluate` and `evaluate` score, and what they print."""
    command = text_or_json(command)
    command = click.option(
        "--workers", type=int, default=0, show_default=True, help="data-loading processes."
    )(command)
    return click.option(
        "--batch-size", type=int, default=64, show_default=True, help="images per evaluation batch."
    )(command)


def _guarded(action):
    """User errors print one clear line and exit 2, never a traceback."""
    from sedsl.swap.api import SwapError
    from sedsl.swap.evaluate import EvaluateError

    try:
        return action()
    except (SwapError, EvaluateError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


@click.command()
@click.argument("backbone", type=NameChoice(SE_BACKBONES), metavar="BACKBONE")
@click.argument("space_dir", type=click.Path(path_type=Path))
@click.option("--genotype", required=True, help="a genotype of the space, or a genotype.json.")
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    default=None,
    help="a local state dict of the torchvision network (its own .pth files load unchanged); "
    "default: random initialisation.",
)
@click.option("--input-size", type=int, default=None, help="input side (default: Table 2's).")
@click.option("--num-classes", type=int, default=1000, show_default=True, help="classifier width.")
@click.option(
    "--stages",
    default=None,
    help="comma-separated stages to swap (e.g. block3 or features.6); default: all.",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="where SE weights cannot be carried, keep the new block's initialisation.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="write the swap directory here."
)
@click.option(
    "--evaluate",
    "data",
    type=click.Path(path_type=Path),
    default=None,
    help="an ImageFolder (ROOT/val or ROOT): report top-1 of the original and the swapped.",
)
@click.option("--limit", type=int, default=None, help="evaluate the first N images only.")
@_evaluation_options
def swap(
    backbone,
    space_dir,
    genotype,
    weights,
    input_size,
    num_classes,
    stages,
    fresh,
    out,
    data,
    limit,
    batch_size,
    workers,
    fmt,
) -> None:
    """Replace every SE module of a torchvision RegNetY or EfficientNet with a genotype,
    carrying the SE weights over; report per slot what was carried.

    BACKBONE is torchvision's name: regnet_y_400mf, regnet_y_800mf, regnet_y_1_6gf,
    regnet_y_3_2gf or efficientnet_b0 to efficientnet_b3 (regnety800mf is taken too)."""

    def run():
        from sedsl.swap import api

        original = None
        if data is not None:  # keep the original network to score it beside the swapped one
            from sedsl.swap.zoo import ZooError, load_weights, se_network

            try:
                network = se_network(backbone)
                original = network.build(num_classes)
                if weights is not None:
                    load_weights(original, str(weights), network.name)
            except ZooError as exc:
                raise api.SwapError(str(exc)) from exc
        result = api.swap(
            backbone,
            space_dir,
            genotype,
            weights=weights,
            input_size=input_size,
            num_classes=num_classes,
            stages=[s.strip() for s in stages.split(",")] if stages else None,
            allow_fresh=fresh,
            original=original,
        )
        if out is not None:
            api.save_swapped(result, out)
        scores = None
        if data is not None:
            scores = score_pair(
                result.backbone,
                result.input_size,
                original,
                result.model,
                data,
                limit=limit,
                batch_size=batch_size,
                workers=workers,
            )
        return result, scores

    result, scores = _guarded(run)
    from sedsl.swap.api import render_report

    if fmt == "json":
        record = result.record()
        if scores is not None:
            record["evaluate"] = scores
        click.echo(json.dumps(record, indent=2))
        return
    click.echo(render_report(result), nl=False)
    if scores is not None:
        click.echo(render_scores(scores))
    if out is not None:
        click.echo(f"wrote {out}/swap.json and {out}/model.pt")


@click.command()
@click.argument("swap_dir", type=click.Path(path_type=Path))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="an ImageFolder: ROOT/val (or ROOT/test, or ROOT itself) of class folders.",
)
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    default=None,
    help="the original network's weights (default: the file the swap was made from).",
)
@click.option("--limit", type=int, default=None, help="the first N images only.")
@_evaluation_options
def evaluate(swap_dir, data, weights, limit, batch_size, workers, fmt) -> None:
    """Top-1 of the original and the swapped network of a swap directory on an ImageFolder."""

    def run():
        from sedsl.swap.api import SwapError, load_swapped
        from sedsl.swap.zoo import ZooError, load_weights, se_network

        swapped, record = load_swapped(swap_dir)
        source = weights if weights is not None else record.get("weights")
        if source is None:
            raise SwapError(
                f"{swap_dir} was swapped from random weights, so the original network is "
                "unknown; give its weights with --weights"
            )
        network = se_network(record["backbone"])
        original = network.build(int(record["num_classes"]))
        try:
            load_weights(original, str(source), network.name)
        except ZooError as exc:
            raise SwapError(str(exc)) from exc
        return score_pair(
            record["backbone"],
            int(record["input_size"]),
            original,
            swapped,
            data,
            limit=limit,
            batch_size=batch_size,
            workers=workers,
        )

    scores = _guarded(run)
    click.echo(json.dumps(scores, indent=2) if fmt == "json" else render_scores(scores))


@click.command()
@click.argument("swap_dir", type=click.Path(path_type=Path))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="an ImageFolder root: trains on ROOT/train, scores on ROOT/val when it exists.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="write the swap directory here."
)
@click.option("--epochs", type=int, default=40, show_default=True, help="the paper's 40.")
@click.option(
    "--fraction",
    type=float,
    default=0.1,
    show_default=True,
    help="share of ROOT/train drawn once (the paper's 10 %).",
)
@click.option(
    "--batch-size", type=int, default=64, show_default=True, help="images per training batch."
)
@click.option("--lr", type=float, default=0.01, show_default=True, help="SGD rate (ours).")
@click.option("--seed", type=int, default=0, show_default=True, help="draws the subset.")
@click.option("--device", default="cpu", show_default=True, help="e.g. cuda.")
@click.option("--workers", type=int, default=0, show_default=True, help="data-loading processes.")
def finetune(swap_dir, data, out, epochs, fraction, batch_size, lr, seed, device, workers) -> None:
    """Fine-tune a swapped network (Table 2's "ft"); writes a swap directory again."""

    def run():
        from sedsl.swap.finetune import FinetuneConfig
        from sedsl.swap.finetune import finetune as tune

        config = FinetuneConfig(
            epochs=epochs,
            fraction=fraction,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            workers=workers,
            device=device,
        )
        return tune(swap_dir, data, out, config, log=click.echo)

    result = _guarded(run)
    top1 = "" if result.val_top1 is None else f", val top-1 {100 * result.val_top1:.2f} %"
    click.echo(
        f"fine-tuned {result.epochs} epochs on {result.images} images{top1}; "
        f"wrote {out}/swap.json and {out}/model.pt"
    )


def score_pair(backbone, size, original, swapped, data, *, limit, batch_size, workers) -> dict:
    from sedsl.swap.evaluate import eval_transform, image_folder, top1

    dataset = image_folder(data, eval_transform(backbone, size))
    scores = top1(
        {"original": original, "swapped": swapped},
        dataset,
        batch_size=batch_size,
        workers=workers,
        limit=limit,
    )
    return {name: vars(score) for name, score in scores.items()}


def render_scores(scores: dict) -> str:
    o, s = scores["original"], scores["swapped"]
    return (
        f"top-1 on {o['images']} images: original {100 * o['top1']:.2f} % "
        f"({o['correct']}), swapped {100 * s['top1']:.2f} % ({s['correct']}), "
        f"difference {100 * (o['top1'] - s['top1']):+.2f} points"
    )
