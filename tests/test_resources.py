import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from shrinknas.nets.cnn import CellNetwork, cifar_macro
from shrinknas.errors import BadInputError
from shrinknas.resources import count, count_params, count_parts, measure_latencies, measure_latency
from shrinknas.genome.dag_cell import Topology


def test_conv_and_linear_macs_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(8, 10))
    c = count(net, (3, 10, 10))
    assert c.macs == 100 * 8 * 27 + 100 * 8 * 9 + 80
    assert c.params == count_params(net) == 8 * 27 + 16 + 8 * 9 + 90


def test_macs_agree_with_torch_flop_counter():
    topo = Topology.complete("cnn", ("input", "sepconv3x3", "conv1x1", "sepconv3x3", "conv1x1"))
    net = CellNetwork(topo, cifar_macro(2), 3, 10).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    assert count(net, (3, 32, 32)).macs == counter.get_total_flops() // 2


def test_counting_leaves_the_model_as_it_was():
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)).train()
    count(net, (1, 4, 4))
    assert net.training and not net[0]._forward_hooks


def test_latency_is_the_median_of_timed_inference_passes_after_a_warm_up():
    net = nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)).train()
    calls = []
    net.register_forward_hook(lambda m, inputs, out: calls.append((inputs[0].shape, m.training,
                                                                    torch.is_inference_mode_enabled())))
    seconds = measure_latency(net, (1, 4, 4), batch=2, repeats=5)
    assert len(calls) == 3 + 5  # three untimed warm-up passes, then the timed ones
    assert all(call == (torch.Size([2, 1, 4, 4]), False, True) for call in calls)  # a batch of 2, evaluation mode
    assert 0 < seconds < float("inf")


def test_latencies_are_measured_per_batch_size_in_torch_and_onnxruntime():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
    batches = []
    net.register_forward_hook(lambda m, inputs, out: batches.append(inputs[0].shape[0]))
    latencies = measure_latencies(net, (1, 6, 6), batch_sizes=(1, 4), warmup=2, repeats=5)
    assert [(l.runtime, l.batch) for l in latencies] == [("torch", 1), ("onnxruntime", 1), ("torch", 4),
                                                          ("onnxruntime", 4)]
    assert all(l.passes == 5 and l.threads == torch.get_num_threads() for l in latencies)
    assert all(0 < l.median_seconds < float("inf") and l.spread_seconds >= 0 for l in latencies)
    # torch ran its passes itself (the ONNX export's trace adds its own calls, none of them at batch 1 or 4)
    assert batches.count(1) == batches.count(4) == 2 + 5


def test_latency_of_a_network_with_several_inputs():
    class Mix(nn.Module):
        def forward(self, a, b):
            return a @ b

    latencies = measure_latencies(Mix(), (), batch_sizes=(2,), repeats=3,
                                  inputs=lambda batch: (torch.randn(batch, 3, 4), torch.randn(batch, 4, 2)))
    assert len(latencies) == 2 and all(l.median_seconds > 0 for l in latencies)


@pytest.mark.parametrize("kwargs", [{"runtimes": ("tensorrt",)}, {"batch_sizes": (0,)}, {"repeats": 0}])
def test_latency_settings_a_user_gets_wrong_are_one_line_errors(kwargs):
    with pytest.raises(BadInputError) as info:
        measure_latencies(nn.Linear(2, 2), (2,), **kwargs)
    assert "\n" not in str(info.value)


def test_memory_access_is_shufflenet_v2s_input_output_and_weights_in_elements():
    """conv: h*w*c_in + h'*w'*c_out + k*k*c_in*c_out/g; pooling and BN: input + output; linear: in + out + weights."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False), nn.MaxPool2d(2),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    c = count(net, (3, 10, 10))
    conv1 = 3 * 100 + 8 * 25 + 9 * 3 * 8
    bn = 2 * 8 * 25
    conv2 = 8 * 25 + 8 * 25 + 9 * 8 * 8 // 4
    pool = 8 * 25 + 8 * 4
    gap = 8 * 4 + 8
    linear = 8 + 10 + 80
    assert c.memory_access == conv1 + bn + conv2 + pool + gap + linear
    assert c.macs == 25 * 8 * 27 + 25 * 8 * 18 + 80  # MACs stay the multiply-accumulates of conv and linear


def test_the_parts_of_a_model_split_its_counts():
    first = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4))
    second = nn.Sequential(nn.AvgPool2d(3, 1, 1), nn.Conv2d(4, 2, 1))
    unused = nn.Conv2d(2, 2, 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second, self.spare = first, second, unused  # spare: registered, never called

        def forward(self, x):
            return self.second(self.first(x))

    net = Net()
    parts = count_parts(net, (1, 6, 6), {"first": first, "second": second, "spare": unused})
    whole = count(net, (1, 6, 6))
    assert parts["first"].macs + parts["second"].macs == whole.macs
    assert parts["first"].memory_access + parts["second"].memory_access == whole.memory_access
    assert parts["second"].params == count_params(second) and parts["spare"] == type(whole)(count_params(unused), 0, 0)
