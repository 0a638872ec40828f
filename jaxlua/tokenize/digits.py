"""Digit order of numbers in outputs and trace values: as printed (`msd`) or least significant first (`lsd`).

`lsd` writes every run of digits reversed, except a run that follows a decimal point (`<digit>.`), which keeps
its order: `-1230` -> `-0321`, `12.75` -> `21.75`, `1e+20` -> `1e+02`; `inf`, `nan`, `-nan` have no digits and
stay. Runs keep their places and their left neighbours, so the same rewrite applied twice gives the text back:
decoding is exact for any text, not only for numbers Lua prints.
"""
from __future__ import annotations

import re

# A maximal run of ASCII digits that does not directly follow "<digit>." (a fractional part).
_INTEGER_RUN = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9]+")


def _reverse(match: re.Match) -> str:
    return match.group()[::-1]


class DigitOrder:
    """How digits are ordered in target text; `encode` before tokenizing, `decode` after."""

    name = "msd"

    def encode(self, text: str) -> str:
        """Text with digits in this order (msd: unchanged)."""
        return text

    def decode(self, text: str) -> str:
        """Inverse of `encode`."""
        return text


class LeastSignificantFirst(DigitOrder):
    """Integer digit runs reversed; the rewrite is its own inverse."""

    name = "lsd"

    def encode(self, text: str) -> str:
        return _INTEGER_RUN.sub(_reverse, text)

    decode = encode


MSD = DigitOrder()
LSD = LeastSignificantFirst()
