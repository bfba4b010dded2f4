"""Truth tests: every finding a notebook states holds against its generator's planted truth.

Each test evaluates one lesson on `TRUTH_SEEDS` (fresh worlds) and passes when it holds on at least
`REQUIRED_SHARE` of them. A lesson that fails is rewritten, or its method or plant changed; the
threshold is never loosened.
"""

from __future__ import annotations

from typing import Iterable, Mapping

TRUTH_SEEDS = tuple(range(200))
REQUIRED_SHARE = 0.95


def assert_holds(holds: Mapping[int, bool] | Iterable[bool], lesson: str) -> float:
    """Assert `lesson` holds on at least REQUIRED_SHARE of the seeds; returns the share, for the record."""
    by_seed = dict(holds) if isinstance(holds, Mapping) else dict(enumerate(holds))
    assert by_seed, f"{lesson}: no seeds were evaluated"
    share = sum(bool(v) for v in by_seed.values()) / len(by_seed)
    failing = [seed for seed, ok in by_seed.items() if not ok]
    assert share >= REQUIRED_SHARE, (f"{lesson}: holds on {share:.1%} of {len(by_seed)} seeds "
                                     f"(needs {REQUIRED_SHARE:.0%}); fails on seeds {failing[:12]}")
    return share
