"""What rate limiting looks like in code: limiter, throttle, quota and gateway names."""

from __future__ import annotations

import re

_LIMIT = re.compile(r"limit|throttl|quota|rate_?limit|gateway|guard|ratelimit", re.IGNORECASE)


def is_limit_text(text: str) -> bool:
    """Whether a name (decorator, dependency, middleware, call) says it limits traffic."""
    return _LIMIT.search(text) is not None
