"""Exact text counts, offline: the tokenizers compiled into splintr-rs, or a vocabulary you name.

For each family, :func:`local_counter` takes the first of:

1. ``COSTROUTER_VOCAB_<FAMILY>``: a ``.tiktoken`` file (read with tiktoken and checked against
   the sha256 of the family's real vocabulary) or a ``tokenizer.json`` (read with tokenizers);
   ``pip install 'costrouter[exact]'`` brings both readers. A file that cannot be used is an
   :class:`~router.InputError`: you named it, so it is not quietly ignored.
2. The family's engine in ``splintr-rs``, a pinned dependency on every platform it has wheels
   for (CPython on Linux x86-64/aarch64, macOS, Windows): nothing to set, fetch or download.
3. Nothing: the estimator estimates the family as a range, and says so once in the log.

An engine is loaded on its family's first count (0.03-0.08 s) and must first give the token ids
of :data:`SELF_CHECK`; a build that disagrees is refused rather than trusted to count. Counts
are of the raw text, as the estimator's are: the chat template is added apart.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import logging
import os
import threading
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from pricing import TOKENIZERS, InputError

from .pieces import Pieces

log = logging.getLogger("costrouter.estimate")

_EXACT_INSTALL = "pip install 'costrouter[exact]'"
#: The engine of the bundled counts. Pinned: it is young, and SELF_CHECK was taken from it.
BUNDLED = "splintr-rs"
BUNDLED_VERSION = "0.22.0"

#: Every family the estimator knows.
FAMILIES = tuple(TOKENIZERS)

#: Per family, texts and the ids the real tokenizer gives them. cl100k's "hello world" is
#: tiktoken's own test; the rest were given alike by splintr and by the reference tokenizers
#: (tiktoken over the published .tiktoken files, tokenizers over Gemma 3's tokenizer.json), and
#: each exercises the family's quirks: digits, NFC for Qwen, Gemma's HTML pieces and spaces.
SELF_CHECK: Mapping[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    "o200k": (
        ("hello world", (24912, 2375)),
        ("Hello, world! 12345 €\n\tdone", (13225, 11, 2375, 0, 220, 7633, 2548, 49838, 97230)),
    ),
    "cl100k": (
        ("hello world", (15339, 1917)),
        ("Hello, world! 12345 €\n\tdone", (9906, 11, 1917, 0, 220, 4513, 1774, 13281, 198, 41595)),
    ),
    "qwen": (
        ("hello world", (14990, 1879)),
        ("cafe\u0301 2024: 你好", (924, 58858, 220, 17, 15, 17, 19, 25, 220, 108386)),
    ),
    "gemma3": (
        ("hello world", (23391, 1902)),
        (
            "<h1>Title</h1>  two  spaces\n你好",
            (184, 7396, 191, 138, 13498, 138, 35220, 107, 144626),
        ),
    ),
}

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
class _Family:
    """How one family is counted: splintr's name for it, NFC first or not, whether added pieces
    spelled in the text count as one token (Gemma's HTML tags, as its tokenizer.json does), and
    for a ``.tiktoken`` override, its split pattern and the sha256 of the real file."""

    bundled: str
    nfc: bool = False
    added_pieces: bool = False
    pattern: str | None = None
    sha256: str | None = None


_FAMILIES: Mapping[str, _Family] = {
    "o200k": _Family(
        "o200k_base",
        pattern=_O200K_PATTERN,
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k": _Family(
        "cl100k_base",
        pattern=_CL100K_PATTERN,
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "qwen": _Family(
        "qwen3",
        nfc=True,
        pattern=_QWEN_PATTERN,
        sha256="b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186",
    ),
    "gemma3": _Family("gemma3", added_pieces=True),
}

Engine = Callable[[str], int]


def _with_nfc(encode: Callable[[str], list[int]]) -> Callable[[str], list[int]]:
    return lambda text: encode(unicodedata.normalize("NFC", text))


def _checked(family: str, encode: Callable[[str], list[int]], source: str) -> str | None:
    """Why ``encode`` is not the family's tokenizer, or None when it gives SELF_CHECK's ids."""
    for text, ids in SELF_CHECK[family]:
        got = tuple(encode(text))
        if got != ids:
            return f"{source} gives {list(got)} for {text!r}, not {list(ids)}"
    return None


def bundled_available() -> bool:
    """Whether the bundled engine is installed (found without importing it)."""
    try:
        return importlib.util.find_spec("splintr") is not None
    except (ImportError, ValueError):  # ValueError: a test hid it in sys.modules
        return False


def _bundled_engine(family: str) -> Engine:
    """The family's engine in splintr-rs, self-checked; raises LookupError saying why not."""
    try:
        import splintr
    except ImportError as exc:
        raise LookupError(f"{BUNDLED} is not installed ({exc})") from None
    spec = _FAMILIES[family]
    tokenizer: Any = splintr.Tokenizer.from_pretrained(spec.bundled)
    encode = tokenizer.encode_with_special if spec.added_pieces else tokenizer.encode_ordinary
    if spec.nfc:
        encode = _with_nfc(encode)
    version = getattr(splintr, "__version__", "?")
    wrong = _checked(family, encode, f"{BUNDLED} {version}")
    if wrong is not None:
        raise LookupError(f"{wrong}: refused (costrouter is checked with {BUNDLED_VERSION})")
    if spec.added_pieces:
        return Pieces(tokenizer, encode)
    return lambda text: len(encode(text))


def _tiktoken_engine(family: str, path: Path) -> Engine:
    try:
        import tiktoken
    except ImportError:
        raise InputError(
            f"counting {family} exactly from {path} needs tiktoken: {_EXACT_INSTALL}"
        ) from None
    spec = _FAMILIES[family]
    if spec.pattern is None or spec.sha256 is None:
        raise InputError(f"the {family} vocabulary must be a tokenizer.json file, not {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {family} vocabulary {path}: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != spec.sha256:
        raise InputError(
            f"{path} is not the {family} vocabulary (sha256 differs from {spec.sha256}): "
            f"point COSTROUTER_VOCAB_{family.upper()} at the right file or unset it"
        )
    # The file's lines are "<base64 token> <rank>".
    lines = (line.split() for line in data.splitlines() if line)
    ranks = {base64.b64decode(token): int(rank) for token, rank in lines}
    encoding = tiktoken.Encoding(
        f"costrouter-{family}", pat_str=spec.pattern, mergeable_ranks=ranks, special_tokens={}
    )
    encode = _with_nfc(encoding.encode_ordinary) if spec.nfc else encoding.encode_ordinary
    return lambda text: len(encode(text))


def _tokenizers_engine(family: str, path: Path) -> Engine:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise InputError(
            f"counting {family} exactly from {path} needs the tokenizers package: {_EXACT_INSTALL}"
        ) from None
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception for unreadable files
        raise InputError(f"cannot read the {family} tokenizer {path}: {exc}") from None

    def encode(text: str) -> list[int]:
        ids: list[int] = tokenizer.encode(text, add_special_tokens=False).ids
        return ids

    wrong = _checked(family, encode, str(path))
    if wrong is not None:
        raise InputError(f"{wrong}: point COSTROUTER_VOCAB_{family.upper()} at its tokenizer.json")
    return lambda text: len(encode(text))


def _file_engine(family: str, path: Path) -> Engine:
    if path.suffix == ".json":
        return _tokenizers_engine(family, path)
    return _tiktoken_engine(family, path)


_said: set[str] = set()
_said_lock = threading.Lock()


def _say_once(message: str) -> None:
    """Log a fallback once per process: every estimator of every request would repeat it."""
    with _said_lock:
        if message in _said:
            return
        _said.add(message)
    log.warning("%s", message)


class LocalCounter:
    """A :class:`~router.TokenCounter` over ``paths`` (family → a vocabulary file you name) and,
    with ``bundled``, the engines in splintr-rs for the other families.

    A family it cannot count answers None, so the estimator estimates it. A named file that
    cannot be used raises :class:`~router.InputError` on its family's first count; a bundled
    engine that is missing or fails its self-check is skipped, logged once."""

    def __init__(self, paths: Mapping[str, Path] | None = None, *, bundled: bool = True) -> None:
        paths = dict(paths or {})
        unknown = sorted(set(paths) - set(FAMILIES))
        if unknown:
            raise InputError(f"no tokenizer family {unknown}; known: {list(FAMILIES)}")
        self.paths = paths
        self.bundled = bundled and bundled_available()
        self._engines: dict[str, Engine | None] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalCounter(paths={sorted(self.paths)}, bundled={self.bundled})"

    @property
    def families(self) -> tuple[str, ...]:
        """The families this counter is set to count exactly (a bundled engine can still be
        refused at its first count: :meth:`source` tells)."""
        return tuple(f for f in FAMILIES if f in self.paths or self.bundled)

    def source(self, family: str) -> str | None:
        """What counts ``family`` (a file's path, or the bundled engine), loading it; None when
        the family is estimated."""
        if self._engine(family) is None:
            return None
        path = self.paths.get(family)
        return str(path) if path is not None else f"{BUNDLED} {BUNDLED_VERSION}"

    def _engine(self, family: str) -> Engine | None:
        try:
            return self._engines[family]
        except KeyError:
            pass
        with self._lock:
            if family not in self._engines:
                self._engines[family] = self._load(family)
            return self._engines[family]

    def _load(self, family: str) -> Engine | None:
        path = self.paths.get(family)
        if path is not None:
            return _file_engine(family, path)
        if not self.bundled or family not in _FAMILIES:
            return None
        try:
            return _bundled_engine(family)
        except LookupError as exc:
            _say_once(
                f"{family} text is estimated as a range, not counted: {exc}; "
                f"pip install '{BUNDLED}=={BUNDLED_VERSION}' or set "
                f"COSTROUTER_VOCAB_{family.upper()}"
            )
            return None

    def __call__(self, family: str, text: str) -> int | None:
        engine = self._engines.get(family) or self._engine(family)
        if engine is None:
            return None
        try:
            return engine(text)
        except UnicodeEncodeError:  # a lone surrogate: no tokenizer takes it; estimate the text
            return None


def named_vocabularies(environ: Mapping[str, str] | None = None) -> dict[str, Path]:
    """The files ``COSTROUTER_VOCAB_<FAMILY>`` names, by family."""
    env = os.environ if environ is None else environ
    named = {family: env.get(f"COSTROUTER_VOCAB_{family.upper()}") for family in FAMILIES}
    return {family: Path(value) for family, value in named.items() if value}


def local_counter(
    environ: Mapping[str, str] | None = None, *, bundled: bool = True
) -> LocalCounter:
    """A counter for every family: the files the environment names, else the bundled engines."""
    return LocalCounter(named_vocabularies(environ), bundled=bundled)


@functools.cache
def default_counter() -> LocalCounter:
    """The bundled engines, shared by every estimator of the process so that each loads once.
    It reads no environment (the core takes the outside world as parameters): to honour
    ``COSTROUTER_VOCAB_<FAMILY>``, pass ``local_counter()``, as the CLI does."""
    return LocalCounter(bundled=True)
