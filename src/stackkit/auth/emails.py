"""`normalize_email`: the one form of an email address that accounts are keyed on.

Every way an address comes in (registration, sign-in, a password-reset request,
the admins' `email=` filter, `stackkit user create`, `UserService` called
directly) goes through `normalize_email`, so that two addresses that look the
same on screen are one account, and an address that hides characters is refused.

The steps, in order:

1. NFKC: compatibility forms become their plain letters (fullwidth `U+FF21` is
   `A`, the ligature `U+FB01` is `fi`, the Kelvin sign `U+212A` is `K`).
2. Surrounding whitespace goes (a space pasted with the address).
3. Refused: format characters (Unicode category Cf: zero-width spaces and joiners
   U+200B-U+200D, the bidirectional marks and controls U+200E-U+200F,
   U+202A-U+202E and U+2066-U+2069, U+FEFF), controls (Cc), any space or
   separator left inside (Zs, Zl, Zp), surrogates, private-use and unassigned
   code points (Cs, Co, Cn). None belongs in an address; each can make two
   addresses look alike, or one look like another (U+202E turns text around).
4. `str.lower()` of the whole address, then NFKC again (lowering can undo it).
   Lower-casing, not `str.casefold()`: case folding turns `ß` into `ss`, a
   different mailbox, and mail (reset links) goes to the stored address. The
   local part is case-sensitive in RFC 5321 in theory only: no provider
   delivers `Ada@` and `ada@` to two people.
5. The shape: one `@`, a non-empty local part, a domain with a dot inside it;
   and RFC 5321's lengths, counted in UTF-8 octets (RFC 6531): at most 64 for
   the local part, 254 for the whole address.

The result is stable: `normalize_email(normalize_email(x)) == normalize_email(x)`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MAX_EMAIL_LENGTH",
    "MAX_LOCAL_PART_LENGTH",
    "EmailFix",
    "InvalidEmail",
    "normalize_email",
    "plan_email_fixes",
]

MAX_LOCAL_PART_LENGTH = 64
"""Octets (UTF-8) of the part before the `@` (RFC 5321, section 4.5.3.1.1)."""
MAX_EMAIL_LENGTH = 254
"""Octets (UTF-8) of the whole address: a 256-octet path less its angle brackets."""

_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible or text-direction character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned character",
    "Zs": "a space",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


class InvalidEmail(ValueError):
    """The text is not an address an account may have; the message says why, in
    words fit for a 422's `errors[].message`."""


def normalize_email(email: str, *, partial: bool = False) -> str:
    """The normalised form of `email` (see the module's docstring for the steps).

    Args:
        email: what the client sent.
        partial: `email` is a part of an address (a search term): fold it the same
            way and refuse the same characters, but do not require the shape of
            an address or check its lengths.

    Raises:
        InvalidEmail: `email` holds a character no address may hold, is not an
            address, or is too long.
    """
    text = unicodedata.normalize("NFKC", email).strip()
    for char in text:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES:
            raise InvalidEmail(
                f"An email address cannot contain {_REFUSED_CATEGORIES[category]} "
                f"(U+{ord(char):04X})."
            )
    text = unicodedata.normalize("NFKC", text.lower())
    if not partial:
        _check_shape(text)
    return text


def _check_shape(email: str) -> None:
    local, at, domain = email.rpartition("@")
    if not at or not local or "@" in local or not _is_domain(domain):
        raise InvalidEmail("An email address needs one @ and a domain with a dot in it.")
    if len(local.encode()) > MAX_LOCAL_PART_LENGTH:
        raise InvalidEmail(f"The part before the @ is longer than {MAX_LOCAL_PART_LENGTH} bytes.")
    if len(email.encode()) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"An email address is at most {MAX_EMAIL_LENGTH} bytes long.")


def _is_domain(domain: str) -> bool:
    # Enough to refuse what is not an address; the mail server has the last word.
    name, dot, top = domain.rpartition(".")
    return bool(name and dot and top)


@dataclass(frozen=True)
class EmailFix:
    """A stored email that is not in its normal form, and what to do about it."""

    id: int
    """The user's id."""
    stored: str
    """The email as stored."""
    normalized: str | None
    """Its normal form; None when `normalize_email` refuses it."""
    problem: str | None = None
    """Why it cannot simply take its normal form (refused, or another user has it);
    None when it can."""

    @property
    def fixable(self) -> bool:
        return self.normalized is not None and self.problem is None


def plan_email_fixes(rows: Iterable[tuple[int, str]]) -> list[EmailFix]:
    """The fixes that `rows` (each user's id and stored email) need, by id: every row
    whose stored email is not its own normal form. A row whose normal form another
    row holds, or that several rows share, is a conflict for a person to settle
    (merge the accounts, or delete one); so is an email that is refused."""
    rows = list(rows)
    normal: dict[int, str | None] = {}
    errors: dict[int, str] = {}
    holders: dict[str, list[int]] = {}
    for id, stored in rows:
        try:
            form = normalize_email(stored)
        except InvalidEmail as error:
            normal[id], errors[id] = None, str(error)
            continue
        normal[id] = form
        holders.setdefault(form, []).append(id)
    fixes = []
    for id, stored in sorted(rows):
        target = normal[id]
        if target == stored:
            continue
        if target is None:
            fixes.append(EmailFix(id, stored, None, f"refused: {errors[id]}"))
            continue
        others = [other for other in holders[target] if other != id]
        problem = f"same normal form as user {', '.join(map(str, others))}" if others else None
        fixes.append(EmailFix(id, stored, target, problem))
    return fixes
