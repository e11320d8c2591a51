"""How text reads to a person or a model, for the one question `text.clean` asks: does this imitate a fence?

`fold` reads a character as the plain lowercase ASCII it looks like: compatibility forms (fullwidth,
small, circled, mathematical letters: what NFKD maps) become their base letter, accents and other
combining marks are dropped, Cyrillic, Greek, Armenian, Cherokee and Lisu look-alikes of the letters
a fence is spelled with become those letters, look-alikes of `<`, `/`, `-` and `_` become those
characters, and characters that do not show (zero-width, bidi controls, tag characters) disappear.
The table covers the letters of `untrusted-data` and the punctuation around it; it is not a general
confusables table, and need not be: only a fence has to be recognised.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator

HOMOGLYPHS: dict[str, str] = {
    **dict.fromkeys("аАαΑɑᎪꓮᴀ", "a"),
    **dict.fromkeys("ԁᎠꓓᑯɗᴅ", "d"),
    **dict.fromkeys("еЕεΕᎬꓰҽ℮ᴇɛ", "e"),
    **dict.fromkeys("ոռпΝηꓠɴ", "n"),
    **dict.fromkeys("гᴦᎡꓣʀɾ", "r"),
    **dict.fromkeys("ѕЅᏚꓢꜱʂ", "s"),
    **dict.fromkeys("тТτΤᎢꓔᴛ", "t"),
    **dict.fromkeys("υսՍᴜꓴʋ", "u"),
    **dict.fromkeys("<˂ᐸ❮〈〈⟨⧼", "<"),
    **dict.fromkeys("/⁄∕⧸╱⟋〳", "/"),
    **dict.fromkeys("‐‑‒–—―⁃−﹘˗֊", "-"),
    **dict.fromkeys("‗", "_"),
}
"""Look-alikes NFKD does not map, by what they imitate (after casefolding)."""

LESS_THAN = "".join(sorted({c for c, v in HOMOGLYPHS.items() if v == "<"} | {"\u226e", "\ufe64", "\uff1c"}))
"""Every character that reads as `<` (a test checks this against the Unicode database)."""

OPENER = re.compile(f"[{re.escape(LESS_THAN)}]|&lt;?|&#0*60;?|&#x0*3c;?", re.IGNORECASE)
"""Where an imitation of a fence tag can start: a look-alike of `<`, or an HTML character reference to it."""


@functools.lru_cache(maxsize=8192)
def fold(ch: str) -> str:
    """What one character reads as: its plain lowercase look-alike, or "" when it does not show."""
    if ch in HOMOGLYPHS:
        return HOMOGLYPHS[ch]
    category = unicodedata.category(ch)
    if category in ("Cf", "Mn", "Me", "Cs") or ch in _BLANK or (category == "Cc" and not ch.isspace()):
        return ""
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    return "".join(HOMOGLYPHS.get(c, c) for c in base.casefold())


_BLANK = frozenset("\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")
"""Letters and marks that show as nothing (Hangul fillers, Khmer inherent vowels, braille blank, ...)."""


SCAN = 4096


def reads_as_fence_tag(text: str, start: int) -> bool:
    """Whether `text[start:]` reads as the name of a fence tag, `/untrusted-data` or `untrusted-data` (spaces,
    `_` or nothing between the words; spaces before and after the `/`), once folded. Reading stops at the first
    character that cannot continue the name, or after `SCAN` source characters, so a run of invisible characters
    costs bounded work (and a tag spread over more than that shows as that many visible `[U+XXXX]` codes, which
    no reader takes for a tag)."""
    first = text[start : start + 1]
    if first.isascii() and first.isprintable() and first not in " /uU":  # what almost every `<` is followed by
        return False
    chars = _folded(text, start)
    c = next(chars, "")
    while c.isspace():
        c = next(chars, "")
    if c == "/":
        c = next(chars, "")
        while c.isspace():
            c = next(chars, "")
    for want in "untrusted":
        if c != want:
            return False
        c = next(chars, "")
    while c and (c in "-_" or c.isspace()):
        c = next(chars, "")
    for want in "data":
        if c != want:
            return False
        c = next(chars, "")
    return True


def _folded(text: str, start: int) -> Iterator[str]:
    for i in range(start, min(len(text), start + SCAN)):
        yield from fold(text[i])
