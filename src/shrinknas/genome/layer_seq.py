"""Architecture Compression's genome: a whole sequential CNN as a list of layers, kind ``sequential``.

Each layer is one of the paper's eight types and maps one-to-one to a row ``[t, k, o, s, p]`` (eq. 7, in the
paper's field order, kept everywhere: type code, kernel, output channels, stride, padding). Fields a type lacks
are 0; ``o`` of a layer that keeps the width (pooling, BN, activations, dropout) is its input width, as in the
paper's appendix 9. A flatten is implied before the first linear layer. No torch here: shapes, parameter and
MAC counts are computed from the fields, and ``nets/sequential.py`` builds the module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Iterable, Sequence

from ..errors import BadInputError
from .base import digest, register

#: The paper's layer types in its order (appendix 9); a row's type code is the position plus one, 0 is PAD.
TYPES: tuple[str, ...] = ("conv", "maxpool", "bn", "relu", "sigmoid", "dropout", "avgpool", "linear")
TYPE_CODE: dict[str, int] = {name: i + 1 for i, name in enumerate(TYPES)}
PAD = 0
#: The fields each type has, besides ``type``; every other field of its row is 0 (``o``: derived).
FIELDS: dict[str, tuple[str, ...]] = {
    "conv": ("kernel", "out", "stride", "padding"),
    "maxpool": ("kernel", "stride", "padding"),
    "avgpool": ("kernel", "stride", "padding"),
    "bn": (),
    "relu": (),
    "sigmoid": (),
    "dropout": (),
    "linear": ("out",),
}
POOLS = ("maxpool", "avgpool")
SPATIAL = ("conv",) + POOLS
#: Rows have no field for a dropout rate: every dropout layer drops with PyTorch's default probability.
DROPOUT_RATE = 0.5

Row = tuple[int, int, int, int, int]
Shape = tuple[int, ...]  # (C, H, W) before the first linear, (features,) after it


@dataclass(frozen=True)
class Layer:
    """One layer; 0 stands for a field its type does not have."""

    type: str
    kernel: int = 0
    out: int = 0
    stride: int = 0
    padding: int = 0

    @classmethod
    def conv(cls, kernel: int, out: int, stride: int = 1, padding: int | None = None) -> "Layer":
        """A convolution; padding defaults to ``(kernel - 1) // 2`` (keeps the size at stride 1, odd kernels)."""
        return cls("conv", kernel, out, stride, same_padding(kernel) if padding is None else padding)

    @classmethod
    def pool(cls, kind: str, kernel: int, stride: int | None = None, padding: int = 0) -> "Layer":
        return cls(kind, kernel, 0, kernel if stride is None else stride, padding)

    @classmethod
    def linear(cls, out: int) -> "Layer":
        return cls("linear", out=out)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **{name: getattr(self, name) for name in FIELDS.get(self.type, ())}}

    @classmethod
    def from_dict(cls, data: Any, index: int) -> "Layer":
        where = f"layer {index}"
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise BadInputError(f"{where} must be a JSON object with a 'type' (one of {', '.join(TYPES)})")
        kind = data["type"]
        if kind not in FIELDS:
            raise BadInputError(f"{where}: unknown layer type {kind!r}; expected one of {', '.join(TYPES)}")
        allowed = FIELDS[kind]
        extra = sorted(set(data) - {"type", *allowed})
        if extra:
            has = f"only {', '.join(allowed)}" if allowed else "no fields besides 'type'"
            raise BadInputError(f"{where} ({kind}) has no field {extra[0]!r}; a {kind} layer takes {has}")
        values = {name: data[name] for name in allowed if name in data}
        for name, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise BadInputError(f"{where} ({kind}): {name} must be an integer, got {value!r}")
        missing = [name for name in _REQUIRED.get(kind, ()) if name not in values]
        if missing:
            raise BadInputError(f"{where} ({kind}) needs {' and '.join(missing)}")
        if kind == "conv":
            return cls.conv(values["kernel"], values["out"], values.get("stride", 1), values.get("padding"))
        if kind in POOLS:
            return cls.pool(kind, values["kernel"], values.get("stride"), values.get("padding", 0))
        if kind == "linear":
            return cls.linear(values["out"])
        return cls(kind)


_REQUIRED = {"conv": ("kernel", "out"), "maxpool": ("kernel",), "avgpool": ("kernel",), "linear": ("out",)}


def same_padding(kernel: int) -> int:
    """The padding the repair rules give a kernel: the output keeps its size at stride 1 for odd kernels."""
    return (kernel - 1) // 2


@register("sequential")
@dataclass(frozen=True)
class LayerSequence:
    """A sequential CNN for inputs of shape ``input`` (C, H, W) and ``classes`` outputs; validated on creation.

    The last layer is the classifier: a linear layer with ``classes`` outputs.
    """

    kind: ClassVar[str] = "sequential"
    input: tuple[int, int, int]
    classes: int
    layers: tuple[Layer, ...]
    _shapes: tuple[Shape, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", tuple(self.input))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "_shapes", _infer_shapes(self.input, self.classes, self.layers))

    # ----- structure -----
    def shapes(self) -> tuple[Shape, ...]:
        """The output shape of every layer for one input: (C, H, W), or (features,) from the first linear on."""
        return self._shapes

    def in_shapes(self) -> tuple[Shape, ...]:
        return (self.input,) + self._shapes[:-1]

    def params_by_layer(self) -> list[int]:
        """Trainable parameters of each layer as ``nets.sequential`` builds it (conv and linear with bias)."""
        counts = []
        for layer, shape_in in zip(self.layers, self.in_shapes()):
            width_in = shape_in[0]
            if layer.type == "conv":
                counts.append(layer.kernel * layer.kernel * width_in * layer.out + layer.out)
            elif layer.type == "linear":
                counts.append(_numel(shape_in) * layer.out + layer.out)
            elif layer.type == "bn":
                counts.append(2 * width_in)
            else:
                counts.append(0)
        return counts

    def params(self) -> int:
        return sum(self.params_by_layer())

    def macs(self) -> int:
        """Multiply-accumulates of one input, conv and linear layers only (as ``resources.count`` counts them)."""
        total = 0
        for layer, shape_in, shape_out in zip(self.layers, self.in_shapes(), self._shapes):
            if layer.type == "conv":
                total += _numel(shape_out) * shape_in[0] * layer.kernel * layer.kernel
            elif layer.type == "linear":
                total += _numel(shape_in) * layer.out
        return total

    def activation_elements(self) -> int:
        """Elements of every layer's output for one input: what a training step keeps for the backward pass."""
        return sum(_numel(shape) for shape in self._shapes)

    # ----- rows (eq. 7) -----
    def rows(self) -> list[Row]:
        """``[t, k, o, s, p]`` per layer; ``o`` of a width-keeping layer is its input width."""
        out = []
        for layer, shape_in in zip(self.layers, self.in_shapes()):
            width = layer.out if layer.type in ("conv", "linear") else shape_in[0]
            out.append((TYPE_CODE[layer.type], layer.kernel, width, layer.stride, layer.padding))
        return out

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[int]], input: Sequence[int], classes: int) -> "LayerSequence":
        """The exact inverse of ``rows``: a row whose absent or derived fields disagree is an error."""
        layers = [_layer_of_row(i, row) for i, row in enumerate(rows)]
        genome = cls(tuple(input), classes, tuple(layers))
        given = [tuple(int(v) for v in row) for row in rows]
        for i, (row, expected) in enumerate(zip(given, genome.rows())):
            if row != expected:
                raise BadInputError(f"row {i} {list(row)} is not canonical; expected {list(expected)}")
        return genome

    # ----- identity and JSON -----
    def key(self) -> str:
        return digest(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "input": list(self.input), "classes": self.classes,
                "layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: Any) -> "LayerSequence":
        if not isinstance(data, dict):
            raise BadInputError("a sequential architecture must be a JSON object with 'input', 'classes', 'layers'")
        missing = [k for k in ("input", "classes", "layers") if k not in data]
        if missing:
            raise BadInputError(f"sequential architecture is missing {', '.join(missing)}")
        if data.get("kind", cls.kind) != cls.kind:
            raise BadInputError(f"architecture kind {data['kind']!r} is not {cls.kind!r}")
        extra = sorted(set(data) - {"kind", "input", "classes", "layers"})
        if extra:
            raise BadInputError(f"sequential architecture has an unknown key {extra[0]!r}")
        shape, classes, layers = data["input"], data["classes"], data["layers"]
        if not (isinstance(shape, list) and len(shape) == 3 and all(_positive_int(v) for v in shape)):
            raise BadInputError("'input' must be [channels, height, width], three positive integers")
        if not _positive_int(classes):
            raise BadInputError("'classes' must be a positive integer")
        if not isinstance(layers, list):
            raise BadInputError("'layers' must be a list of layer objects")
        return cls(tuple(shape), classes, tuple(Layer.from_dict(layer, i) for i, layer in enumerate(layers)))

    def with_layers(self, layers: Iterable[Layer]) -> "LayerSequence":
        return replace(self, layers=tuple(layers))


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _numel(shape: Shape) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def _layer_of_row(index: int, row: Sequence[int]) -> Layer:
    if len(row) != 5:
        raise BadInputError(f"row {index} must have the five fields [t, k, o, s, p]")
    t, k, o, s, p = (int(v) for v in row)
    if not 1 <= t <= len(TYPES):
        raise BadInputError(f"row {index}: unknown type code {t}; expected 1..{len(TYPES)}")
    kind = TYPES[t - 1]
    values = {"kernel": k, "out": o, "stride": s, "padding": p}
    return Layer(kind, **{name: values[name] for name in FIELDS[kind]})


def _infer_shapes(input: tuple[int, ...], classes: int, layers: tuple[Layer, ...]) -> tuple[Shape, ...]:
    """Every layer's output shape; every reason the network cannot be built is one line naming the layer."""
    if not (len(input) == 3 and all(_positive_int(v) for v in input)):
        raise BadInputError(f"input shape must be three positive integers (C, H, W), got {list(input)}")
    if not _positive_int(classes):
        raise BadInputError(f"classes must be a positive integer, got {classes!r}")
    if not layers:
        raise BadInputError("a sequential network needs at least a conv and a final linear layer")
    shapes: list[Shape] = []
    shape: Shape = tuple(input)
    seen_conv = False
    for i, layer in enumerate(layers):
        where = f"layer {i} ({layer.type})"
        _check_fields(where, layer)
        if layer.type in SPATIAL and len(shape) == 1:
            raise BadInputError(f"{where} follows a linear layer; put convolutions and pooling before the first linear")
        if layer.type == "conv":
            seen_conv = True
            shape = (layer.out,) + _spatial(where, shape[1:], layer)
        elif layer.type in POOLS:
            shape = (shape[0],) + _spatial(where, shape[1:], layer)
        elif layer.type == "linear":
            if not seen_conv:
                raise BadInputError(f"{where} has no conv before it; a network needs a convolution before its "
                                    "first linear layer")
            shape = (layer.out,)
        shapes.append(shape)
    last = layers[-1]
    if last.type != "linear" or last.out != classes:
        raise BadInputError(f"the last layer must be the classifier: a linear layer with out {classes} (the classes)")
    return tuple(shapes)


def _check_fields(where: str, layer: Layer) -> None:
    if layer.type not in FIELDS:
        raise BadInputError(f"{where}: unknown layer type; expected one of {', '.join(TYPES)}")
    present = FIELDS[layer.type]
    for name in ("kernel", "out", "stride", "padding"):
        value = getattr(layer, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadInputError(f"{where}: {name} must be an integer, got {value!r}")
        if name not in present and value != 0:
            raise BadInputError(f"{where} has no field {name!r}; leave it out")
        smallest = 0 if name == "padding" else 1
        if name in present and value < smallest:
            raise BadInputError(f"{where}: {name} must be at least {smallest}, got {value}")
    if layer.type in POOLS and layer.padding > layer.kernel // 2:
        raise BadInputError(f"{where}: padding {layer.padding} is more than half the kernel {layer.kernel}; use "
                            f"padding <= {layer.kernel // 2}")


def _spatial(where: str, size: Shape, layer: Layer) -> tuple[int, int]:
    out = tuple((d + 2 * layer.padding - layer.kernel) // layer.stride + 1 for d in size)
    if min(out) < 1:
        h, w = size
        raise BadInputError(f"{where}: the spatial size reaches 0 (input {h}x{w}, kernel {layer.kernel}, stride "
                            f"{layer.stride}, padding {layer.padding}); use a smaller kernel or fewer downsampling "
                            "layers")
    return out[0], out[1]


# ----- repair of decoded rows -----


@dataclass(frozen=True)
class RepairRules:
    """Values a decoded row is snapped to: the space compressed networks are drawn from."""

    conv_kernels: tuple[int, ...] = (1, 3, 5, 7, 9)
    conv_strides: tuple[int, ...] = (1, 2)
    pool_kernels: tuple[int, ...] = (2, 3)
    pool_strides: tuple[int, ...] = (1, 2)
    max_width: int = 4096


def snap(value: int, allowed: Sequence[int]) -> int:
    """The allowed value nearest to ``value`` (the smaller on a tie)."""
    return min(sorted(allowed), key=lambda a: abs(a - value))


def repair(rows: Iterable[Sequence[int]], input: Sequence[int], classes: int,
           rules: RepairRules = RepairRules()) -> LayerSequence:
    """A valid network from a decoded, discretised row sequence, or a ``BadInputError`` where none follows.

    The rules (N2N's, the notes' and the issue's): the sequence ends at the first PAD row; kernels and strides
    snap to ``rules``; padding is recomputed (``same_padding``); widths are clamped to ``1..max_width`` and
    chained (a width-keeping layer's ``o`` is ignored, its input width is used); linear layers before the first
    conv and spatial layers after the first linear are dropped; everything after the last linear is dropped and
    the last linear outputs ``classes`` (one is appended where none is left). A network without a conv, or whose
    spatial size reaches 0, cannot be repaired.
    """
    layers: list[Layer] = []
    seen_conv = seen_linear = False
    for row in rows:
        t, k, o, s, _ = (int(v) for v in row)
        if t == PAD:
            break
        if not 1 <= t <= len(TYPES):
            raise BadInputError(f"decoded type code {t} is not one of 0..{len(TYPES)}")
        kind = TYPES[t - 1]
        if (kind == "linear" and not seen_conv) or (kind in SPATIAL and seen_linear):
            continue
        if kind == "conv":
            kernel = snap(k, rules.conv_kernels)
            layers.append(Layer.conv(kernel, _width(o, rules), snap(s, rules.conv_strides)))
            seen_conv = True
        elif kind in POOLS:
            kernel = snap(k, rules.pool_kernels)
            layers.append(Layer.pool(kind, kernel, snap(s, rules.pool_strides), same_padding(kernel)))
        elif kind == "linear":
            layers.append(Layer.linear(_width(o, rules)))
            seen_linear = True
        else:
            layers.append(Layer(kind))
    if not seen_conv:
        raise BadInputError("the decoded network has no convolution")
    last_linear = max((i for i, layer in enumerate(layers) if layer.type == "linear"), default=None)
    if last_linear is None:
        layers.append(Layer.linear(classes))
    else:
        layers = layers[:last_linear] + [Layer.linear(classes)]
    return LayerSequence(tuple(input), classes, tuple(layers))


def _width(value: int, rules: RepairRules) -> int:
    return min(max(value, 1), rules.max_width)


# ----- built-in teachers -----


def conv_stack(widths: Sequence[int], strides: Sequence[int], input: Sequence[int], classes: int,
               kernel: int = 3) -> LayerSequence:
    """Stacked Conv-BN-ReLU blocks (``kernel``, same padding) and one linear classifier: the paper's teachers."""
    if len(widths) != len(strides):
        raise BadInputError("a conv stack needs one stride per width")
    layers: list[Layer] = []
    for width, stride in zip(widths, strides):
        layers += [Layer.conv(kernel, width, stride), Layer("bn"), Layer("relu")]
    return LayerSequence(tuple(input), classes, tuple(layers) + (Layer.linear(classes),))


#: CONV-7 (Table 1: 708K params on Fashion-MNIST). The paper gives only "7 Conv-BN-ReLU blocks and a linear
#: layer"; widths doubling every second block (32, 32, 64, 64, 128, 128, 256), 3x3 kernels, stride 2 in the last
#: two blocks (28 -> 14 -> 7), a 7x7x256 map into the classifier: 708,458 params with conv biases.
CONV7_WIDTHS = (32, 32, 64, 64, 128, 128, 256)
CONV7_STRIDES = (1, 1, 1, 1, 1, 2, 2)
#: CONV-10 (Table 1: 24.4M params on 32x32 inputs): four blocks of 256, four of 512, two of 1024, 3x3 kernels,
#: stride 2 in the last three (32 -> 16 -> 8 -> 4), a 4x4x1024 map into the classifier: 24,368,906 params.
CONV10_WIDTHS = (256, 256, 256, 256, 512, 512, 512, 512, 1024, 1024)
CONV10_STRIDES = (1, 1, 1, 1, 1, 1, 1, 2, 2, 2)


def conv7(classes: int = 10, input: Sequence[int] = (1, 28, 28)) -> LayerSequence:
    return conv_stack(CONV7_WIDTHS, CONV7_STRIDES, input, classes)


def conv10(classes: int = 10, input: Sequence[int] = (3, 32, 32)) -> LayerSequence:
    return conv_stack(CONV10_WIDTHS, CONV10_STRIDES, input, classes)


TEACHERS = {"conv7": conv7, "conv10": conv10}


def teacher(name: str, classes: int = 10, input: Sequence[int] | None = None) -> LayerSequence:
    """A built-in teacher by name, for ``classes`` outputs (and another input shape, if given)."""
    if name not in TEACHERS:
        raise BadInputError(f"unknown teacher {name!r}; built in: {', '.join(TEACHERS)} (or give a genome file)")
    return TEACHERS[name](classes) if input is None else TEACHERS[name](classes, tuple(input))
