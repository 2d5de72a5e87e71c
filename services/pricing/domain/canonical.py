"""RFC 8785 (JSON Canonicalization Scheme) bytes of quote data, fast.

Quotes hold only strings, booleans, null, integers within ±(2**53 - 1), lists, and objects
whose keys are ASCII (field names and trace input names, both constrained by the models).
On that subset JCS is exactly: keys sorted, no whitespace, UTF-8, and the standard library's
escaping of '"', '\\' and control characters (lowercase \\u00xx, short forms for \\b \\t \\n
\\f \\r). That is what `json.dumps` produces in C, several times faster than the `rfc8785`
package, which stays the reference: `canonical_json_reference` uses it, and the tests
compare both byte for byte on random quotes. The quote models keep their data inside the
subset (no float fields, integers bounded by MAX_SAFE_INTEGER, trace input names matching
[a-z][a-z0-9_]*); a new field outside it must switch to the reference.
"""

from __future__ import annotations

from typing import Any

import rfc8785

from services.common.canonical import canonical_json

__all__ = ["canonical_json", "canonical_json_reference"]


def canonical_json_reference(value: Any) -> bytes:
    """JCS bytes by the `rfc8785` package, for any JSON data; slower."""
    return bytes(rfc8785.dumps(value))
