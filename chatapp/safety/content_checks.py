"""Content checks: what in a piece of text deserves a second look, and what to do about it.

Three categories, each a set of *kinds* of finding:

- personal data: e-mail addresses, phone numbers (``phonenumbers``), card numbers that pass
  the Luhn check, IBANs that pass their checksum, US social security numbers (``python-stdnum``);
- dangerous code: deleting everything, piping a download into a shell, eval/exec of input,
  fork bombs, overwriting a disk, opening up permissions on ``/``;
- uncertainty: phrases in which the model says it is unsure of the facts.

Every check prefers to miss a doubtful case than to cry wolf: numbers must pass their
checksums, reserved example domains are no one's address, and "I'm not sure what you mean"
is a question, not doubt about facts.

Pure functions over text and Messages API content blocks; no database and no I/O. The
deployment's policy (which action for which kind, the region of phone numbers) comes in as a
``policy.ContentPolicy`` (built from settings at the edges: ``chatapp/policies/safety.py``);
``chatapp/safety/flags.py`` stores what was found.
"""

import bisect
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import phonenumbers
from stdnum import iban, luhn
from stdnum.us import ssn

from chatapp.models import FlagAction, FlagCategory

OFF = "off"


@dataclass(frozen=True)
class Kind:
    name: str
    category: str
    label: str  # as in "[redacted: card number]"
    explanation: str  # shown on hover, after "This reply contains …"


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("email", FlagCategory.PERSONAL_DATA, "e-mail address", "an e-mail address"),
        Kind("phone", FlagCategory.PERSONAL_DATA, "phone number", "a phone number"),
        Kind("card_number", FlagCategory.PERSONAL_DATA, "card number",
             "a payment card number (it passes the Luhn check)"),
        Kind("iban", FlagCategory.PERSONAL_DATA, "IBAN",
             "a bank account number (an IBAN with a valid checksum)"),
        Kind("us_ssn", FlagCategory.PERSONAL_DATA, "social security number",
             "a US social security number"),
        Kind("delete_everything", FlagCategory.DANGEROUS_CODE, "dangerous command",
             "a command that deletes everything (rm -rf on / or the home folder)"),
        Kind("pipe_to_shell", FlagCategory.DANGEROUS_CODE, "dangerous command",
             "a command that runs a download unseen (piped into a shell)"),
        Kind("eval_input", FlagCategory.DANGEROUS_CODE, "dangerous code",
             "code that runs its input (eval/exec): whoever writes the input runs code"),
        Kind("fork_bomb", FlagCategory.DANGEROUS_CODE, "dangerous command",
             "a fork bomb, which freezes the machine"),
        Kind("disk_overwrite", FlagCategory.DANGEROUS_CODE, "dangerous command",
             "a command that overwrites a whole disk"),
        Kind("open_permissions", FlagCategory.DANGEROUS_CODE, "dangerous command",
             "a command that makes every file writable by everyone"),
        Kind("unsure", FlagCategory.UNCERTAINTY, "unsure statement",
             "a statement Claude itself is unsure of: check the facts"),
    )
}

# When two findings overlap, the earlier kind in this order wins: a card number is not also
# a phone number, nor an IBAN's digits a card number.
_PRIORITY = {name: index for index, name in enumerate(KINDS)}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str

    @property
    def category(self) -> str:
        return KINDS[self.kind].category


# --- Personal data ------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})\b"
    # "git@github.com:owner/repo" is an scp-style address, not mail.
    r"(?!:[\w~/.])"
)
# RFC 2606 / 6761 names that can never be anyone's mailbox.
_RESERVED_DOMAIN = re.compile(
    r"(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid|localhost)$", re.IGNORECASE
)
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# Issuer prefixes of the card networks (Visa, Mastercard, Amex, Diners, Discover, JCB,
# UnionPay): a Luhn-valid run of digits without one is more likely an order number.
_CARD_ISSUER = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3(?:0[0-5]|[68])|6(?:011|5|4[4-9])|35|62)")
# The digits of a mistyped IBAN ("DE89 3704 …") are not a card number either.
_AFTER_IBAN_START = re.compile(r"[A-Z]{2}\d{2} ?$")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_SSN = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")


def _emails(text: str) -> Iterator[tuple[int, int]]:
    for match in _EMAIL.finditer(text):
        if not _RESERVED_DOMAIN.search(match.group(1)):
            yield match.span()


def _phones(text: str, region: str) -> Iterator[tuple[int, int]]:
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        # A bare run of digits is more often an id or a timestamp than a phone number.
        if match.raw_string.isdigit():
            continue
        yield match.start, match.end


def _card_numbers(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if _AFTER_IBAN_START.search(text[max(0, match.start() - 5) : match.start()]):
            continue
        if 13 <= len(digits) <= 19 and _CARD_ISSUER.match(digits) and luhn.is_valid(digits):
            yield match.span()


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for match in _IBAN.finditer(text):
        # The pattern may run into a following capitalised word: shorten until it checks out.
        candidate = match.group()
        while len(candidate.replace(" ", "")) >= 15:
            if iban.is_valid(candidate):
                yield match.start(), match.start() + len(candidate)
                break
            candidate = candidate[:-1].rstrip()


def _ssns(text: str) -> Iterator[tuple[int, int]]:
    for match in _SSN.finditer(text):
        if ssn.is_valid(match.group()):
            yield match.span()


# --- Dangerous code and uncertainty: patterns as data -----------------------------------------

_SHELL = r"(?:sudo\s+(?:-\S+\s+)*)?(?:ba|z|k|da)?sh\b"
_PATTERNS: dict[str, list[str]] = {
    "delete_everything": [
        r"\brm\s+(?:-{1,2}[\w-]+\s+)*(?:-\w*[rR]\w*|--recursive)\s+(?:-{1,2}[\w-]+\s+)*"
        r"(?:/\*?|~/?\*?|\$HOME/?\*?|\$\{HOME\}/?\*?)(?=$|[\s;&|)`'\"])",
    ],
    "pipe_to_shell": [
        rf"\b(?:curl|wget)\b[^|\n]*\|\s*{_SHELL}",
        r"\b(?:curl|wget)\b[^|\n]*\|\s*(?:sudo\s+)?(?:python3?|perl|ruby)\b(?!\s+-m\s+json)",
        r"\b(?:ba|z)?sh\s+(?:-c\s+)?[\"']?\$\(\s*(?:curl|wget)\b",
        r"\b(?:ba|z)?sh\s+<\(\s*(?:curl|wget)\b",
        r"\b(?:iex|Invoke-Expression)\b[^\n]*\b(?:DownloadString|Invoke-WebRequest|iwr|irm|"
        r"Invoke-RestMethod)\b",
        r"\b(?:iwr|irm|Invoke-WebRequest|Invoke-RestMethod)\b[^|\n]*\|\s*(?:iex|Invoke-Expression)\b",
    ],
    "eval_input": [
        r"\b(?:eval|exec)\s*\(\s*(?:input|raw_input)\s*\(",
        r"\b(?:eval|exec)\s*\(\s*(?:request\.|req\.|sys\.argv|os\.environ|params\b|"
        r"location\.|document\.location|window\.location|prompt\s*\()",
        r"\b(?:os\.system|os\.popen|subprocess\.\w+)\s*\(\s*(?:input|raw_input)\s*\(",
        r"\beval\s*\(\s*\$_(?:GET|POST|REQUEST|COOKIE)\b",
        r"\beval\s+[\"']?\$(?:\{?[1-9@*]\}?)",
    ],
    "fork_bomb": [r":\s*\(\s*\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:"],
    "disk_overwrite": [
        r"\bmkfs(?:\.\w+)?\s+(?:-\S+\s+)*/dev/(?:sd|hd|vd|xvd|nvme|mmcblk)\w*",
        r"\bdd\b[^\n]*\bof=/dev/(?:sd|hd|vd|xvd|nvme|mmcblk)\w*",
        r">\s*/dev/(?:sd[a-z]|hd[a-z]|nvme\d\w*)\b",
    ],
    "open_permissions": [
        r"\bchmod\s+(?:-\w+\s+)*(?:0?777|a\+rwx|ugo\+rwx)\s+(?:-\w+\s+)*/\*?(?=$|[\s;&|])",
    ],
    "unsure": [
        r"\bI(?:'m|’m| am) not (?:entirely |completely |totally |fully |100% |quite )?"
        r"(?:sure|certain)\b"
        # "I'm not sure what you mean" asks for clarity; it is no doubt about facts.
        r"(?!\s+(?:what|which|who|how)\s+you\b|\s+I\s+(?:understand|follow)\b)",
        r"\bI (?:may|might|could) be (?:wrong|mistaken|misremembering|incorrect)\b",
        r"\bif I (?:recall|remember) correctly\b",
        r"\bto the best of my (?:knowledge|recollection)\b",
        r"\b(?:as of|since) my (?:last )?(?:knowledge|training) (?:cutoff|cut-off|update)\b",
        r"\bI (?:can(?:no|'|’)t|am unable to|am not able to) (?:verify|confirm) (?:this|that|"
        r"whether|if|the exact)\b",
        r"\bI (?:don't|don’t|do not) have (?:reliable|accurate|verified|up-to-date|current) "
        r"information\b",
        r"\b(?:double-check|verify) (?:this|these) (?:information|facts|figures|numbers|dates)\b",
    ],
}
# A kind's patterns are tried only when the text holds one of these words (lower case): most
# replies hold none, and a substring test is far cheaper than the patterns.
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "delete_everything": ("rm ",),
    "pipe_to_shell": ("curl", "wget", "iex", "invoke-"),
    "eval_input": ("eval", "exec", "system", "popen", "subprocess"),
    "disk_overwrite": ("/dev/",),
    "open_permissions": ("chmod",),
}
# One pass per kind: its patterns joined into one alternation.
_COMPILED = {
    kind: re.compile(
        "|".join(f"(?:{pattern})" for pattern in patterns),
        re.IGNORECASE if kind == "unsure" else 0,
    )
    for kind, patterns in _PATTERNS.items()
}


def _pattern_finder(kind: str) -> Callable[[str], Iterator[tuple[int, int]]]:
    def find(text: str) -> Iterator[tuple[int, int]]:
        triggers = _TRIGGERS.get(kind)
        if triggers:
            lowered = text.lower()
            if not any(word in lowered for word in triggers):
                return
        for match in _COMPILED[kind].finditer(text):
            yield match.span()

    return find


_FINDERS: dict[str, Callable[[str], Iterable[tuple[int, int]]]] = {
    "email": _emails,
    "card_number": _card_numbers,
    "iban": _ibans,
    "us_ssn": _ssns,
    **{kind: _pattern_finder(kind) for kind in _PATTERNS},
}


def find(
    text: str, kinds: Iterable[str] | None = None, *, phone_region: str = "US"
) -> list[Finding]:
    """Everything the checks find in ``text``, in reading order, without overlaps.

    ``phone_region``: where a phone number written without a country code is from."""
    wanted = KINDS if kinds is None else kinds
    candidates = sorted(
        (
            Finding(kind, start, end, text[start:end])
            for kind in wanted
            for start, end in (
                _phones(text, phone_region) if kind == "phone" else _FINDERS[kind](text)
            )
        ),
        key=lambda f: (_PRIORITY[f.kind], f.start),
    )
    # Kept findings never overlap, so in start order only the neighbours can clash: a text
    # full of addresses stays O(n log n).
    kept: list[Finding] = []
    starts: list[int] = []
    for finding in candidates:
        at = bisect.bisect_left(starts, finding.start)
        if at > 0 and kept[at - 1].end > finding.start:
            continue
        if at < len(kept) and kept[at].start < finding.end:
            continue
        kept.insert(at, finding)
        starts.insert(at, finding.start)
    return kept


# --- Policy: which action for which kind -------------------------------------------------------

_ACTIONS = {*FlagAction.values, OFF}


class PolicyError(ValueError):
    """CHATAPP_CONTENT_ACTIONS names a kind, category or action that does not exist."""


def build_policy(rules: Mapping[str, str]) -> dict[str, str]:
    """Action per kind from ``{kind or category: action}``; a kind beats its category."""
    for name, action in rules.items():
        if name not in KINDS and name not in FlagCategory.values:
            known = ", ".join([*FlagCategory.values, *KINDS])
            raise PolicyError(f"Unknown content check {name!r}; known: {known}.")
        if action not in _ACTIONS:
            raise PolicyError(
                f"Unknown action {action!r} for {name}; use flag, redact, withhold or off."
            )
    return {
        kind.name: rules.get(kind.name, rules.get(kind.category, FlagAction.FLAG))
        for kind in KINDS.values()
    }


@functools.cache
def _built(rules: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    return MappingProxyType(build_policy(dict(rules)))


def actions_for(rules: Mapping[str, str]) -> Mapping[str, str]:
    """``build_policy``, remembered per rules (read-only): every reply's final write needs the
    policy, and building it is ~0.5 ms of Python (issue 18). Other rules are another key."""
    return _built(tuple(rules.items()))


# --- Reviewing a reply -----------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """A finding and what was done about it."""

    finding: Finding
    action: str


@dataclass
class Review:
    content: list[dict[str, Any]]  # what is stored and shown
    flags: list[Flag] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(flag.action != FlagAction.FLAG for flag in self.flags)

    @property
    def withheld(self) -> bool:
        return any(flag.action == FlagAction.WITHHOLD for flag in self.flags)

    def summary(self) -> list[dict[str, Any]]:
        """One entry per (kind, action), for the badge: [{"kind", "action", "count"}]."""
        counts = Counter((flag.finding.kind, flag.action) for flag in self.flags)
        return [
            {"kind": kind, "action": action, "count": count}
            for (kind, action), count in counts.items()
        ]


def redact(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with each finding replaced by ``[redacted: <label>]``."""
    pieces, done = [], 0
    for finding in sorted(findings, key=lambda f: f.start):
        pieces += [text[done : finding.start], f"[redacted: {KINDS[finding.kind].label}]"]
        done = finding.end
    return "".join([*pieces, text[done:]])


def withheld_notice(flags: Iterable[Flag]) -> str:
    labels = sorted(
        {KINDS[flag.finding.kind].label for flag in flags if flag.action == FlagAction.WITHHOLD}
    )
    return f"[withheld: {', '.join(labels)}]"


def review(
    content: list[dict[str, Any]], policy: Mapping[str, str], *, phone_region: str = "US"
) -> Review:
    """Check every text block of ``content`` and apply the policy's actions (action per kind,
    ``build_policy``)."""
    wanted = [kind for kind, action in policy.items() if action != OFF]
    flags: list[Flag] = []
    screened = []
    for block in content:
        if block.get("type") != "text" or not block.get("text") or not wanted:
            screened.append(block)
            continue
        found = [Flag(f, policy[f.kind])
                 for f in find(block["text"], wanted, phone_region=phone_region)]
        flags.extend(found)
        redacted = [flag.finding for flag in found if flag.action == FlagAction.REDACT]
        screened.append({**block, "text": redact(block["text"], redacted)} if redacted else block)
    result = Review(content=screened, flags=flags)
    if result.withheld:
        result.content = [{"type": "text", "text": withheld_notice(flags)}]
    return result


def describe(summary: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A message's flag summary with the words the browser shows."""
    described = []
    for entry in summary:
        kind = KINDS.get(entry.get("kind", ""))
        if kind is None:  # a kind since retired: nothing sensible to say
            continue
        described.append(
            {
                "kind": kind.name,
                "category": kind.category,
                "category_label": FlagCategory(kind.category).label,
                "label": kind.label,
                "explanation": kind.explanation,
                "action": entry.get("action", FlagAction.FLAG),
                "count": entry.get("count", 1),
            }
        )
    return described
