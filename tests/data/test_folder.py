"""folder:DIR datasets: class folders of image files the tests write with Pillow."""

import numpy as np
import pytest

from shrinknas.data.images import folder_location, load_image_dataset
from shrinknas.data.splits import HELD_OUT_EVERY
from shrinknas.errors import BadInputError, DatasetMissingError


def test_class_folders_become_classes_with_their_names_and_a_held_out_test_part(image_folder):
    root = image_folder(per_class=10)
    data = load_image_dataset(f"folder:{root}")
    assert data.class_names == ("cat", "dog", "emu") and data.n_classes == 3
    assert data.image_shape == (1, 6, 8) and data.train_x.dtype == np.uint8
    # a fifth of every class is held out, the rest trains
    assert np.bincount(data.test_y).tolist() == [10 // HELD_OUT_EVERY] * 3
    assert np.bincount(data.train_y).tolist() == [10 - 10 // HELD_OUT_EVERY] * 3
    for x, y in ((data.train_x, data.train_y), (data.test_x, data.test_y)):
        np.testing.assert_array_equal(x[:, 0, 0, 0], 40 + 60 * y)  # each image kept its class's pixels
        assert (x == x[:, :, :1, :1]).all()


def test_the_held_out_part_is_the_same_on_every_load(image_folder):
    root = image_folder(per_class=10)
    first = load_image_dataset(f"folder:{root}")
    load_image_dataset.cache_clear()
    again = load_image_dataset(f"folder:{root}")
    assert first is not again
    np.testing.assert_array_equal(first.test_x, again.test_x)
    np.testing.assert_array_equal(first.train_y, again.train_y)


def test_train_and_test_folders_give_the_two_parts(image_folder, tmp_path):
    image_folder(root=tmp_path / "pair" / "train", per_class=4)
    image_folder(root=tmp_path / "pair" / "test", classes=("cat", "emu"), per_class=2)  # a part may lack a class
    data = load_image_dataset(f"folder:{tmp_path / 'pair'}")
    assert data.class_names == ("cat", "dog", "emu")
    assert np.bincount(data.train_y).tolist() == [4, 4, 4]
    assert data.test_y.tolist() == [0, 0, 2, 2]
    np.testing.assert_array_equal(data.test_x[:, 0, 0, 0], [40, 40, 100, 100])  # as written: emu second of two


def test_colour_images_make_every_image_rgb(image_folder, write_image):
    root = image_folder(per_class=5)
    write_image(root / "dog" / "colour.png", np.full((6, 8, 3), (10, 20, 30), dtype=np.uint8))
    data = load_image_dataset(f"folder:{root}")
    assert data.image_shape == (3, 6, 8)
    grey = np.concatenate([data.train_x, data.test_x])
    found = grey[(grey[:, 0, 0, 0] == 10)]
    assert found.shape[0] == 1 and found[0, :, 0, 0].tolist() == [10, 20, 30]
    others = grey[grey[:, 0, 0, 0] != 10]
    assert (others[:, 0] == others[:, 1]).all() and (others[:, 1] == others[:, 2]).all()  # grey as equal channels


def test_jpeg_images_load(image_folder):
    data = load_image_dataset(f"folder:{image_folder(colour=True, suffix='.jpg')}")
    assert data.image_shape == (3, 6, 8)
    red = np.concatenate([data.train_x, data.test_x])[:, 0].mean(axis=(1, 2))
    labels = np.concatenate([data.train_y, data.test_y])
    np.testing.assert_allclose(red, 40 + 60 * labels, atol=8)  # lossy, so near the written value


def test_a_given_size_resizes_every_image(image_folder, write_image):
    root = image_folder(per_class=5)
    write_image(root / "cat" / "big.png", np.full((12, 16), 40, dtype=np.uint8))
    with pytest.raises(DatasetMissingError, match=r"differ in size \(6x8, 12x16.*@HxW"):
        load_image_dataset(f"folder:{root}")
    data = load_image_dataset(f"folder:{root}@4x5")
    assert data.image_shape == (1, 4, 5)
    assert load_image_dataset(f"folder:{root}@7").image_shape == (1, 7, 7)
    # a flat image stays flat when resized
    assert (data.train_x == data.train_x[:, :, :1, :1]).all()


def test_non_image_files_are_skipped(image_folder):
    root = image_folder(per_class=5)
    (root / "cat" / "README.txt").write_text("notes")
    (root / "cat" / ".DS_Store").write_bytes(b"\x00\x01")
    assert len(load_image_dataset(f"folder:{root}").train_y) + 3 == 15


def test_folder_location_reads_an_optional_size(tmp_path):
    assert folder_location("data") == (tmp_path.__class__("data"), None)
    assert folder_location("data@32x48") == (tmp_path.__class__("data"), (32, 48))
    assert folder_location("a@b/data@16") == (tmp_path.__class__("a@b/data"), (16, 16))
    odd = tmp_path / "my@photos"
    odd.mkdir()
    assert folder_location(str(odd)) == (odd, None)  # an existing folder whose name holds @


@pytest.mark.parametrize("where, match", [("x@big", "'big' after @ is not a size"), ("x@0x4", "at least 1x1"),
                                          ("", "folder needs its location")])
def test_a_bad_size_or_no_folder_is_one_line(where, match):
    with pytest.raises(BadInputError, match=match):
        load_image_dataset(f"folder:{where}")


def test_bad_layouts_are_one_line_errors(image_folder, tmp_path, write_image):
    def error(directory):
        with pytest.raises(DatasetMissingError) as info:
            load_image_dataset(f"folder:{directory}")
        message = str(info.value)
        assert "\n" not in message
        return message

    assert "does not exist" in error(tmp_path / "absent")
    (tmp_path / "flat").mkdir()
    write_image(tmp_path / "flat" / "a.png", np.zeros((4, 4), dtype=np.uint8))
    assert "holds no class folders" in error(tmp_path / "flat")
    root = image_folder(root=tmp_path / "empty-class")
    (root / "fox").mkdir()
    assert "class folder" in error(root) and "fox holds no images" in error(root)
    root = image_folder(root=tmp_path / "broken")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert "broken.png" in error(root) and "replace or remove it" in error(root)
    root = image_folder(root=tmp_path / "truncated", size=(64, 64))
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)  # does not compress below 200 bytes
    whole = write_image(root / "dog" / "cut.png", noise)
    whole.write_bytes(whole.read_bytes()[:200])  # the header reads, the pixels do not
    assert "cannot decode image" in error(root) and "cut.png" in error(root)
    root = image_folder(root=tmp_path / "few", per_class=HELD_OUT_EVERY - 1)
    assert "too few images to hold out a test part" in error(root)
    image_folder(root=tmp_path / "half" / "train")
    assert "has train/ but no test/" in error(tmp_path / "half")
    image_folder(root=tmp_path / "odd" / "train")
    image_folder(root=tmp_path / "odd" / "test", classes=("yak",))
    assert "yak is a class the training part lacks" in error(tmp_path / "odd")
