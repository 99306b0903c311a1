"""DEFINE'd variables: `${name}` substitution in tokens and in string literals."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from ksql_emulator.errors import ParseError
from ksql_emulator.parser.tokens import Token, TokenKind, tokenize

__all__ = ["expand_known", "substitute_text", "substitute_tokens"]

_REFERENCE = re.compile(r"\$\{([^}]*)\}")


def _lookup(name: str, variables: Mapping[str, str], tok: Token) -> str:
    for key, value in variables.items():
        if key.upper() == name.strip().upper():
            return value
    raise ParseError(tok.line, tok.col + 1, "${" + name + "}", f"Variable '{name}' is not defined.")


def substitute_text(text: str, variables: Mapping[str, str], tok: Token) -> str:
    """Replace every `${name}` in `text`; an undefined name is an error at `tok`."""
    return _REFERENCE.sub(lambda m: _lookup(m.group(1), variables, tok), text)


def expand_known(text: str, variables: Mapping[str, str]) -> str:
    """`text` with each defined `${name}` replaced, the rest left as written.

    The command topic keeps statements expanded, as ksqlDB does: a server that replays them
    after a restart no longer has the DEFINEs of the session that sent them.
    """
    known = {key.upper(): value for key, value in variables.items()}
    return _REFERENCE.sub(lambda m: known.get(m.group(1).strip().upper(), m.group(0)), text)


def substitute_tokens(tokens: list[Token], variables: Mapping[str, str]) -> list[Token]:
    """Expand VARIABLE tokens into the tokens of their value, keeping the reference's position."""
    if not any(tok.kind is TokenKind.VARIABLE or "${" in tok.text for tok in tokens):
        return tokens
    out: list[Token] = []
    for tok in tokens:
        if tok.kind is TokenKind.VARIABLE:
            value = _lookup(tok.text, variables, tok)
            for sub in tokenize(value)[:-1]:
                out.append(replace(sub, line=tok.line, col=tok.col, start=tok.start, end=tok.end))
        elif tok.kind in (TokenKind.STRING, TokenKind.QUOTED) and "${" in tok.text:
            out.append(replace(tok, text=substitute_text(tok.text, variables, tok)))
        else:
            out.append(tok)
    return out
