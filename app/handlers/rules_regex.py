"""Regexes as the standard ``re`` reads them: the language of a rule's patterns on both sides of *Export as Python*.

*Export as Python* embeds this module's source after ``app.handlers.rules_core``'s (the import of that module
dropped), so it imports only the standard library and has no ``from __future__`` import. The console runs
patterns with the ``regex`` library for its timeout, after ``compile_re`` accepted them.
"""

import re
import warnings

from app.handlers.rules_core import BadPattern, pattern_error


def search_re(pattern: str, text: str) -> bool:
    """A ``Search`` with the standard ``re`` module (no timeout: a catastrophic pattern can run for ever)."""
    return compile_re(pattern).search(text) is not None


def compile_re(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled by the standard ``re``, which both callers accept as the language of patterns (the
    console then runs it with the ``regex`` library, for its timeout). ``BadPattern`` when ``re`` refuses it,
    warns about it (``[[:alpha:]]``, a POSIX class to ``regex``, is a nested set to ``re``), or when it holds a
    fuzzy constraint such as ``{e<=1}``, which ``regex`` applies and ``re`` reads as literal text."""
    if _FUZZY.search(_CLASS.sub("", pattern)):
        raise BadPattern(
            f"bad regex {pattern!r}: a {{...}} with e, i, d or s is a fuzzy match, which Python's re does not have"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return re.compile(pattern, re.UNICODE)  # not flags 0: a cached compile would skip the warning
    except (re.error, Warning, RecursionError, MemoryError, OverflowError) as exc:
        raise pattern_error("regex", pattern, exc) from None


_CLASS = re.compile(r"\[\^?\]?(?:\\.|[^\]\\])*\]")  # a character class, where braces are literal
_FUZZY = re.compile(r"(?<!\\)(?<!\\N)\{[^{}]*?(?<![A-Za-z])[eids](?![A-Za-z])[^{}]*\}")
