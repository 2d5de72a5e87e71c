"""RFC 8785 (JSON Canonicalization Scheme) bytes of signed documents, fast.

Signed documents (quotes) hold only strings, booleans, null, integers within
±(2**53 - 1), lists, and objects whose keys are ASCII. On that subset JCS is exactly:
keys sorted, no whitespace, UTF-8, and the standard library's escaping of '"', '\\' and
control characters (lowercase \\u00xx, short forms for \\b \\t \\n \\f \\r). That is what
`json.dumps` produces in C, several times faster than the `rfc8785` package, which stays
the reference (pricing's `canonical_json_reference`; its tests compare both byte for byte).
A document with data outside the subset (floats, huge integers) must use the reference.
"""

from __future__ import annotations

import json

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def canonical_json(value: object) -> bytes:
    """JCS bytes of JSON data in the signed-document subset (see the module docstring)."""
    return _ENCODER.encode(value).encode("utf-8")
