"""Where ``--model`` finds a GPT-2 or a MarianMT: a name from the Hugging Face hub, or a folder on disk.

A name (``gpt2``, ``distilgpt2``, ``gpt2-medium``) is a hub repository pinned to one commit,
so the weights a lesson talks about never change under it. ``kqv data gpt2`` downloads its
three files with ``huggingface_hub`` into the Hugging Face cache (``HF_HOME``, shared with
transformers: a model already there is not fetched again); everything else only reads that
cache and never goes to the network. ``HF_HUB_OFFLINE=1`` keeps even the download command
off the network.

A path is any folder holding ``config.json``, ``model.safetensors`` and ``tokenizer.json``:
one written by ``save_pretrained`` or by ``kqv export``.

MarianMT translation models (``kqv data marian``, ``kqv translate --model``) follow the same
rules with their own files (:data:`MARIAN_FILES`) and their own list, :data:`MARIAN_MODELS`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import KqvError
from engine.files.reading import usable_folder
from engine.gpt.model import GPT
from engine.hf.gpt2 import CONFIG_FILE, WEIGHTS_FILE, load_gpt2, read_config
from engine.hf.tokenizer import TOKENIZER_FILE, HFTokenizer

FILES = (CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE)  # the big one last


@dataclass(frozen=True)
class HubModel:
    repo_id: str
    revision: str  # a commit of the repository: the files never change under us
    size: str  # what the download weighs, for the messages
    files: tuple[str, ...] = FILES  # what is downloaded, the big one last
    optional: tuple[str, ...] = ()  # downloaded when the repository has them
    command: str = "kqv data gpt2"  # what downloads it


MODELS = {
    "gpt2": HubModel("openai-community/gpt2", "607a30d783dfa663caf39e06633721c8d4cfcd7e",
                     "about 550 MB"),
    "distilgpt2": HubModel("distilbert/distilgpt2", "2290a62682d06624634c1f46a6ad5be0f47f38aa",
                           "about 350 MB"),
    "gpt2-medium": HubModel("openai-community/gpt2-medium", "6dcaa7a952f72f9298047fd5137cd6e4f05f41da",
                            "about 1.5 GB"),
}
# MarianMT: the SentencePiece tokenizer's three files, and generate()'s rules when present
MARIAN_FILES = (CONFIG_FILE, "source.spm", "target.spm", "vocab.json", WEIGHTS_FILE)
# Revisions: no network here to look up the commits of these repositories, so they follow the
# branch (main). Replace "main" with a commit hash to pin them as the GPT-2 models are.
MARIAN_MODELS = {
    name: HubModel(name, "main", "about 300 MB", MARIAN_FILES, ("generation_config.json",),
                   "kqv data marian")
    for name in ("Helsinki-NLP/opus-mt-en-fr", "Helsinki-NLP/opus-mt-en-de")
}
MARIAN_OWNER = "Helsinki-NLP/"  # "opus-mt-en-fr" alone names the same model


def marian_name(model: str) -> str:
    """``opus-mt-en-fr`` -> ``Helsinki-NLP/opus-mt-en-fr`` when that is a known model (not a folder)."""
    if model not in MARIAN_MODELS and MARIAN_OWNER + model in MARIAN_MODELS and not Path(model).exists():
        return MARIAN_OWNER + model
    return model


ELSEWHERE = f"or pass --model PATH of a folder with {', '.join(FILES)}"
NAMES = ", ".join(MODELS)


def _elsewhere(hub: HubModel) -> str:
    return f"or pass --model PATH of a folder with {', '.join(hub.files)}"


def _hub_options(local_only: bool) -> dict:
    """huggingface_hub reads its environment once, at import; these are read at each call, so
    HF_HUB_OFFLINE, HF_ENDPOINT and HF_HUB_CACHE set later (a test, a notebook) still count."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
    return {"local_files_only": local_only or offline, "endpoint": os.environ.get("HF_ENDPOINT"),
            "cache_dir": os.environ.get("HF_HUB_CACHE")}


def fetch_model(name: str, local_only: bool = False, models: dict[str, HubModel] = MODELS) -> Path:
    """The folder (a snapshot in the Hugging Face cache) holding the files of ``name``.

    ``local_only``: look in the cache and never download. Files already cached are reused.
    ``models``: :data:`MODELS` (GPT-2) or :data:`MARIAN_MODELS`.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    # its retry warnings would print before our one line; the bars still show the download
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    if name not in models:
        raise KqvError(f"unknown model {name!r}: choose {', '.join(models)}")
    hub = models[name]
    options = _hub_options(local_only)
    unreachable = KqvError(f"cannot reach the Hugging Face hub to download {name}; check the connection, "
                           f"{_elsewhere(hub)}")
    if not options["local_files_only"] and not _hub_answers(hub, options):
        raise unreachable
    try:
        for file in hub.files:
            path = hf_hub_download(hub.repo_id, file, revision=hub.revision, **options)
        for file in hub.optional:
            try:
                hf_hub_download(hub.repo_id, file, revision=hub.revision, **options)
            except (EntryNotFoundError, LocalEntryNotFoundError):
                pass  # not in the repository (or, offline, never fetched): the defaults apply
    except LocalEntryNotFoundError:
        if not options["local_files_only"]:
            raise unreachable from None
        how = "HF_HUB_OFFLINE is set, so nothing is downloaded" if not local_only else "download it first"
        raise KqvError(f"the {name} weights are not on this machine ({how}): run `{hub.command} --model "
                       f"{name}` ({hub.size}) {_elsewhere(hub)}") from None
    except Exception as exc:  # HfHubHTTPError, OSError or the HTTP library's own error mid-download
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KqvError(f"downloading {name} from the Hugging Face hub failed: {first_line}") from None
    return Path(path).parent


def _hub_answers(hub: HubModel, options: dict) -> bool:
    """False when a file must be downloaded and one request to the hub, without retries, gets
    no answer at all: offline, ``kqv data gpt2`` fails in a moment.

    When a file is not in the cache yet, ``hf_hub_download`` retries a network error five
    times, waiting 1, 2, 4, 8 and 8 seconds: with no network a user waited about 25 s for our
    one line. ``get_hf_file_metadata`` does not retry, and waits at most HF_HUB_ETAG_TIMEOUT
    (10 s by default) for an answer; DNS failing or a refused connection fail at once. Files
    already cached need no network at all (the revision is a commit), so nothing is asked then.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError

    missing = [f for f in hub.files if not isinstance(
        try_to_load_from_cache(hub.repo_id, f, cache_dir=options["cache_dir"], revision=hub.revision), str)]
    if not missing:
        return True
    url = hf_hub_url(hub.repo_id, missing[0], revision=hub.revision, endpoint=options["endpoint"])
    try:
        get_hf_file_metadata(url, endpoint=options["endpoint"])
    except HfHubHTTPError:
        return True  # it answered (a 404, a 5xx): hf_hub_download says why, as a failed download
    except Exception:  # no answer: no route, no DNS, refused, timed out
        return False
    return True


def cached_snapshot(name: str, models: dict[str, HubModel] = MODELS) -> Path | None:
    """The Hugging Face cache's folder holding every file of hub model ``name`` at its pinned
    commit, or None; only looks at the folder (``models--{owner}--{name}/snapshots/{commit}``).

    For a hint that only asks whether the weights are here: :func:`fetch_model` answers the same
    with ``local_only``, but importing huggingface_hub's downloader costs a quarter of a second,
    which the attention lesson's first step would wait for.
    """
    from huggingface_hub import constants  # the cache's place, as hf_hub_download finds it

    hub = models[name]
    cache = Path(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE)
    folder = cache / ("models--" + hub.repo_id.replace("/", "--")) / "snapshots" / hub.revision
    return folder if all((folder / f).is_file() for f in hub.files) else None


def model_folder(model: str, models: dict[str, HubModel] = MODELS) -> Path:
    """``--model``: an existing folder as it is, else a hub name looked up in the cache."""
    path = Path(model).expanduser()
    if usable_folder(path):
        return path
    if model in models:
        return fetch_model(model, local_only=True, models=models)
    files = ", ".join(next(iter(models.values())).files)
    if path.exists():
        raise KqvError(f"--model {model} is a file; give a folder holding {files}")
    owners = {n.split("/")[0] for n in models if "/" in n}  # hub names hold a slash too
    if model.startswith(".") or (os.sep in model and model.split(os.sep)[0] not in owners):
        raise KqvError(f"--model {model}: no such folder")
    raise KqvError(f"unknown model {model!r}: choose {', '.join(models)}, or the path of a folder holding "
                   f"{files}")


def load_pretrained(model: str) -> tuple[GPT, HFTokenizer, Path]:
    """The GPT-2 named by ``--model`` (a name or a folder) with its tokenizer and folder."""
    folder = model_folder(model)
    vocab_size = read_config(folder).vocab_size
    tokenizer = HFTokenizer.from_file(folder / TOKENIZER_FILE)
    if tokenizer.rows_needed > vocab_size:  # checked before the weights are read
        raise KqvError(f"{folder}: the tokenizer has ids up to {tokenizer.rows_needed - 1} but the model "
                       f"only {vocab_size} rows of wte; they do not belong together")
    return load_gpt2(folder), tokenizer, folder
