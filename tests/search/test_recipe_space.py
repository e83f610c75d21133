"""Configuration layering and loading generated spaces."""

from __future__ import annotations

import shutil

import pytest

from sedsl.search import SearchError, load_space
from sedsl.search.recipe import resolve_config

from .conftest import FAKE_SPACE


def test_builtin_recipes_follow_the_seeds():
    sase = resolve_config("sase")
    assert (sase.order, sase.epochs, sase.batch_size, sase.lr_min, sase.weight_decay) == (
        2,
        50,
        128,
        1e-4,
        5e-4,
    )
    hoga = resolve_config("hoga")
    assert (hoga.order, hoga.epochs, hoga.lr_min, hoga.weight_decay) == (1, 100, 1e-3, 3e-4)
    assert resolve_config("new_space").recipe == "darts"


def test_layers_apply_in_order_manifest_file_then_overrides(tmp_path):
    toml = tmp_path / "search.toml"
    toml.write_text("epochs = 7\nbatch_size = 32\ngrad_clip = 'none'\n")
    config = resolve_config(
        "x",
        {"base": "hoga", "epochs": 3, "lr": 0.05},
        config_file=toml,
        overrides={"batch_size": "64", "arch_betas": "0.9,0.99", "order": None},
    )
    assert (config.recipe, config.order, config.lr, config.epochs) == ("hoga", 1, 0.05, 7)
    assert config.batch_size == 64 and config.grad_clip is None
    assert config.arch_betas == (0.9, 0.99)
    yaml = tmp_path / "search.yaml"
    yaml.write_text("search:\n  hvp: exact\n")
    assert resolve_config("sase", config_file=yaml).hvp == "exact"


def test_bad_options_are_user_errors(tmp_path):
    with pytest.raises(SearchError, match="did you mean 'epochs'"):
        resolve_config("sase", overrides={"epoch": 3})
    with pytest.raises(SearchError, match="hvp must be one of"):
        resolve_config("sase", overrides={"hvp": "fd"})
    with pytest.raises(SearchError, match="cannot use 'many' as int"):
        resolve_config("sase", overrides={"epochs": "many"})
    with pytest.raises(SearchError, match="cannot read config file"):
        resolve_config("sase", config_file=tmp_path / "missing.toml")


def test_load_space_reads_the_contract(fake_space):
    assert fake_space.name == "fake" and fake_space.edges == ("a", "b")
    assert fake_space.candidates["b"][-1] == "identity"
    assert fake_space.recipe["order"] == 2


def test_load_space_rejects_what_is_not_a_generated_space(tmp_path):
    with pytest.raises(SearchError, match="not a directory"):
        load_space(tmp_path / "nope")
    with pytest.raises(SearchError, match="missing supernet.py"):
        load_space(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(FAKE_SPACE, broken)
    (broken / "supernet.py").write_text("import nonexistent_module\n")
    with pytest.raises(SearchError, match="import failed"):
        load_space(broken)
