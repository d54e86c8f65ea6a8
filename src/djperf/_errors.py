"""Errors inside djperf never break the code it watches.

djperf runs inside other people's requests and test suites: a hook or a rule
that raises falls back to Django's own behaviour (or to the other rules), and
the error is logged once per place on the ``djperf`` logger so it can be
reported, without flooding a busy process with the same traceback.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("djperf")

_reported: set[str] = set()


def contain(where: str) -> None:
    """Log the exception being handled, once per `where`, and carry on.

    Call it from an ``except Exception`` block, then fall back to the
    behaviour djperf would have without the hook.
    """
    if where in _reported:
        logger.debug("djperf: error in %s hook (repeated)", where, exc_info=True)
        return
    _reported.add(where)
    logger.error(
        "djperf: internal error in the %s hook; the event was not recorded. "
        "Please report it with this traceback.",
        where,
        exc_info=True,
    )
