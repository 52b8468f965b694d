"""Strict, incremental base64 decoding of inline file contents in commits.

Python's ``base64.b64decode`` (without ``validate``) silently drops every character outside the alphabet, so
``"!!!!"`` decodes to nothing; with ``validate=True`` it refuses the line breaks that ``base64.encodebytes`` (and
MIME) put every 76 characters. Here: the alphabet, ``=`` padding only at the very end, and line breaks
(``\\r``, ``\\n``, ``\\t``) ignored; anything else is an error naming the offending character.

``JsonBase64`` decodes the *raw JSON text* of a string (between its quotes, escapes still in it) arriving in
arbitrary pieces: it undoes the escapes a JSON encoder may produce there (``\\n``, ``\\r``, ``\\t``, ``\\/``,
``\\uXXXX``), so a multi-GB content can be decoded while it streams in.
"""

from __future__ import annotations

import binascii
import re

ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VALID = ALPHABET + b"="
_WHITESPACE = b"\r\n\t"
_ESC_WS = re.compile(rb"\\[nrt]")
_ESC_U = re.compile(rb"\\u([0-9a-fA-F]{4})")


class Base64Error(ValueError):
    """Not valid base64 (the message says why)."""


class StrictBase64:
    """Feed base64 text in pieces, get the decoded bytes; ``finish`` checks the end (length, padding)."""

    def __init__(self) -> None:
        self._quantum = b""  # undecoded tail (fewer than 4 characters, or the padded final group)
        self._padded = False

    def feed(self, text: bytes) -> bytes:
        text = text.translate(None, _WHITESPACE)
        if not text:
            return b""
        bad = text.translate(None, _VALID)
        if bad:
            raise Base64Error(f"invalid character {chr(bad[0])!r} in base64 content")
        if self._padded and text.strip(b"="):
            raise Base64Error("base64 content continues after its '=' padding")
        data = self._quantum + text
        eq = data.find(b"=")
        if eq >= 0:
            if data[eq:].strip(b"="):
                raise Base64Error("base64 content continues after its '=' padding")
            self._padded = True
            n = eq - eq % 4
        else:
            n = len(data) - len(data) % 4
        self._quantum = data[n:]
        return binascii.a2b_base64(data[:n]) if n else b""

    def finish(self) -> bytes:
        q, self._quantum = self._quantum, b""
        if not q:
            return b""
        if len(q) != 4 or b"=" in q[:2] or (q[2:3] == b"=" and q[3:] != b"="):
            raise Base64Error(
                "base64 content is truncated or wrongly padded (its length is not a multiple of 4)"
            )
        return binascii.a2b_base64(q)


def decode(text: str | bytes) -> bytes:
    """Decode a whole base64 text strictly (line breaks allowed); raises ``Base64Error``."""
    raw = text.encode("ascii", errors="replace") if isinstance(text, str) else text
    dec = StrictBase64()
    return dec.feed(raw) + dec.finish()


def _unescape_u(m: re.Match[bytes]) -> bytes:
    ch = int(m.group(1), 16)
    if ch < 128 and (bytes([ch]) in _VALID or bytes([ch]) in _WHITESPACE):
        return bytes([ch])
    raise Base64Error(f"invalid character U+{ch:04X} in base64 content")


class JsonBase64(StrictBase64):
    """``StrictBase64`` over the raw text of a JSON string (escapes not yet undone), fed in pieces."""

    def __init__(self) -> None:
        super().__init__()
        self._carry = b""  # an escape sequence split between two pieces

    def feed(self, raw: bytes) -> bytes:
        raw = self._carry + raw
        self._carry = b""
        cut = raw.rfind(b"\\", max(0, len(raw) - 5))
        if cut >= 0:
            tail = raw[cut:]
            if len(tail) == 1 or (tail[1:2] == b"u" and len(tail) < 6):
                raw, self._carry = raw[:cut], tail
        if b"\\" in raw:
            raw = _ESC_WS.sub(b"", raw).replace(b"\\/", b"/")
            if b"\\u" in raw:
                raw = _ESC_U.sub(_unescape_u, raw)
            if b"\\" in raw:
                raise Base64Error("invalid JSON escape in base64 content")
        return super().feed(raw)

    def finish(self) -> bytes:
        if self._carry:
            raise Base64Error("base64 content ends in the middle of a JSON escape")
        return super().finish()
