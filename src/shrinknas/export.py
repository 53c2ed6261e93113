"""Export a network to ONNX, TorchScript or a plain state dict, with what it needs to be used on raw inputs.

Every export writes ``FILE`` and ``FILE.json`` beside it: the model card (architecture, input shape, the
normalisation the training used, class count and names, whether the weights are trained), the format and the
names and shapes of the inputs and outputs. ONNX files carry the same entries in ``metadata_props`` (each
value JSON), TorchScript files as the extra file ``shrinknas.json``.

How each format is made, and why:

- ``onnx``: ``torch.onnx.export(..., dynamo=True)``, the torch.export-based exporter. It is torch 2.13's
  default and maintained path (the TorchScript-based one warns it will be removed), needs only the
  ``onnxscript`` package, and matches PyTorch within about 1e-7 on the cell networks. The batch axis is dynamic.
- ``torchscript``: ``torch.jit.trace``, since ``torch.jit.script`` cannot compile ``nets/cnn.py``; the
  networks have no data-dependent control flow in evaluation mode, so a trace is the whole computation.
  (``torch.export``'s ``.pt2`` is not TorchScript: ``torch.jit.load`` cannot read it.)
- ``state-dict``: ``torch.save`` of the state dict, tensors only, so ``torch.load(..., weights_only=True)``
  reads it; ``load_state_dict_export`` rebuilds the architecture from the card and loads it.

Networks are found by their registered kind (``nets.registry``), so a new kind exports once it registers.
A language model exports batch first with a fixed sequence length (the card's ``input_shape``, ``(T,)``):
``tokens`` (B, T) int64 and ``hidden`` (B, nhid) in, ``logits`` (B, T, vocab) and ``next_hidden`` out.
"""

from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import torch
from torch import nn

from .errors import BadInputError
from .nets.registry import NetworkSpec, build_network, network_kind
from .run.rundir import write_atomic

if TYPE_CHECKING:
    import onnxruntime

__all__ = [
    "FORMATS",
    "ModelCard",
    "card_path",
    "example_inputs",
    "export",
    "export_difference",
    "load_state_dict_export",
    "load_trained",
    "onnx_session",
    "read_card",
    "to_onnx",
]

log = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript", "state-dict")
#: The name of the card inside a TorchScript file.
TORCHSCRIPT_CARD = "shrinknas.json"
_EXPORT_EXTRA = "install the export extra: pip install 'shrinknas[export]'"


@dataclass(frozen=True)
class ModelCard:
    """What a user of an exported network needs besides the network: how to build it and how to feed it.

    ``input_shape`` is one example's, without the batch axis: (C, H, W) for images, (T,) for a language model.
    ``mean`` and ``std`` are per channel on the 0..255 pixel scale (empty: the inputs are not normalised).
    ``class_names`` default to ``str(i)``; a language model's are its vocabulary.
    """

    network: NetworkSpec
    input_shape: tuple[int, ...]
    n_classes: int
    class_names: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    weights: str = "fresh"  # "trained" or "fresh"
    dataset: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        names = tuple(str(c) for c in self.class_names) or tuple(str(i) for i in range(self.n_classes))
        if len(names) != self.n_classes:
            raise BadInputError(f"{len(names)} class names given for {self.n_classes} classes; give one per class")
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if len(self.mean) != len(self.std):
            raise BadInputError("normalisation needs as many std values as mean values, one per channel")
        if self.weights not in ("trained", "fresh"):
            raise BadInputError(f"weights must be 'trained' or 'fresh', got {self.weights!r}")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "network": self.network.to_dict(),
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
            "class_names": list(self.class_names),
            "mean": list(self.mean),
            "std": list(self.std),
            "weights": self.weights,
            "dataset": self.dataset,
        }
        if self.mean:
            data["preprocessing"] = "x = (pixels - mean) / std per channel, pixels on the 0..255 scale, float32 NCHW"
        return {**self.extra, **data}

    @classmethod
    def from_dict(cls, data: Any) -> "ModelCard":
        """A card from its JSON; entries it does not know (an export's format, inputs, ...) stay in ``extra``."""
        if not isinstance(data, dict) or not {"network", "input_shape", "n_classes"} <= set(data):
            raise BadInputError("a model card needs 'network', 'input_shape' and 'n_classes'")
        known = {"network", "input_shape", "n_classes", "class_names", "mean", "std", "weights", "dataset",
                 "preprocessing"}
        try:
            return cls(
                NetworkSpec.from_dict(data["network"]), tuple(data["input_shape"]), int(data["n_classes"]),
                tuple(data.get("class_names") or ()), tuple(data.get("mean") or ()), tuple(data.get("std") or ()),
                data.get("weights", "fresh"), data.get("dataset"), {k: v for k, v in data.items() if k not in known},
            )
        except (TypeError, ValueError) as exc:
            raise BadInputError(f"a model card entry has the wrong type: {exc}") from None


def card_path(path: Path | str) -> Path:
    """The JSON beside an export: ``model.onnx`` -> ``model.onnx.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def example_inputs(model: nn.Module, card: ModelCard, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the card's shape for ``batch`` examples, the same for the same seed, on the model's device.

    >>> inputs = example_inputs(model, card, batch=1)  # doctest: +SKIP
    """
    generator = torch.Generator().manual_seed(seed)
    inputs = network_kind(card.network.builder).example_inputs(model, card.input_shape, batch, generator)
    device = _device(model)
    return tuple(x.to(device) for x in inputs)


def export(
    model: nn.Module,
    card: ModelCard,
    format: str,
    path: Path | str,
    inputs: Sequence[torch.Tensor] | None = None,
) -> Path:
    """Write ``model`` as ``format`` to ``path`` and its card to ``card_path(path)``; returns ``path``.

    ``inputs`` is the example the exporters trace (default: ``example_inputs(model, card)``); the model is
    exported in evaluation mode and left in the mode it was in.

    >>> model = build_network(spec, seed=0)  # doctest: +SKIP
    >>> export(model, ModelCard(spec, (1, 28, 28), 10), "onnx", "cell.onnx")  # doctest: +SKIP
    PosixPath('cell.onnx')
    """
    if format not in FORMATS:
        raise BadInputError(f"unknown export format {format!r}; expected one of {list(FORMATS)}")
    path = Path(path)
    if not path.parent.is_dir():
        raise BadInputError(f"cannot write {path}: directory {path.parent} does not exist")
    kind = network_kind(card.network.builder)
    _check_fits(model, card.network)
    inputs = tuple(inputs) if inputs is not None else example_inputs(model, card)
    with _evaluating(model):
        traceable = kind.traceable(model).eval()
        with torch.no_grad():
            outputs = _as_tuple(traceable(*inputs))
        record = {
            **card.to_dict(),
            "format": format,
            "file": path.name,
            "inputs": _describe(kind.input_names, inputs),
            "outputs": _describe(kind.output_names, outputs),
        }
        try:
            if format == "onnx":
                to_onnx(traceable, inputs, path, kind.input_names, kind.output_names, record)
            elif format == "torchscript":
                _to_torchscript(traceable, inputs, path, record)
            else:
                torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
        except OSError as exc:
            raise BadInputError(f"cannot write {path}: {exc.strerror or exc}") from None
    write_atomic(card_path(path), json.dumps(record, indent=2) + "\n")
    log.info("exported %s (%s weights) to %s", format, card.weights, path)
    return path


def to_onnx(
    module: nn.Module,
    inputs: Sequence[torch.Tensor],
    path: Path | str,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """One self-contained ONNX file of ``module`` traced on ``inputs``, the batch (axis 0 of every input) dynamic;
    ``metadata`` goes to ``metadata_props``, each value as JSON.

    >>> to_onnx(nn.Linear(4, 2).eval(), (torch.zeros(1, 4),), "linear.onnx")  # doctest: +SKIP
    """
    _require("onnxscript")
    path = Path(path)
    inputs = tuple(inputs)
    batch = torch.export.Dim("batch", min=1)
    with _quiet_torch():
        program = torch.onnx.export(
            module, inputs, None, dynamo=True, verbose=False, optimize=True,
            input_names=list(input_names) if input_names else None,
            output_names=list(output_names) if output_names else None,
            dynamic_shapes=tuple({0: batch} for _ in inputs),
        )
    assert program is not None
    program.model.metadata_props.update({k: json.dumps(v) for k, v in (metadata or {}).items()})
    program.save(path, external_data=False)
    return path


def _to_torchscript(module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path, record: dict) -> None:
    with _quiet_torch():
        traced = torch.jit.trace(module, inputs)
        torch.jit.save(traced, str(path), _extra_files={TORCHSCRIPT_CARD: json.dumps(record)})


def read_card(path: Path | str) -> ModelCard:
    """The card written beside an export (``card_path(path)``); its format and signature are in ``extra``.

    >>> read_card("cell.onnx").mean  # doctest: +SKIP
    (72.94,)
    """
    source = card_path(path)
    try:
        data = json.loads(source.read_text())
    except FileNotFoundError:
        raise BadInputError(f"{source} does not exist; export the model again to write its card") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read the model card {source}: {exc}") from None
    try:
        return ModelCard.from_dict(data)
    except BadInputError as exc:
        raise BadInputError(f"{source}: {exc}") from None


def load_state_dict_export(path: Path | str) -> tuple[nn.Module, ModelCard]:
    """The network a ``state-dict`` export's card describes, with the exported weights, in evaluation mode.

    >>> model, card = load_state_dict_export("cell.pt")  # doctest: +SKIP
    """
    card = read_card(path)
    model = build_network(card.network)
    _load_weights(model, Path(path))
    return model, card


def load_trained(directory: Path | str) -> tuple[nn.Module, ModelCard]:
    """The network ``train --out DIR`` saved (``result.json``, ``weights.pt``), its trained weights loaded.

    >>> model, card = load_trained("runs/final")  # doctest: +SKIP
    >>> export(model, card, "onnx", "runs/final/model.onnx")  # doctest: +SKIP
    """
    directory = Path(directory)
    result_file = directory / "result.json"
    try:
        result = json.loads(result_file.read_text())
    except FileNotFoundError:
        raise BadInputError(f"{result_file} does not exist; train with --out {directory} first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"cannot read {result_file}: {exc}") from None
    if not isinstance(result, dict) or "network" not in result:
        raise BadInputError(f"{result_file} does not record its network (trained by an older version); train again")
    vocab = directory / "vocab.txt"
    names = result.get("class_names") or (vocab.read_text().splitlines() if vocab.exists() else ())
    try:
        card = ModelCard(
            NetworkSpec.from_dict(result["network"]), tuple(result["input_shape"]), int(result["n_classes"]),
            tuple(names), tuple(result.get("mean") or ()), tuple(result.get("std") or ()), "trained",
            result.get("dataset"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"{result_file} lacks what an export needs ({exc}); train again") from None
    model = build_network(card.network)
    _load_weights(model, directory / "weights.pt")
    return model, card


def onnx_session(path: Path | str, threads: int | None = None) -> "onnxruntime.InferenceSession":
    """An onnxruntime CPU session on ``threads`` threads (default: as many as torch uses), one op at a time, so its
    timings compare with torch's on the same threads.

    >>> onnx_session("cell.onnx").run(None, {"image": images})  # doctest: +SKIP
    """
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_difference(path: Path | str, model: nn.Module, inputs: Sequence[torch.Tensor] | None = None) -> float:
    """Largest absolute difference between an export's outputs, read back from ``path`` by its own runtime
    (onnxruntime, ``torch.jit.load``, or a fresh network loading the state dict), and ``model``'s, on ``inputs``
    (default: a fresh batch of 3, not the traced batch of 2, so the batch axis is checked too).

    >>> export_difference("cell.onnx", model) < 1e-4  # doctest: +SKIP
    True
    """
    card = read_card(path)
    fmt = card.extra.get("format")
    kind = network_kind(card.network.builder)
    inputs = tuple(inputs) if inputs is not None else example_inputs(model, card, batch=3, seed=1)
    cpu_inputs = tuple(x.cpu() for x in inputs)
    with _evaluating(model), torch.no_grad():
        expected = _as_tuple(kind.traceable(model).eval()(*inputs))
        if fmt == "onnx":
            session = onnx_session(path)
            names = [i.name for i in session.get_inputs()]
            got = tuple(torch.from_numpy(a) for a in session.run(None, dict(zip(names, (x.numpy() for x in cpu_inputs)))))
        elif fmt == "torchscript":
            with _quiet_torch():
                loaded_script = torch.jit.load(str(path), map_location="cpu")
            got = _as_tuple(loaded_script(*cpu_inputs))
        elif fmt == "state-dict":
            loaded, _ = load_state_dict_export(path)
            got = _as_tuple(kind.traceable(loaded).eval()(*cpu_inputs))
        else:
            raise BadInputError(f"{card_path(path)} names no known format; export the model again")
    if len(got) != len(expected) or any(g.shape != e.shape for g, e in zip(got, expected)):
        return float("inf")
    return max(float((g.double() - e.cpu().double()).abs().max()) for g, e in zip(got, expected))


# ----- helpers -----
def _check_fits(model: nn.Module, network: NetworkSpec) -> None:
    """A card must rebuild the model it is written for: the same parameters and buffers, of the same shapes
    (built on the meta device: no memory, no arithmetic)."""
    with torch.device("meta"):
        reference = build_network(network)
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if want != have:
        differing = sorted(set(want) ^ set(have)) or sorted(k for k in want if want[k] != have[k])
        raise BadInputError(f"the card's network is not this model (first difference: {differing[0]}); "
                            "describe the model it belongs to")


def _load_weights(model: nn.Module, path: Path) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BadInputError(f"{path} does not exist") from None
    except Exception as exc:  # a corrupt or non-weights file: the unpickler says why
        raise BadInputError(f"{path} is not a weights file torch can read safely: {exc}") from None
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise BadInputError(f"{path} does not fit the network its card describes: {first}") from None


def _describe(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> list[dict[str, Any]]:
    """Name, shape (batch first, named) and dtype of each input or output."""
    return [
        {"name": name, "shape": ["batch", *t.shape[1:]], "dtype": str(t.dtype).removeprefix("torch.")}
        for name, t in zip(names, tensors)
    ]


def _as_tuple(outputs: Any) -> tuple[torch.Tensor, ...]:
    return tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@contextmanager
def _quiet_torch() -> Iterator[None]:
    """torch's notices about its own deprecations (``torch.jit.trace``, pytree internals), the torchvision ops it
    skips and the batch axis named once for all inputs are not the user's business; TracerWarnings, which say a
    trace may not generalise, still show."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")  # "torchvision is not installed"
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*shares the same shape constraints with another axis")
            yield
    finally:
        registration.setLevel(level)


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BadInputError(f"{module} is not installed; {_EXPORT_EXTRA}") from None



@dataclass(frozen=True)
class Exported:
    """What ``export_found`` wrote: the file, where its weights came from, and how far it computes from PyTorch."""

    path: Path
    weights: str  # "trained" (from a ``train --out`` directory) or "fresh"
    max_abs_difference: float


def export_found(source: Path | str, format: str, path: Path | str, facts: dict[str, Any] | None = None,
                 seed: int = 0, **options: Any) -> Exported:
    """Export what ``source`` holds: a ``train --out`` directory with its trained weights, or a run directory or
    architecture file with fresh weights (seeded) for ``facts`` (default: the run's data); checked after writing.

    >>> export_found("runs/final", "onnx", "model.onnx").weights  # doctest: +SKIP
    'trained'
    """
    from .methods.results import load_run
    from .nets.deploy import build

    source = Path(source)
    if (source / "result.json").is_file() and (source / "weights.pt").is_file():
        model, card = load_trained(source)
    else:
        from .genome import load_genome

        run = load_run(source) if source.is_dir() else None
        genome, facts = (run.genome, facts or run.facts) if run is not None else (load_genome(source), facts)
        model, spec, shape = build(genome, facts, seed, **options)
        known = _with_normalisation(facts)
        card = ModelCard(spec, shape, int(spec.arguments.get("n_classes", spec.arguments.get("vocab_size", 0))),
                         tuple(known.get("class_names", ())), tuple(known.get("mean", ())), tuple(known.get("std", ())),
                         "fresh", known.get("dataset"))
    export(model, card, format, path)
    difference = export_difference(path, model) if format != "state-dict" else 0.0
    return Exported(Path(path), card.weights, difference)


def _with_normalisation(facts: dict[str, Any] | None) -> dict[str, Any]:
    """Image data facts with the mean and std a training on that dataset normalises with."""
    if not facts or "dataset" not in facts or len(facts.get("input_shape", ())) != 3:
        return dict(facts or {})
    from .train.final import image_facts

    return {**facts, **image_facts(facts["dataset"])}
