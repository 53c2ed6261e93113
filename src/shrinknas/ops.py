"""The op names of ``topology.py`` mapped to modules: one table, as in the DARTS reference code.

Every convolution is a Conv-BN-activation triplet without bias. A node that is a leaf of its cell drops its
final activation (the authors' leaves are linear before the concat and the residual add). ``copies=K`` builds
K independent copies of an op side by side on the channel axis as one module (grouped convolutions): how
the K candidates of a search step are trained together. ``BLOCK_OPS`` holds DSO-NAS's ops, built as its
authors build them.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from .errors import BadInputError

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "swish": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


def activation(name: str, inplace: bool = True) -> nn.Module:
    """The named activation; ``inplace=False`` when its input is still needed afterwards."""
    try:
        module = ACTIVATIONS[name]()
    except KeyError:
        raise BadInputError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None
    if not inplace and getattr(module, "inplace", False):
        module.inplace = False
    return module


def conv_bn(
    c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: str | None = "relu", copies: int = 1
) -> nn.Sequential:
    """Conv -> BN -> activation (``act=None`` leaves it linear); ``copies`` independent ones side by side."""
    layers: list[nn.Module] = [
        nn.Conv2d(copies * c_in, copies * c_out, kernel, stride=stride, padding=kernel // 2, groups=copies * groups,
                  bias=False),
        nn.BatchNorm2d(copies * c_out, eps=BN_EPS, momentum=BN_MOMENTUM),
    ]
    if act is not None:
        layers.append(activation(act))
    return nn.Sequential(*layers)


OpBuilder = Callable[[int, int, str, bool, int], nn.Module]


def sep_conv(kernel: int) -> OpBuilder:
    """Depthwise kxk -> BN -> act -> pointwise 1x1 -> BN -> act, as the authors build it."""

    def build(c_in: int, c_out: int, act: str, final_act: bool, copies: int) -> nn.Module:
        return nn.Sequential(
            conv_bn(c_in, c_in, kernel, groups=c_in, act=act, copies=copies),
            conv_bn(c_in, c_out, 1, act=act if final_act else None, copies=copies),
        )

    return build


def pool(kind: type[nn.Module]) -> OpBuilder:
    """3x3 pooling, then a 1x1 Conv-BN to the node width (pooling alone cannot change channels)."""

    def build(c_in: int, c_out: int, act: str, final_act: bool, copies: int) -> nn.Module:
        return nn.Sequential(
            kind(3, stride=1, padding=1), conv_bn(c_in, c_out, 1, act=act if final_act else None, copies=copies)
        )

    return build


def _conv1x1(c_in: int, c_out: int, act: str, final_act: bool, copies: int) -> nn.Module:
    return conv_bn(c_in, c_out, 1, act=act if final_act else None, copies=copies)


#: op name -> builder(c_in, c_out, activation name, final_act, copies) -> module keeping the spatial size.
OPS: dict[str, OpBuilder] = {
    "conv1x1": _conv1x1,
    "sepconv3x3": sep_conv(3),
    "sepconv5x5": sep_conv(5),
    "maxpool3x3": pool(nn.MaxPool2d),
    "avgpool3x3": pool(nn.AvgPool2d),
}


_BN = ("weight", "bias", "running_mean", "running_var")
_SEP_INPUT_AXES = {"0.0.weight": 0, **{f"0.1.{p}": 0 for p in _BN}, "1.0.weight": 1}

#: op name -> {parameter name inside the op: axis indexed by the op's input channels}. Weight inheritance and
#: candidate batching use it to move weights between cells whose inputs differ by some channels.
INPUT_AXES: dict[str, dict[str, int]] = {
    "conv1x1": {"0.weight": 1},
    "sepconv3x3": _SEP_INPUT_AXES,
    "sepconv5x5": _SEP_INPUT_AXES,
    "maxpool3x3": {"1.0.weight": 1},
    "avgpool3x3": {"1.0.weight": 1},
}


def build_op(name: str, c_in: int, c_out: int, act: str = "relu", final_act: bool = True, copies: int = 1) -> nn.Module:
    """One op, or ``copies`` independent ones on channel groups (input and output: copy k owns the k-th block)."""
    try:
        builder = OPS[name]
    except KeyError:
        raise BadInputError(f"unknown op {name!r}; expected one of {sorted(OPS)}") from None
    return builder(c_in, c_out, act, final_act, copies)


def glorot_init(module: nn.Module) -> None:
    """The authors' initialisation: Glorot-normal convolutions and linears, zero biases, unit BN."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)



# ----- DSO-NAS block ops (authors' code): channels in = channels out, spatial size kept -----
def _dso_sep_conv(kernel: int) -> Callable[[int], nn.Module]:
    """Depthwise kxk -> pointwise 1x1 -> BN -> ReLU: once, no leading ReLU, one BN (the DSO-NAS authors')."""

    def build(channels: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=False),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
        )

    return build


def _dso_pool(pool: Callable[[], nn.Module]) -> Callable[[int], nn.Module]:
    """Stride-1 3x3 pooling -> BN -> ReLU."""

    def build(channels: int) -> nn.Module:
        return nn.Sequential(pool(), nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM), nn.ReLU(inplace=True))

    return build


#: DSO-NAS op name -> builder(channels) -> module. Same names as ``OPS``, different modules: a DSO-NAS op takes
#: the (scaled) sum of its inputs, so it neither changes the channel count nor needs a leaf variant.
BLOCK_OPS: dict[str, Callable[[int], nn.Module]] = {
    "sepconv3x3": _dso_sep_conv(3),
    "sepconv5x5": _dso_sep_conv(5),
    "maxpool3x3": _dso_pool(lambda: nn.MaxPool2d(3, stride=1, padding=1)),
    "avgpool3x3": _dso_pool(lambda: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)),
}


def build_block_op(name: str, channels: int) -> nn.Module:
    try:
        builder = BLOCK_OPS[name]
    except KeyError:
        raise BadInputError(f"unknown DSO-NAS op {name!r}; expected one of {sorted(BLOCK_OPS)}") from None
    return builder(channels)
