"""How a text splits into tokens, for showing it: each token's id and the text it stands for.

A byte-level BPE token can hold part of a UTF-8 character (CJK and emoji often take two or three
tokens each). Such a token has no text of its own: it is shown as its bytes (`‹e4 bd›`) and
marked `partial`, so every token stays visible and the boundaries stay honest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Splits(Protocol):
    """A tokenizer that can show its tokens: the local Tokenizer and tokens.Encoding both are."""

    def tokenize(self, text: str) -> list[int]: ...

    def piece(self, token_id: int) -> bytes: ...


@dataclass(frozen=True)
class TokenPiece:
    id: int
    text: str  # the token's text, or its bytes as ‹hex› when they are not whole characters
    partial: bool = False


def pieces(tokenizer: Splits, text: str, limit: int | None = None) -> tuple[list[TokenPiece], int]:
    """The first `limit` tokens of `text` (all when None) as Pieces, and the total token count."""
    ids = tokenizer.tokenize(text)
    shown = ids if limit is None else ids[:limit]
    return [piece_of(i, tokenizer.piece(i)) for i in shown], len(ids)


def piece_of(token_id: int, data: bytes) -> TokenPiece:
    try:
        return TokenPiece(token_id, data.decode("utf-8"))
    except UnicodeDecodeError:
        return TokenPiece(token_id, "‹" + data.hex(" ") + "›", partial=True)
