"""schemathesis hooks for ``test_fuzz.py``, loaded by the ``schemathesis run`` it starts (``SCHEMATHESIS_HOOKS``).

- Path parameters: most generated cases aim at objects that exist on the fuzzed server (all parameters together,
  or some of them), read from ``MODELHUB_FUZZ_VALUES`` (JSON: parameter name -> values); the rest stay as
  generated. Otherwise nearly every request would stop at "repo not found".
- The NDJSON commit body: its schema describes the lines as an array; each item goes on its own line.
- One known false alarm dropped: ``POST .../tag/{revision}`` and ``DELETE .../tag/{tag}`` are one URL under two
  templates (their parameter names are pinned, with the operation ids, by ``openapi_operations.txt``), so the
  server's ``Allow: DELETE, POST`` there is right while each template documents one of the two.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

KNOWN: dict[str, list[str]] = json.loads(os.environ.get("MODELHUB_FUZZ_VALUES") or "{}")


@schemathesis.hook
def flatmap_case(context: Any, case: Any) -> Any:
    names = [name for name in case.path_parameters or {} if KNOWN.get(name)]
    if not names:
        return st.just(case)

    def aim(drawn: tuple[str, tuple[str, ...], tuple[bool, ...]]) -> Any:
        how, values, coins = drawn
        for name, value, coin in zip(names, values, coins, strict=True):
            if how == "all" or (how == "some" and coin):
                case.path_parameters[name] = value
        return case

    return st.tuples(
        st.sampled_from(["all", "all", "some", "none"]),
        st.tuples(*(st.sampled_from(KNOWN[name]) for name in names)),
        st.tuples(*(st.booleans() for _ in names)),
    ).map(aim)


# the other method served at the same URL, per template
_SAME_URL = {
    "/api/{plural}/{namespace}/{name}/tag/{revision}": "DELETE",
    "/api/{plural}/{namespace}/{name}/tag/{tag}": "POST",
}


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    if type(failure).__name__ == "AllowHeaderMismatch" and case.operation.path in _SAME_URL:
        return bool(failure.missing_methods) or failure.undocumented_methods != [
            _SAME_URL[case.operation.path]
        ]
    return True


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    lines = value if isinstance(value, list) else [value]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()
