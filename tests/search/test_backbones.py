"""Backbones: insertion points, parameter counts, where the block sits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sedsl.search.backbones import (
    CifarBasicBlock,
    build_backbone,
    count_parameters,
    insertion_points,
)
from sedsl.search.errors import SearchError


def test_plain_resnet20_has_the_papers_0_27m_parameters():
    assert count_parameters(build_backbone("resnet20")) == 269_722  # option A: no projections
    assert count_parameters(build_backbone("resnet20", shortcut="B")) > 269_722


def test_resnet20_insertion_points_are_the_three_cifar_stages():
    stages = [(16, 32, 32)] * 3 + [(32, 16, 16)] * 3 + [(64, 8, 8)] * 3
    assert insertion_points("resnet20") == stages
    assert insertion_points("resnet56", (16, 16))[-1] == (64, 4, 4)


def test_torchvision_insertion_points_follow_the_input_size():
    points = insertion_points("resnet50", (224, 224))
    assert len(points) == 16 and points[0] == (256, 56, 56) and points[-1] == (2048, 7, 7)
    assert insertion_points("resnet18", (64, 64))[-1] == (512, 2, 2)


def test_factory_gets_each_shape_and_the_block_sits_after_the_last_bn():
    seen = []

    def factory(c, h, w):
        seen.append((c, h, w))
        return nn.Identity()

    net = build_backbone("resnet20", factory, input_size=(16, 16), width=4)
    assert seen == insertion_points("resnet20", (16, 16), width=4)
    block = next(m for m in net.modules() if isinstance(m, CifarBasicBlock))
    calls = []
    block.bn2.register_forward_hook(lambda *_: calls.append("bn2"))
    block.attention.register_forward_hook(lambda *_: calls.append("attention"))
    net(torch.randn(2, 3, 16, 16))
    assert calls[:2] == ["bn2", "attention"]


def test_torchvision_block_wraps_bn_and_keeps_its_weights_loadable():
    plain = build_backbone("resnet18", num_classes=10)
    wrapped = build_backbone("resnet18", lambda c, h, w: nn.Identity(), num_classes=10)
    assert isinstance(wrapped.layer1[0].bn2, nn.Sequential)
    renamed = {k.replace("bn2.", "bn2.0."): v for k, v in plain.state_dict().items()}
    wrapped.load_state_dict(renamed)
    assert count_parameters(wrapped) == count_parameters(plain)


def test_unknown_backbone_is_a_user_error():
    with pytest.raises(SearchError, match="resnet20"):
        build_backbone("vgg16")
