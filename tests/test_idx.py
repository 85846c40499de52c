"""The IDX reader on files the tests write: good ones (raw and gzipped) and every way to break one."""

import gzip

import numpy as np
import pytest

from engine.data.idx import check_same_count, read_idx, read_idx_header
from engine.errors import KqvError

IMAGES = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
LABELS = np.array([7, 0, 9], dtype=np.uint8)


def idx_bytes(values: np.ndarray, magic: int | None = None, dims=None) -> bytes:
    magic = magic if magic is not None else (0x803 if values.ndim == 3 else 0x801)
    dims = dims if dims is not None else values.shape
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + values.tobytes()


def write(path, data: bytes, gz: bool = False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_reads_images_and_labels_raw_or_gzipped(tmp_path, gz):
    suffix = ".gz" if gz else ""
    images = read_idx(write(tmp_path / f"im{suffix}", idx_bytes(IMAGES), gz), "images")
    labels = read_idx(write(tmp_path / f"lb{suffix}", idx_bytes(LABELS), gz), "labels")
    assert images.shape == (3, 4, 5) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, IMAGES)
    np.testing.assert_array_equal(labels, LABELS)
    assert read_idx_header(tmp_path / f"im{suffix}", "images") == (3, 4, 5)


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    path = write(tmp_path / "images-without-suffix", idx_bytes(IMAGES), gz=True)
    np.testing.assert_array_equal(read_idx(path, "images"), IMAGES)


def test_wrong_magic_names_the_file_and_both_numbers(tmp_path):
    path = write(tmp_path / "labels-as-images", idx_bytes(LABELS))
    with pytest.raises(KqvError, match=r"as-images: wrong magic number 0x00000801 \(that is an IDX labels"):
        read_idx(path, "images")
    path = write(tmp_path / "junk", b"PK\x03\x04" + bytes(100))
    with pytest.raises(KqvError, match="wrong magic number 0x504b0304.*start with 0x00000801"):
        read_idx(path, "labels")
    with pytest.raises(KqvError, match="wrong magic"):
        read_idx_header(path, "labels")


def test_truncated_file_says_at_which_byte(tmp_path):
    data = idx_bytes(IMAGES)
    path = write(tmp_path / "cut", data[:-7])
    with pytest.raises(KqvError, match=f"cut is truncated at byte {len(data) - 7}: .*3 x 4 x 5 images"):
        read_idx(path, "images")
    path = write(tmp_path / "header-only", data[:10])
    with pytest.raises(KqvError, match="truncated at byte 10, inside its 16-byte header"):
        read_idx(path, "images")


def test_count_in_header_disagreeing_with_the_file(tmp_path):
    too_many = write(tmp_path / "more", idx_bytes(LABELS, dims=(4,)))
    with pytest.raises(KqvError, match="truncated at byte 11: its header promises 4 labels"):
        read_idx(too_many, "labels")
    too_few = write(tmp_path / "fewer", idx_bytes(LABELS, dims=(2,)))
    with pytest.raises(KqvError, match="bytes after its last element.*says 2 labels"):
        read_idx(too_few, "labels")


def test_gz_name_without_gzip_content_and_cut_gzip(tmp_path):
    fake = write(tmp_path / "labels.gz", idx_bytes(LABELS))
    with pytest.raises(KqvError, match="labels.gz is named .gz but is not gzip"):
        read_idx(fake, "labels")
    with pytest.raises(KqvError, match="not gzip"):
        read_idx_header(fake, "labels")
    packed = gzip.compress(idx_bytes(IMAGES))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(KqvError, match="cut.gz is a cut-off gzip file"):
        read_idx(cut, "images")
    garbled = tmp_path / "garbled.gz"
    garbled.write_bytes(packed[:10] + bytes(len(packed) - 10))
    with pytest.raises(KqvError, match="garbled.gz is a corrupt gzip file"):
        read_idx(garbled, "images")


def test_missing_file(tmp_path):
    with pytest.raises(KqvError, match="does not exist"):
        read_idx(tmp_path / "nope", "labels")


def test_images_and_labels_of_different_counts():
    check_same_count((3, 4, 5), (3,), "im", "lb")
    with pytest.raises(KqvError, match="im holds 3 images but lb holds 2 labels"):
        check_same_count((3, 4, 5), (2,), "im", "lb")
