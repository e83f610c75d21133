"""The resolved search configuration and where each default comes from.

Precedence, lowest first: a built-in recipe (``darts``, ``sase``, ``hoga``), the ``recipe`` table of
the space's manifest (the space file declares it), a TOML/YAML/JSON config file, then keyword
overrides (the CLI's flags). The manifest may name its built-in base with ``recipe.base``; else a
space named like a built-in uses it, and any other space starts from ``darts``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sedsl.reasons import read_text_file, reason

from .errors import SearchError


@dataclass(frozen=True)
class SearchConfig:
    recipe: str = "darts"  # the built-in the defaults started from, recorded for the reader
    # data and network
    dataset: str = "cifar10"
    data_dir: str = "data"
    download: bool = False
    backbone: str = "resnet20"
    width: int = 16  # channels of the first stage (16 in He et al.)
    # bi-level optimisation
    order: int = 2  # 1: first-order DARTS; 2: the unrolled (second-order) hypergradient
    hvp: str = "finite"  # second order's Hessian-vector product: "finite" or "exact"
    fd_eps: float = 0.01  # finite differences step: fd_eps / ||v|| (DARTS)
    epochs: int = 50
    batch_size: int = 128
    train_portion: float = 0.5  # share of the training set that trains weights
    steps_per_epoch: int | None = None  # None: one pass over the weight half
    arch_warmup_epochs: int = 0  # epochs of weight steps only before alphas move
    # weights: SGD with cosine annealing per epoch
    lr: float = 0.025
    lr_min: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float | None = 5.0  # DARTS clips weight gradients at norm 5
    # alphas: Adam
    arch_lr: float = 3e-4
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 1e-3
    alpha_init_std: float = 1e-3
    # run
    seed: int = 0
    device: str = "auto"  # "auto": cuda when available, else cpu
    eval_batches: int | None = None  # batches of the arch half scored per epoch; None: all
    tensorboard: bool = False
    # cost-aware search (sedsl/search/cost.py): adds cost_weight * E[cost] / max cost to the
    # architecture loss; cost is "buffer", "macs", "params" or None (off)
    cost: str | None = None
    cost_weight: float = 0.0


# DARTS (Liu et al. 2019, CIFAR-10 search): the fallback and the source of the alpha optimiser
# settings that the seeds leave unstated.
DARTS: dict[str, Any] = {
    "recipe": "darts",
    "order": 2,
    "epochs": 50,
    "batch_size": 64,
    "lr": 0.025,
    "lr_min": 1e-3,
    "momentum": 0.9,
    "weight_decay": 3e-4,
    "arch_lr": 3e-4,
    "arch_betas": (0.5, 0.999),
    "arch_weight_decay": 1e-3,
    "alpha_init_std": 1e-3,
}

BUILTIN_RECIPES: dict[str, dict[str, Any]] = {
    "darts": DARTS,
    # Seed 000 (SASE), "Searching on CIFAR-10": second order, 50 epochs, batch 128, SGD 0.025
    # cosine to 1e-4, momentum 0.9, wd 5e-4; Adam 3e-4 on alphas; alphas ~ N(0, 1e-3). The seed
    # does not give Adam's betas or weight decay: DARTS' (0.5, 0.999) and 1e-3 are kept.
    "sase": {
        **DARTS,
        "recipe": "sase",
        "order": 2,
        "epochs": 50,
        "batch_size": 128,
        "lr_min": 1e-4,
        "weight_decay": 5e-4,
    },
    # Seed 001 (AutoLA / HOGA), section 4.1: first order, 100 epochs, batch 128, SGD 0.025 cosine
    # to 0.001, momentum 0.9, wd 3e-4, alphas = 0.001 * N(0, 1). The alpha optimiser is not
    # stated: DARTS' Adam (3e-4, betas (0.5, 0.999), wd 1e-3). (Its eq. 16 says argmin; the
    # text and DARTS take the argmax, as sedsl does.)
    "hoga": {
        **DARTS,
        "recipe": "hoga",
        "order": 1,
        "epochs": 100,
        "batch_size": 128,
        "lr_min": 1e-3,
        "weight_decay": 3e-4,
    },
}

FIELDS = {f.name: f for f in dataclasses.fields(SearchConfig)}
CHOICES = {"order": (1, 2), "hvp": ("finite", "exact")}


def resolve_config(
    space_name: str,
    manifest_recipe: Mapping[str, Any] | None = None,
    *,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SearchConfig:
    """Merge the layers (see the module docstring), coerce types and validate."""
    manifest_recipe = dict(manifest_recipe or {})
    base = str(
        manifest_recipe.pop("base", space_name if space_name in BUILTIN_RECIPES else "darts")
    )
    if base not in BUILTIN_RECIPES:
        raise SearchError(f"recipe base {base!r} is not one of {', '.join(BUILTIN_RECIPES)}")
    values: dict[str, Any] = dict(BUILTIN_RECIPES[base])
    values.update(_checked(manifest_recipe, "the space's recipe"))
    if config_file is not None:
        values.update(_checked(read_config_file(config_file), str(config_file)))
    values.update(
        _checked({k: v for k, v in (overrides or {}).items() if v is not None}, "options")
    )
    config = SearchConfig(**{name: _coerce(name, value) for name, value in values.items()})
    validate(config)
    return config


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A flat table of SearchConfig fields from .toml, .yaml/.yml or .json."""
    path = Path(path)
    try:
        text = read_text_file(path)
    except OSError as err:
        raise SearchError(f"cannot read config file {path}: {reason(err)}") from err
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise SearchError(f"{path}: config files are .toml, .yaml, .yml or .json")
    except SearchError:
        raise
    except Exception as err:  # each parser has its own error type
        raise SearchError(f"{path}: cannot parse: {err}") from err
    data = data.get("search", data) if isinstance(data, dict) else data  # allow a [search] table
    if not isinstance(data, dict):
        raise SearchError(f"{path}: expected a table of options")
    return data


def config_to_dict(config: SearchConfig) -> dict[str, Any]:
    return {name: _plain(value) for name, value in dataclasses.asdict(config).items()}


def validate(config: SearchConfig) -> None:
    for name, allowed in CHOICES.items():
        if getattr(config, name) not in allowed:
            raise SearchError(f"{name} must be one of {allowed}, got {getattr(config, name)!r}")
    positive = ("epochs", "batch_size", "lr", "arch_lr", "width", "fd_eps")
    for name in positive:
        if getattr(config, name) <= 0:
            raise SearchError(f"{name} must be positive, got {getattr(config, name)}")
    if not 0 < config.train_portion < 1:
        raise SearchError(f"train_portion must be in (0, 1), got {config.train_portion}")
    if config.lr_min > config.lr:
        raise SearchError(f"lr_min {config.lr_min} exceeds lr {config.lr}")
    if config.alpha_init_std < 0 or config.weight_decay < 0 or config.arch_weight_decay < 0:
        raise SearchError("alpha_init_std and the weight decays must not be negative")
    if config.cost not in (None, "buffer", "macs", "params"):
        raise SearchError(f"cost must be buffer, macs or params, got {config.cost!r}")
    if not config.cost_weight >= 0:  # also refuses nan
        raise SearchError(f"cost_weight must not be negative, got {config.cost_weight}")
    if config.cost_weight and config.cost is None:
        raise SearchError("cost_weight needs a cost kind: --cost buffer|macs|params")
    if config.device not in ("auto", "cpu") and not config.device.startswith("cuda"):
        raise SearchError(f"device must be auto, cpu or cuda[:N], got {config.device!r}")


def _checked(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    unknown = [key for key in values if key not in FIELDS]
    if unknown:
        hints = [
            f"{key!r} (did you mean {close[0]!r}?)"
            if (close := difflib.get_close_matches(key, FIELDS, n=1))
            else repr(key)
            for key in unknown
        ]
        raise SearchError(
            f"{source}: unknown option {', '.join(hints)}; known: {', '.join(FIELDS)}"
        )
    return dict(values)


def _coerce(name: str, value: Any) -> Any:
    """Accept the types TOML, YAML, JSON and command-line strings produce."""
    hint = typing.get_type_hints(SearchConfig)[name]
    optional = _is_optional(hint)
    if optional and (value is None or (isinstance(value, str) and value.lower() == "none")):
        return None
    target = typing.get_args(hint)[0] if optional else hint
    try:
        if target is bool:
            return _to_bool(value)
        if target is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if target is float:
            return float(value)
        if target is str:
            return str(value)
        if typing.get_origin(target) is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            if len(items) != 2:
                raise ValueError
            return tuple(float(item) for item in items)
    except (TypeError, ValueError) as err:
        raise SearchError(f"option {name}: cannot use {value!r} as {_type_name(hint)}") from err
    raise AssertionError(f"unhandled type {hint} for {name}")


def _is_optional(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ValueError


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint).replace("typing.", ""))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
