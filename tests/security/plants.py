"""The 26 kinds of secrets and trading identifiers the outside-in campaign plants.

Why generated, not listed: each (kind, entry point) pair gets its own value, so a value found in
a sink says which door it came through. Values with check digits (card numbers, ISIN, LEI,
CUSIP, SEDOL) are computed, so they are valid identifiers a real detector must recognise.
Each plant has the *needle* (the raw value that must never appear in a sink) and the *text* it is
planted in (the shape it has in real alert text, logs or JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Family = Literal["secret", "trading"]


@dataclass(frozen=True)
class Plant:
    kind: str
    family: Family
    entry: str
    needle: str
    text: str


def luhn_digit(body: str) -> str:
    """The Luhn check digit for `body` (digits only)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def _alnum_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch.upper()) - 55


def isin_digit(body: str) -> str:
    digits = "".join(str(_alnum_value(c)) for c in body)
    return luhn_digit(digits)


def lei_digits(body: str) -> str:
    number = int("".join(str(_alnum_value(c)) for c in body) + "00")
    return f"{98 - number % 97:02d}"


def cusip_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(body):
        v = _alnum_value(ch)
        if i % 2 == 1:
            v *= 2
        total += v // 10 + v % 10
    return str((10 - total % 10) % 10)


def sedol_digit(body: str) -> str:
    weights = (1, 3, 1, 7, 3, 9)
    total = sum(_alnum_value(c) * w for c, w in zip(body, weights, strict=True))
    return str((10 - total % 10) % 10)


def plants_for(entry: str, i: int) -> list[Plant]:
    """All 26 kinds with values unique to entry point number `i` (0-9)."""
    pan = f"453914880343{i:03d}"
    pan += luhn_digit(pan)
    isin = f"US037833{i:02d}0"
    isin += isin_digit(isin)
    lei = f"5493001KJTIIGC8{i:03d}"
    lei += lei_digits(lei)
    cusip = f"0378{i:03d}1"
    cusip += cusip_digit(cusip)
    sedol = f"B0{i:03d}9"
    sedol += sedol_digit(sedol)
    aws_secret = f"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE{i}"
    amz = f"5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d{i}"
    rows: list[tuple[str, Family, str, str]] = [
        ("slack-bot-token", "secret", v := f"xoxb-2384729384{i}-8472938472-AbCdEfGhIjKlMn{i}x", v),
        ("slack-app-token", "secret", v := f"xapp-1-A0WIZ{i}-1234567890-abcdef0123456789", v),
        (
            "slack-webhook",
            "secret",
            v := f"T0WIZ{i}/B0HOOK{i}/x9f8e7d6c5b4a3z{i}",
            f"https://hooks.slack.com/services/{v}",
        ),
        ("aws-access-key", "secret", v := f"AKIAIOSFODNN7EXAMP{i}E", f"key id {v}"),
        (
            "aws-secret-escaped-json",
            "secret",
            aws_secret,
            '{\\"AWS_SECRET_ACCESS_KEY\\": \\"' + aws_secret + '\\"}',
        ),
        ("github-token", "secret", v := f"ghp_{i}" + "Z" * 35, f"gh {v}"),
        ("gitlab-token", "secret", v := f"glpat-{i}x1x1x1x1x1x1x1x1x1", f"gl {v}"),
        ("anthropic-key", "secret", v := f"sk-ant-api03-{i}" + "q" * 40, v),
        ("openai-key", "secret", v := f"sk-proj-{i}" + "Ab3" * 10, v),
        (
            "jwt-bearer",
            "secret",
            v := f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvbmNhbGwi{i}Q.c2lnbmF0dXJlLXZhbHVlLTEyMzQ",
            f"Authorization: Bearer {v}",
        ),
        (
            "url-password",
            "secret",
            v := f"hunter{i}Hunter2x",
            f"dsn postgres://oms:{v}@db-1:5432/oms",
        ),
        (
            "signed-url-token",
            "secret",
            v := f"tk{i}Q9wErTyUiOpAsDf",
            f"https://files.example.net/r.csv?token={v}&x=1",
        ),
        (
            "amz-signature",
            "secret",
            amz,
            "https://b.s3.amazonaws.com/x.log?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Signature={amz}",
        ),
        ("db-password-json", "secret", v := f"Pg{i}s3cr3t-Value", '{"db_password": "' + v + '"}'),
        (
            "password-line-start-json",
            "secret",
            v := f"Lin3{i}StartPw",
            '{"log": "boot ok\\npassword=' + v + '"}',
        ),
        (
            "private-key",
            "secret",
            v := f"MIIEowIBAAKCAQEA{i}7bq9xQwErTyUiOp",
            f"-----BEGIN RSA PRIVATE KEY----- {v} -----END RSA PRIVATE KEY-----",
        ),
        ("stripe-key", "secret", v := f"sk_live_{i}eC39HqLyjWDarjtT1zdp7dc", f"stripe={v}"),
        ("card-number", "secret", pan, f"card {pan} declined"),
        ("fix-account", "trading", v := f"CLI{i}ACC7781", f"8=FIX.4.4|35=D|1={v}|55=VOD.L"),
        ("fix-clordid", "trading", v := f"ORD{i}X20261202A", f"8=FIX.4.4|35=8|11={v}|39=8"),
        ("fix-party", "trading", v := f"PTY{i}DESK77", f"8=FIX.4.4|35=D|448={v}|447=D"),
        ("fix-compid", "trading", v := f"FIRM{i}OMS", f"8=FIX.4.2|35=A|49={v}|56=XLONGW|34=1"),
        ("isin", "trading", isin, f"bad fills on {isin} today"),
        ("lei", "trading", lei, f"counterparty {lei} rejected"),
        ("cusip", "trading", cusip, f"CUSIP {cusip} halted"),
        ("sedol", "trading", sedol, f"SEDOL: {sedol} stale"),
    ]
    return [Plant(kind, family, entry, needle, text) for kind, family, needle, text in rows]


def chunks(plants: list[Plant], size: int = 7) -> list[list[Plant]]:
    return [plants[i : i + size] for i in range(0, len(plants), size)]


def joined(plants: list[Plant]) -> str:
    return " ; ".join(p.text for p in plants)
