"""How closely exported files compute what PyTorch computes, and torch against onnxruntime latency, in one run.

Networks: ShrinkCNN-A's cell in its ImageNet macro (224 x 224, 1001 classes) and in the search's proxy network
(Fashion-MNIST's 1 x 28 x 28, 10 classes). Weights are fresh, their batch-norm statistics moved off 0 / 1 by
three training-mode passes on random inputs, so evaluation mode is not the identity. Differences are the largest
absolute ones over all logits of a fresh batch of 3 (the export traced a batch of 2). Latency: warm-up, then
torch and onnxruntime take turns pass by pass (``resources.measure_latencies``), one thread each.
Usage: python benchmarks/export_fidelity.py [--repeats 30] [--out benchmarks/results/export_fidelity.json]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import torch
from emit import emit  # benchmarks/emit.py

from shrinknas.config import ImageTask
from shrinknas.export import ModelCard, export, export_difference
from shrinknas.genome import load_genome
from shrinknas.nets.cnn import cell_network_spec, imagenet_macro, proxy_macro
from shrinknas.nets.registry import build_network
from shrinknas.resources import measure_latencies

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shrinkcnn_a.json"


def networks() -> dict[str, ModelCard]:
    cell = load_genome(EXAMPLE)
    return {
        "shrinkcnn_a_imagenet": ModelCard(cell_network_spec(cell, imagenet_macro(), 3, 1001), (3, 224, 224), 1001),
        "shrinkcnn_a_proxy": ModelCard(cell_network_spec(cell, proxy_macro(ImageTask()), 1, 10), (1, 28, 28), 10),
    }


def settled(card: ModelCard) -> torch.nn.Module:
    model = build_network(card.network, seed=0).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, *card.input_shape) * 2 + 0.5)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32, help="the batch size timed besides 1 (proxy network)")
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    report: dict = {"machine": platform.processor() or platform.machine(), "threads": 1, "networks": {}}
    with tempfile.TemporaryDirectory() as folder:
        for name, card in networks().items():
            model = settled(card)
            entry = {"max_abs_difference": {}}
            for fmt, suffix in (("onnx", "onnx"), ("torchscript", "ts"), ("state-dict", "pt")):
                path = export(model, card, fmt, Path(folder) / f"{name}.{suffix}")
                entry["max_abs_difference"][fmt] = export_difference(path, model)
            with torch.no_grad():
                entry["logit_abs_max"] = float(model(torch.randn(3, *card.input_shape)).abs().max())
            batches = (1,) if name.endswith("imagenet") else (1, args.batch)
            latencies = measure_latencies(model, card.input_shape, batches, repeats=args.repeats)
            entry["latency"] = [l.__dict__ for l in latencies]
            by = {(l.runtime, l.batch): l.median_seconds for l in latencies}
            entry["torch_over_onnxruntime"] = {b: by["torch", b] / by["onnxruntime", b] for b in batches}
            report["networks"][name] = entry
    emit(report, args.out)


if __name__ == "__main__":
    main()
