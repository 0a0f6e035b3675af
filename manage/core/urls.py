"""Database URLs as users write them: masking the password for display, finding it to scrub
driver messages, the dialect. Standard library plus SQLAlchemy's URL parser (imported late)."""

from __future__ import annotations

import re

# user:password@host in a URL too broken to parse: from the colon after the user to the *last* "@"
# (a password may hold "/" or "@"); without "://", from the first colon.
_PASSWORD_AFTER_SCHEME = re.compile(r"(?P<head>://[^:/@]*:)(?P<password>.*)@")
_PASSWORD_AFTER_COLON = re.compile(r"(?P<head>:)(?P<password>.*)@")
_PASSWORD_QUERY_KEYS = frozenset({"password", "passwd", "pwd"})


def mask_url(url: str | None) -> str:
    """Render ``url`` with any password (also a ``?password=`` one) replaced by ``***``, even when
    the URL does not parse."""
    if not url:
        return ""
    if has_unencoded_at(url):  # which '@' ends the password is a guess: show no part of it
        scheme, _, rest = url.partition("://")
        host = re.split(r"[/?]", rest.rpartition("@")[2], maxsplit=1)[0]
        return f"{scheme}://***@{host}"
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        pattern = _PASSWORD_AFTER_SCHEME if "://" in url else _PASSWORD_AFTER_COLON
        url = pattern.sub(r"\g<head>***@", url)
        return re.sub(r"(?i)((?:password|passwd|pwd)=)[^&\s]*", r"\1***", url)
    hidden = {k: "***" for k in parsed.query if k.lower() in _PASSWORD_QUERY_KEYS}
    rendered = parsed.update_query_dict(hidden).render_as_string(hide_password=True)
    return rendered.replace("=%2A%2A%2A", "=***")


def has_unencoded_at(url: str) -> bool:
    """Whether ``url``'s user and password part holds more than one '@' (a password with an
    '@' that is not percent-encoded): where the password ends cannot be told."""
    scheme, found, rest = url.strip().partition("://")
    if not found:
        return False
    if scheme.startswith("sqlite"):  # no password; a path may hold '@'s
        return False
    # SQLAlchemy ends the password at the first '@' and lets '/', '#' and '?' into the password
    # and the host, so every '@' counts (one in a query only makes the user part hidden too).
    return rest.count("@") > 1


def url_password(url: str | None) -> str | None:
    """The password inside ``url``, so error texts from drivers can be scrubbed of it."""
    if not url:
        return None
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        pattern = _PASSWORD_AFTER_SCHEME if "://" in url else _PASSWORD_AFTER_COLON
        match = pattern.search(url)
        return match.group("password") if match else None
    for key, value in parsed.query.items():
        if key.lower() in _PASSWORD_QUERY_KEYS and value:
            return str(value if isinstance(value, str) else value[0])
    return str(parsed.password) if parsed.password else None


def dialect_of(url: str) -> str:
    """The backend name of a URL that already passed validation."""
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()
