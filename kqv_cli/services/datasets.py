"""The data a run trains and tests on, found and loaded the same way for the CLI and the app.

* text for the GPT: a file the user names, else Tiny Shakespeare (the cached copy, else
  downloaded into the cache), or, where nothing may be downloaded (``kqv trace gpt``), a
  built-in paragraph;
* digits for the digit net: MNIST (downloaded by the CLI when asked), or the synthetic digits
  kqv draws, which say so in their ``source``; the app never starts an 11 MB download itself.

Downloads report through an ``on_progress(done, total, label)`` callback: drawing a bar is the
caller's business (:func:`kqv_cli.progress_bars.download_progress` in the CLI, the data dialog
in the app).

:data:`DATA_SETS` names the three data sets a first run may lack, for the home screen's data
line and its download dialog: each says whether it is here and fetches itself as ``kqv data``
does (into the cache, verified).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.data.text import TextData
from engine.errors import KqvError
from kqv_cli.services import numbers

# A few lines for `kqv trace gpt` when there is neither --text nor a cached Tiny Shakespeare.
BUILTIN_TEXT = (
    "I am a backend engineer. I learn how a transformer works by watching every variable.\n"
    "Attention compares each word with the words before it, then mixes their values.\n"
) * 8

# the app has no --text to suggest: only the command that fetches the file
APP_OFFLINE = ("Tiny Shakespeare is not on this machine and could not be downloaded; "
               "run `kqv data shakespeare` when online")


def text(path: Path | None, block_size: int, on_progress=None, offline: str | None = None) -> TextData:
    """``path`` (any UTF-8 text), else Tiny Shakespeare from the cache, else downloaded into it.

    ``offline``, when given, replaces the error said when Tiny Shakespeare is neither here nor
    downloadable (the engine's names ``--text``, which only the CLI has)."""
    numbers.check_positive("--block-size", block_size)
    if path is not None:
        return TextData.from_file(path, block_size)
    from engine.data.shakespeare import fetch_shakespeare

    try:
        found = fetch_shakespeare(on_progress=on_progress)  # the cached copy when there is one
    except KqvError:
        if offline is None:
            raise
        raise KqvError(offline) from None
    return TextData.from_file(found, block_size)


def text_without_download(path: Path | None, block_size: int) -> TextData:
    """``path``, else Tiny Shakespeare if it is on this machine, else :data:`BUILTIN_TEXT`."""
    if path is not None:
        return TextData.from_file(path, block_size)
    from engine.data.shakespeare import find_shakespeare

    found = find_shakespeare()
    if found is not None:
        return TextData.from_file(found, block_size)
    return TextData.from_text(BUILTIN_TEXT, block_size, "a built-in paragraph")


def digits(folder: Path | None, synthetic: bool, seed: int, on_progress=None, limit: int | None = None):
    """(train, validation, test) from MNIST (``folder``, else found or downloaded), or from the
    synthetic generator when ``synthetic``.

    With ``limit``, only that many synthetic training images are drawn: no need to draw 50,000
    to train on 2,000 (``limit=0``: the test set alone, for evaluation).
    """
    if synthetic:
        from engine.data.synthetic_digits import N_TRAIN, N_VALIDATION, load_synthetic

        n_train = N_TRAIN if limit is None else min(limit, N_TRAIN)
        return load_synthetic(seed=seed, n_train=n_train, n_validation=N_VALIDATION if n_train else 0)
    from engine.data.mnist import load_mnist

    return load_mnist(folder, on_progress=on_progress)


def digits_data_label() -> str:
    """What ``d`` trains on, said truly: "MNIST" only when its files are here."""
    from engine.data.mnist import find_mnist

    if find_mnist() is not None:
        return "MNIST"
    return "synthetic digits: no MNIST here; `kqv data mnist` fetches it"


def digits_here():
    """(train, validation, test): MNIST when it is on this machine, else the synthetic digits
    (their source says so). Never downloads."""
    from engine.data.mnist import find_mnist, load_mnist

    if find_mnist() is not None:
        return load_mnist(download=False)
    from engine.data.synthetic_digits import load_synthetic

    return load_synthetic()


# -- the data sets a first run may lack ----------------------------------------------------


@dataclass(frozen=True)
class DataSet:
    """One data set kqv can fetch: how to find it here, how to download it, what it is for."""

    key: str  # as in `kqv data KEY`
    title: str
    size: str  # the download, as the learner reads it
    used_for: str

    @property
    def command(self) -> str:
        return f"kqv data {self.key}"

    def find(self) -> Path | None:
        """Where it is on this machine (``$KQV_DATA_DIR`` or the cache), or None. Never downloads."""
        if self.key == "mnist":
            from engine.data.mnist import find_mnist

            try:
                return find_mnist()
            except KqvError:
                return None
        if self.key == "shakespeare":
            from engine.data.shakespeare import find_shakespeare

            return find_shakespeare()
        from engine.data.eng_fra import find_eng_fra

        return find_eng_fra()

    def fetch(self, on_progress=None) -> Path:
        """Download it into the cache, verified, as ``kqv data KEY`` does; :class:`KqvError` if it
        cannot. An exception raised by ``on_progress`` (a cancel) stops the download, and the
        downloader leaves no partial file behind."""
        if self.key == "mnist":
            from engine.data.mnist import fetch_mnist, mnist_cache_dir

            try:
                fetch_mnist(on_progress=on_progress)
            except KqvError as exc:
                raise KqvError(f"MNIST is not on this machine and {exc}") from None
            return mnist_cache_dir()
        if self.key == "shakespeare":
            from engine.data.shakespeare import fetch_shakespeare

            return fetch_shakespeare(on_progress)
        from engine.data.eng_fra import fetch_eng_fra

        return fetch_eng_fra(on_progress)


DATA_SETS = (
    DataSet("mnist", "MNIST", "11 MB", "the digit net: lessons, Train, lab"),
    DataSet("shakespeare", "Tiny Shakespeare", "1.1 MB", "the character GPT: Train, lab"),
    DataSet("eng-fra", "English–French pairs", "about 3 MB", "the translator: Train, lab"),
)
