import numpy as np
from sklearn.datasets import load_digits as sklearn_digits

from shrinknas.data.images import load_image_dataset


def test_digits_are_uint8_images_with_a_fixed_stratified_80_20_split():
    data = load_image_dataset("digits")
    raw = sklearn_digits()
    assert data.n_classes == 10
    assert data.train_x.shape[1:] == (1, 8, 8) and data.train_x.dtype == np.uint8
    assert data.train_x.min() == 0 and data.train_x.max() == 255
    # Every fifth image of each class, in file order, is a test image; the rest train, in file order.
    rank_in_class = np.array([np.sum(raw.target[:i] == label) for i, label in enumerate(raw.target)])
    is_test = rank_in_class % 5 == 4
    scaled = np.rint(raw.images * 255 / 16)[:, None]
    np.testing.assert_array_equal(data.test_x, scaled[is_test])
    np.testing.assert_array_equal(data.train_x, scaled[~is_test])
    np.testing.assert_array_equal(data.test_y, raw.target[is_test])
    np.testing.assert_array_equal(data.train_y, raw.target[~is_test])
    assert len(data.train_y) == 1442 and len(data.test_y) == 355
