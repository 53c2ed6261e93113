"""What a trial's float rounding depends on besides its spec: the CPU model, the kernels torch picks for it and
torch's version.

Training is bit-for-bit repeatable on one kind of machine, not across kinds: oneDNN and MKL choose their
vector width (AVX2, AVX-512) and their blocking by CPU, and the sums they compute round differently. A run
records where it started, so a resume or a comparison on another kind of machine can say that its new numbers
will not match bit for bit.
"""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``; elsewhere what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively here (AVX512-BF16, AMX): elsewhere bf16 is emulated, slower than fp32."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def describe() -> dict[str, str]:
    """The machine as far as it decides a CPU trial's numbers."""
    import torch

    return {"cpu": cpu_model(), "cpu_kernels": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__}


def differences(recorded: dict[str, str], current: dict[str, str]) -> str:
    """``name: recorded -> current`` for every entry that differs; empty when the two machines train alike."""
    return ", ".join(f"{name}: {recorded.get(name)} -> {current.get(name)}"
                     for name in sorted(set(recorded) | set(current)) if recorded.get(name) != current.get(name))
