"""Datasets, the seeded split, batch streams and the batched DARTS augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from sedsl.search.data import (
    BatchStream,
    load_dataset,
    random_crop_flip,
    split_halves,
)
from sedsl.search.errors import SearchError

from .cifar_fixture import trust_fixture, write_cifar10


def test_cifar10_fixture_loads_through_the_real_torchvision_loader(tmp_path, monkeypatch):
    folder = write_cifar10(tmp_path, per_batch=8, test=6)
    trust_fixture(monkeypatch, folder)
    train = load_dataset("cifar10", train=True, data_dir=tmp_path)
    test = load_dataset("cifar10", train=False, data_dir=tmp_path)
    assert train.images.shape == (40, 3, 32, 32) and train.images.dtype == torch.uint8
    assert test.images.shape == (6, 3, 32, 32)
    assert train.num_classes == 10 and train.augment
    # The pickled rows are channel-major 32x32 planes: check one pixel made it through.
    import pickle

    with open(folder / "data_batch_1", "rb") as handle:
        raw = pickle.load(handle, encoding="latin1")["data"]
    assert int(train.images[0, 2, 5, 7]) == int(raw[0][2 * 1024 + 5 * 32 + 7])


def test_corrupt_cifar_names_download_and_offline_datasets(tmp_path, monkeypatch):
    folder = write_cifar10(tmp_path)
    trust_fixture(monkeypatch, folder)
    (folder / "data_batch_3").write_bytes(b"truncated")
    with pytest.raises(SearchError, match="--download") as info:
        load_dataset("cifar10", train=True, data_dir=tmp_path)
    assert "digits" in str(info.value) and "synthetic" in str(info.value)


def test_missing_cifar100_says_how_to_get_it(tmp_path):
    with pytest.raises(SearchError, match="CIFAR-100 not found.*--download"):
        load_dataset("cifar100", train=True, data_dir=tmp_path)


def test_unknown_dataset_and_bad_synthetic_options_are_user_errors():
    with pytest.raises(SearchError, match="unknown dataset"):
        load_dataset("mnist", train=True)
    with pytest.raises(SearchError, match="synthetic"):
        load_dataset("synthetic:colour=3", train=True)
    with pytest.raises(SearchError, match="imagefolder"):
        load_dataset("imagefolder:/no/such/dir", train=True)


def test_digits_is_offline_32x32_rgb():
    train = load_dataset("digits", train=True)
    test = load_dataset("digits", train=False)
    assert train.images.shape[1:] == (3, 32, 32) and len(train) + len(test) == 1797
    assert set(train.labels.tolist()) == set(range(10)) and not train.augment


def test_synthetic_is_deterministic_and_learnable_in_principle():
    a = load_dataset("synthetic:size=16,train=64,classes=4", train=True)
    b = load_dataset("synthetic:size=16,train=64,classes=4", train=True)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    # Class means differ far more than the noise of a mean over ~16 images.
    means = torch.stack([a.images[a.labels == k].float().mean(0) for k in range(4)])
    assert float((means[0] - means[1]).abs().mean()) > 10


def test_imagefolder_reads_class_folders(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for label in ("cat", "dog"):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(2):
                colour = (255, 0, 0) if label == "cat" else (0, 0, 255)
                Image.new("RGB", (40, 48), colour).save(tmp_path / split / label / f"{i}.png")
    data = load_dataset(f"imagefolder:{tmp_path}", train=True)
    assert data.images.shape == (4, 3, 32, 32) and data.labels.tolist() == [0, 0, 1, 1]
    assert len(load_dataset(f"imagefolder:{tmp_path}", train=False)) == 4


def test_split_halves_is_a_seeded_disjoint_cover():
    permutation, first, second = split_halves(10, seed=3)
    again, _, _ = split_halves(10, seed=3)
    assert torch.equal(permutation, again)
    assert sorted([*first.tolist(), *second.tolist()]) == list(range(10)) and len(first) == 5


def test_stream_shards_are_the_single_process_batch():
    data = load_dataset("synthetic:size=8,train=64,classes=2", train=True)
    data = type(data)(data.images, data.labels, 2, data.mean, data.std, augment=True)
    whole = BatchStream(data, torch.arange(64), 8, seed=5)
    shards = [BatchStream(data, torch.arange(64), 8, seed=5, rank=r, world=2) for r in (0, 1)]
    for full, *parts in zip(whole.epoch(3), *(s.epoch(3) for s in shards), strict=True):
        torch.testing.assert_close(full[0], torch.cat([p[0] for p in parts]))
        assert torch.equal(full[1], torch.cat([p[1] for p in parts]))


def test_stream_state_round_trip_repeats_the_epoch():
    data = load_dataset("synthetic:size=8,train=64,classes=2", train=True)
    stream = BatchStream(data, torch.arange(64), 8, seed=1)
    state = stream.state_dict()
    first = [y for _, y in stream.epoch()]
    stream.load_state_dict(state)
    assert all(torch.equal(a, b) for a, (_, b) in zip(first, stream.epoch(), strict=True))


def test_batched_crop_and_flip_equal_torchvision_per_image():
    images = torch.randint(0, 256, (5, 3, 12, 12), dtype=torch.uint8)
    crops = torch.tensor([[0, 0], [8, 8], [3, 5], [4, 4], [7, 1]])
    flips = torch.tensor([True, False, True, False, True])
    batched = random_crop_flip(images, crops, flips)
    for i in range(5):
        padded = TF.pad(images[i], [4, 4, 4, 4], fill=0)
        top, left = crops[i].tolist()
        expected = TF.crop(padded, top, left, 12, 12)
        if flips[i]:
            expected = TF.hflip(expected)
        assert np.array_equal(batched[i].numpy(), expected.numpy())


def test_too_small_split_for_the_batch_is_a_user_error():
    data = load_dataset("synthetic:size=8,train=16,classes=2", train=True)
    with pytest.raises(SearchError, match="smaller than one batch"):
        BatchStream(data, torch.arange(4), 8, seed=0)
    with pytest.raises(SearchError, match="divisible"):
        BatchStream(data, torch.arange(16), 9, seed=0, world=2)
