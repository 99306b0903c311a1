"""ksqlDB's encoding built-ins: ENCODE, TO_BYTES, FROM_BYTES, CHR (encode.json, chr.json)."""

from __future__ import annotations

import base64
import binascii
import re

from ksql_emulator import sql_types as ty
from ksql_emulator.functions.registry import FunctionRegistry

__all__ = ["register"]

S, B, INT = ty.STRING, ty.BYTES, ty.INTEGER

_ENCODINGS = ("hex", "utf8", "ascii", "base64")


def _to_bytes(text: str, encoding: str) -> bytes:
    enc = encoding.lower()
    if enc == "hex":
        return _unhex(text)
    if enc == "utf8":
        return text.encode("utf-8")
    if enc == "ascii":
        return text.encode("ascii", errors="replace")
    if enc == "base64":
        return base64.b64decode(text)
    raise ValueError(f"Supported input and output encodings are: {', '.join(_ENCODINGS)}")


def _unhex(text: str) -> bytes:
    # ksqlDB accepts 0x-prefixed (odd length padded) and X'..' literals as well as bare hex.
    if text[:2] in ("0x", "0X"):
        digits = text[2:]
        if len(digits) % 2:
            digits = "0" + digits
    elif text[:2] in ("X'", "x'"):
        if len(text) < 3 or not text.endswith("'"):
            raise ValueError(f"Invalid hex literal: {text}")
        digits = text[2:-1]
    else:
        digits = text
    return binascii.unhexlify(digits)


def _from_bytes(data: bytes, encoding: str) -> str:
    enc = encoding.lower()
    if enc == "hex":
        return data.hex()
    if enc == "utf8":
        return data.decode("utf-8", errors="replace")
    if enc == "ascii":
        return "".join(chr(b) if b < 128 else "\ufffd" for b in data)
    if enc == "base64":
        return base64.b64encode(data).decode("ascii")
    raise ValueError(f"Supported input and output encodings are: {', '.join(_ENCODINGS)}")


_BASE16 = re.compile(r"(?:[0-9A-F]{2})*")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")


def _bytes_of_text(text: str, encoding: str) -> bytes:
    """TO_BYTES: ksqlDB decodes hex as upper-case base 16 (an even number of 0-9, A-F digits,
    nothing else) and base64 as MIME does (characters outside the alphabet skipped)."""
    enc = encoding.lower()
    if enc == "hex":
        if not _BASE16.fullmatch(text):
            raise ValueError(f"Invalid upper-case base 16 text: {text!r}")
        return bytes.fromhex(text)
    if enc == "base64":
        return base64.b64decode(_NOT_BASE64.sub("", text))
    return _to_bytes(text, encoding)


def _text_of_bytes(data: bytes, encoding: str) -> str:
    """FROM_BYTES: hex comes out as upper-case base 16, base64 as MIME writes it (a CRLF after
    every 76 characters)."""
    enc = encoding.lower()
    if enc == "hex":
        return data.hex().upper()
    if enc == "base64":
        text = base64.b64encode(data).decode("ascii")
        return "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    return _from_bytes(data, encoding)


def _encode(text: str, in_enc: str, out_enc: str) -> str | None:
    if in_enc.lower() not in _ENCODINGS or out_enc.lower() not in _ENCODINGS:
        return None
    return _from_bytes(_to_bytes(text, in_enc), out_enc)


def _chr_int(code: int) -> str | None:
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return None


def _chr_str(code: str) -> str | None:
    if not code.startswith("\\u"):
        return None
    try:
        units = [int(part, 16) for part in code.split("\\u")[1:]]
    except ValueError:
        return None
    raw = b"".join(u.to_bytes(2, "big") for u in units)
    return raw.decode("utf-16-be", errors="surrogatepass")


def register(reg: FunctionRegistry) -> None:
    """Add the encoding functions to `reg`."""
    add = reg.register
    cat = "STRING"
    add(
        "ENCODE",
        [S, S, S],
        S,
        _encode,
        category=cat,
        description="Re-encodes a string between hex, utf8, ascii and base64.",
    )
    add(
        "TO_BYTES",
        [S, S],
        B,
        _bytes_of_text,
        category=cat,
        description="A string to bytes in an encoding (hex, utf8, ascii, base64).",
    )
    add(
        "FROM_BYTES",
        [B, S],
        S,
        _text_of_bytes,
        category=cat,
        description="Bytes to a string in an encoding (hex, utf8, ascii, base64).",
    )
    add("CHR", [INT], S, _chr_int, category=cat, description="The character of a code point.")
    add("CHR", [S], S, _chr_str, category=cat)
