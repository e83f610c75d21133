"""Export writes a module that runs with torch alone; training reports params and accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sedsl.search import SearchError, TrainConfig, export_genotype, run_train

from .conftest import FAKE_SPACE


def genotype_file(tmp_path, genotype=None, **extra):
    record = {
        "format": 1,
        "space": "fake",
        "space_dir": str(FAKE_SPACE),
        "source_sha256": "0" * 64,
        "genotype": genotype or {"a": "identity", "b": "mask_conv"},
        "order": 2,
        "hvp": "finite",
        **extra,
    }
    path = tmp_path / "genotype.json"
    path.write_text(json.dumps(record))
    return path


def test_exported_file_imports_and_runs_without_sedsl(tmp_path):
    out = export_genotype(genotype_file(tmp_path), tmp_path / "searched.py")  # verify=True
    text = out.read_text()
    assert "SEARCHED_GENOTYPE" in text and "sedsl" not in text.split("# ---- appended")[0]
    assert "import sedsl" not in text


def test_export_refuses_a_genotype_of_another_space_version(tmp_path):
    with pytest.raises(SearchError, match="another version"):
        export_genotype(genotype_file(tmp_path, source_sha256="f" * 64), tmp_path / "x.py")
    with pytest.raises(SearchError, match="not a candidate"):
        export_genotype(genotype_file(tmp_path, {"a": "gap", "b": "identity"}), tmp_path / "x.py")


def test_train_reports_parameters_and_accuracy(tmp_path):
    config = TrainConfig(
        dataset="synthetic:size=8,train=64,test=16,classes=3", epochs=1, batch_size=16, width=4
    )
    result = run_train(FAKE_SPACE, "right", out=tmp_path / "t", config=config, quiet=True)
    assert result.parameters > 0 and 0 <= result.test_acc <= 1
    assert (
        json.loads((tmp_path / "t" / "result.json").read_text())["parameters"] == result.parameters
    )
    with pytest.raises(SearchError, match="declares no genotype"):
        run_train(FAKE_SPACE, "paper", out=tmp_path / "u", config=config, quiet=True)


def test_genotype_json_names_the_space_and_its_folder_relative_to_itself(tmp_path, monkeypatch):
    import shutil

    from sedsl.search import load_space, run_search

    project = tmp_path / "project"
    shutil.copytree(FAKE_SPACE, project / "generated" / "fake")
    monkeypatch.chdir(project)
    run_search(
        "generated/fake",
        dataset="synthetic:size=8,train=32,test=8,classes=3",
        out="runs/r",
        overrides={"epochs": 1, "order": 1, "batch_size": 8, "width": 4, "steps_per_epoch": 1},
        quiet=True,
    )
    record = json.loads((project / "runs" / "r" / "genotype.json").read_text())
    space = load_space(project / "generated" / "fake")
    assert (record["space"], record["source_sha256"]) == (space.name, space.source_sha256)
    assert record["space_dir"] == "../../generated/fake"
    # the whole tree moves, and the reader runs from elsewhere: the record still finds it
    moved = tmp_path / "moved"
    project.rename(moved)
    monkeypatch.chdir(tmp_path)
    out = export_genotype(moved / "runs" / "r" / "genotype.json", moved / "x.py", verify=False)
    assert "SEARCHED_GENOTYPE" in out.read_text()
    # a space that shares only the root with the run is recorded whole
    from sedsl.search.outputs import path_from

    assert path_from(moved / "runs" / "r", Path("/usr/lib")) == "/usr/lib"
