"""Cheap, countable features of a text, for estimating its tokens without a tokenizer.

The text's UTF-8 bytes are mapped to one class byte per character (``bytes.translate`` drops
continuation bytes), and the features are counts of short class patterns in that string and
of a few raw byte prefixes that tell scripts apart. Everything runs at C speed: no regex, no
Python loop over characters. ``tools/fit_text_model.py`` picks features per tokenizer
family from :data:`CANDIDATES` and fits their weights on the calibration texts.

Classes: ``a`` lower-case and ``A`` upper-case ASCII letter, ``d`` digit, `` `` space, ``n``
newline, ``t`` other ASCII white space or control, ``p`` ASCII punctuation; by UTF-8 lead byte:
``x`` other 2-byte letters (Latin, Greek, Hebrew...), ``r`` Cyrillic, ``b`` Arabic, ``i``
U+0800-0FFF (Indic, Thai), ``o`` U+1000-1FFF, ``s`` symbols and compatibility forms, ``k`` CJK
punctuation and kana, ``h`` Han, ``g`` Hangul and U+A000-DFFF, ``e`` 4-byte (emoji, rare Han).
"""

from __future__ import annotations

import bisect


def _class_table() -> bytes:
    table = bytearray(b"t" * 256)
    for byte in range(0x21, 0x7F):
        table[byte] = ord("p")
    for first, last, cls in (
        ("a", "z", "a"),
        ("A", "Z", "A"),
        ("0", "9", "d"),
    ):
        for byte in range(ord(first), ord(last) + 1):
            table[byte] = ord(cls)
    table[ord(" ")] = ord(" ")
    table[ord("\n")] = ord("n")
    lead_bytes = (
        (0xC2, 0xDF, "x"),
        (0xD0, 0xD3, "r"),
        (0xD8, 0xDB, "b"),
        (0xE0, 0xE0, "i"),
        (0xE1, 0xE1, "o"),
        (0xE2, 0xE2, "s"),
        (0xE3, 0xE3, "k"),
        (0xE4, 0xE9, "h"),
        (0xEA, 0xED, "g"),
        (0xEE, 0xEF, "s"),
        (0xF0, 0xF4, "e"),
    )
    for first_byte, last_byte, cls in lead_bytes:
        for byte in range(first_byte, last_byte + 1):
            table[byte] = ord(cls)
    return bytes(table)


CLASS_TABLE = _class_table()
CONTINUATION = bytes(range(0x80, 0xC0))

#: Feature names: ``bytes`` (UTF-8 length), ``raw:HEX`` (a raw byte prefix, telling scripts
#: apart that share a lead byte) or a pattern of class bytes counted without overlap — a run of
#: k letters counts floor(length / k), so runs of several lengths shape the cost of long words.
CANDIDATES: tuple[str, ...] = (
    "bytes",
    *"aAd nt pxrbioskhge",
    *(" a", " A", "pa", "pA", "na", "nA", "aA", "Aa", " Aa", "ad", "da", "pd", " d", "dp", "pp"),
    *("  ", "    ", "          ", "nn", "tt", "pn", "np", "dn", "nd", "d ", " t", "ta", "at"),
    *("aaaa", "aaaaaa", "aaaaaaaa", "aaaaaaaaaaaa", "aaaaaaaaaaaaaaaa", "AA", "AAAA", "AAAAAAAA"),
    *("dd", "ddd", "dddddd", "ddddddddd", "ppp", "pppp"),
    *(" r", "rrrr", "rrrrrrrr", "rp", "pr", " b", "bbbb", " x", "xx", "ax", "xa", "a x", "ar"),
    *(" i", "ii", "iiii", " h", "hh", "hp", "ph", "hk", "kh", "hn", "nh", "ih", "kk", "gg", " g"),
    *("gp", "ee", "eee", "ea", "ae", " e", "e ", "ps", "sp", "a a", "a,", "ap"),
    *("raw:e0b8", "raw:e0b9", "raw:e0a4", "raw:e0a5", "raw:e1ba", "raw:e1bb", "raw:e381"),
    *("raw:e382", "raw:e383", "raw:e380", "raw:efbc", "raw:c3", "raw:c4", "raw:c5", "raw:d7"),
    *("raw:ce", "raw:cf"),
)


def compile_features(names: tuple[str, ...]) -> tuple[tuple[bool, bytes], ...]:
    """Feature names → ``(on_raw_bytes, pattern)`` pairs; ``bytes`` is the empty raw pattern."""
    compiled = []
    for name in names:
        if name == "bytes":
            compiled.append((True, b""))
        elif name.startswith("raw:"):
            compiled.append((True, bytes.fromhex(name[4:])))
        else:
            compiled.append((False, name.encode("ascii")))
    return tuple(compiled)


def count_features(raw: bytes, features: tuple[tuple[bool, bytes], ...]) -> list[int]:
    """The count of every compiled feature in a text's UTF-8 bytes ``raw``."""
    classes = raw.translate(CLASS_TABLE, CONTINUATION)
    return [
        (len(raw) if not pattern else raw.count(pattern)) if on_raw else classes.count(pattern)
        for on_raw, pattern in features
    ]


#: What a text is, read off its class string: (category, conditions), tried in order, the first
#: whose every condition holds wins, else "prose". A condition is (classes, least, most): the
#: share of the characters in those classes. The estimator's margins are fitted per category
#: and length, so a base64 blob no longer widens the range of an English letter.
CATEGORY_RULES: tuple[tuple[str, tuple[tuple[bytes, float, float], ...]], ...] = (
    ("emoji", ((b"e", 0.03, 1.0),)),
    ("cjk", ((b"hkg", 0.2, 1.0),)),
    ("script", ((b"xrbio", 0.2, 1.0),)),
    ("noise", ((b" nt", 0.0, 0.03), (b"A", 0.15, 1.0), (b"a", 0.15, 1.0))),  # base64
    ("ids", ((b" nt", 0.0, 0.03),)),  # hashes, hex, URLs, numbers without spaces
    ("data", ((b"dp", 0.35, 1.0),)),
    ("code", ((b"p", 0.08, 1.0),)),
)
CATEGORIES: tuple[str, ...] = (*(name for name, _ in CATEGORY_RULES), "prose")
#: Length buckets, in characters: a bucket starts at its bound and runs to the next.
LENGTH_BUCKETS: tuple[int, ...] = (0, 100, 1000)


def category(classes: bytes) -> str:
    """The category of a text from its class string (``raw.translate(CLASS_TABLE, CONTINUATION)``)."""
    size = len(classes) or 1
    counts: dict[int, int] = {}
    for name, conditions in CATEGORY_RULES:
        for members, least, most in conditions:
            share = 0
            for member in members:
                found = counts.get(member)
                if found is None:
                    found = counts[member] = classes.count(member)
                share += found
            if not least <= share / size <= most:
                break
        else:
            return name
    return "prose"


def length_bucket(characters: int) -> int:
    """The index in LENGTH_BUCKETS of a text of ``characters`` characters."""
    return bisect.bisect_right(LENGTH_BUCKETS, characters) - 1
