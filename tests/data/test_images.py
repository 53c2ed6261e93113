
import numpy as np
import pytest
import torch

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.data.images import (
    TensorSplits, balanced_split, fitting_proxy, full_data, load_image_dataset, proxy_data,
)
from shrinknas.data.splits import PAPER_PROXY
from shrinknas.errors import BadInputError


@pytest.mark.parametrize("name", ["mnist", "digits:/tmp", "cifar-10:x", ""])
def test_unknown_names_list_the_valid_ones(name):
    with pytest.raises(BadInputError, match="unknown image dataset.*digits, fashion-mnist, .*cifar100:DIR"):
        load_image_dataset(name)


def test_datasets_are_cached_per_process():
    assert load_image_dataset("digits") is load_image_dataset("digits")


def _digits_task(**changes):
    return ImageTask(**{"dataset": "digits", "proxy_train": 500, "proxy_val": 200, "data_seed": 0, **changes})


def test_proxy_data_is_normalised_balanced_and_shaped():
    data = proxy_data(_digits_task())
    assert isinstance(data, TensorSplits)
    assert data.train_x.shape == (500, 1, 8, 8) and data.val_x.shape == (200, 1, 8, 8)
    assert data.train_x.dtype == torch.float32 and data.train_y.dtype == torch.int64
    assert data.train_x.is_contiguous() and data.val_x.is_contiguous()
    assert data.in_channels == 1 and data.input_shape == (1, 8, 8) and data.n_classes == 10
    assert abs(data.train_x.mean().item()) < 1e-5 and abs(data.train_x.std(correction=0).item() - 1) < 1e-5
    assert torch.bincount(data.train_y).tolist() == [50] * 10
    assert torch.bincount(data.val_y).tolist() == [20] * 10


def test_proxy_data_holds_the_split_images_scaled_by_train_statistics():
    raw = load_image_dataset("digits")
    data = proxy_data(_digits_task(data_seed=3))
    train_idx, val_idx = balanced_split(raw.train_y, 500, 200, seed=3)
    restore = np.array(data.std)[None, :, None, None], np.array(data.mean)[None, :, None, None]
    np.testing.assert_allclose(data.val_x.numpy() * restore[0] + restore[1], raw.train_x[val_idx], atol=1e-3)
    np.testing.assert_allclose(data.train_x.numpy() * restore[0] + restore[1], raw.train_x[train_idx], atol=1e-3)
    np.testing.assert_array_equal(data.val_y.numpy(), raw.train_y[val_idx])
    assert data.mean[0] == pytest.approx(raw.train_x[train_idx].mean(), rel=1e-5)


def test_proxy_data_is_cached_by_data_fields_only():
    first = proxy_data(_digits_task())
    assert proxy_data(_digits_task(training=ImageTraining(epochs=2), base_width=8)) is first
    other = proxy_data(_digits_task(data_seed=1))
    assert other is not first and not torch.equal(other.train_y, first.train_y)


def test_proxy_too_large_names_the_dataset_and_the_fix():
    with pytest.raises(BadInputError, match="^digits: the training set has only 140 images .*lower the proxy size"):
        proxy_data(ImageTask(dataset="digits"))


def test_full_data_is_train_then_test_and_cached():
    raw = load_image_dataset("digits")
    data = full_data("digits")
    assert data.train_x.shape == raw.train_x.shape and data.val_x.shape == raw.test_x.shape
    np.testing.assert_array_equal(data.val_y.numpy(), raw.test_y)
    assert abs(data.train_x.mean().item()) < 1e-5
    assert full_data("digits") is data


def test_normalisation_is_per_channel(cifar10_dir):
    directory, arrays = cifar10_dir()
    data = full_data(f"cifar10:{directory}")
    assert data.in_channels == 3 and data.input_shape == (3, 32, 32)
    per_channel_mean = data.train_x.mean(dim=(0, 2, 3))
    per_channel_std = data.train_x.std(dim=(0, 2, 3), correction=0)
    assert per_channel_mean.abs().max().item() < 1e-5
    assert (per_channel_std - 1).abs().max().item() < 1e-5
    expected = arrays["train_x"].mean(axis=(0, 2, 3))
    np.testing.assert_allclose(data.mean, expected, rtol=1e-5)


def test_proxy_data_on_a_cifar_directory(cifar10_dir):
    directory, _ = cifar10_dir(per_batch=10)  # 50 training images, 5 per class
    data = proxy_data(ImageTask(dataset=f"cifar10:{directory}", proxy_train=30, proxy_val=20))
    assert data.train_x.shape == (30, 3, 32, 32) and data.val_x.shape == (20, 3, 32, 32)
    assert torch.bincount(data.val_y).tolist() == [2] * 10


def test_the_default_proxy_is_the_papers_where_it_fits_and_the_largest_fitting_one_else():
    assert fitting_proxy("digits") == (1150, 230)  # digits' class 8 has 140 training images
    assert fitting_proxy("fashion-mnist-mini") == PAPER_PROXY
    data = proxy_data(ImageTask(dataset="digits", proxy_train=1150, proxy_val=230))
    assert len(data.train_y) == 1150 and len(data.val_y) == 230


def test_every_dataset_names_its_classes(fashion_dir, image_folder):
    assert load_image_dataset("digits").class_names == tuple("0123456789")
    directory, _ = fashion_dir()
    fashion = load_image_dataset(f"fashion-mnist:{directory}").class_names
    assert len(fashion) == 10 and fashion[0] == "T-shirt/top" and fashion[9] == "Ankle boot"
    assert load_image_dataset("fashion-mnist-mini").class_names == fashion
    folder = f"folder:{image_folder(per_class=10)}"
    assert load_image_dataset(folder).class_names == ("cat", "dog", "emu")
    # the tensors a trainer and an exported model get carry them too
    proxy = proxy_data(ImageTask(dataset=folder, proxy_train=12, proxy_val=12))
    assert proxy.class_names == full_data(folder).class_names == ("cat", "dog", "emu")
    assert proxy_data(_digits_task()).class_names == tuple("0123456789")
