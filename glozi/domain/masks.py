"""IRC wildcard masks: ``*`` for any run of characters, ``?`` for one."""

from glozi.domain.names import name_key


def matches(mask: str, text: str) -> bool:
    """Whether ``text`` matches ``mask``, case-insensitively as names compare
    (``CASEMAPPING=ascii``).

    A client writes the mask, so matching takes time proportional to the two
    lengths multiplied, whatever the mask (a regular expression built from
    ``*a*a*a…`` could backtrack for a very long time).
    """
    pattern, subject = name_key(mask), name_key(text)
    p = t = 0
    star = -1
    resume = 0
    while t < len(subject):
        if p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif p < len(pattern) and pattern[p] in ("?", subject[t]):
            p += 1
            t += 1
        elif star >= 0:
            # Let the last star swallow one more character and try again from there.
            resume += 1
            p, t = star + 1, resume
        else:
            return False
    return pattern[p:].strip("*") == ""
