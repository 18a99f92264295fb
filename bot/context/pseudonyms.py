"""Reversible pseudonyms for trading identifiers: the model never sees them, people still do.

Account ids, LEIs, ISINs, FIX party/order ids, client and strategy names are replaced by stable
tokens (`ACCOUNT-3f9a0c17be`) at the door (`bot/door.py`), before anything is stored; the token →
value map in Redis is the one place real identifiers live, and its values are encrypted with
AES-GCM under `WIZARD_PSEUDONYM_KEY` (the token is the associated data, so a value cannot be moved
to another token). A Redis dump or the AOF alone reveals nothing: the key is never in Redis.
Tokens are an HMAC of the value under a key derived from the same secret, so the same identifier
always gets the same token, across restarts and replicas, and nobody without the secret can
confirm a guess. The Slack reply is re-hydrated so the humans read the real identifier.

Without `WIZARD_PSEUDONYM_KEY` (the demo, a laptop) a random key is kept in a 0600 file in the
data dir, outside Redis, and a warning says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio as redis
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.redact import PSEUDONYM, sub_trading
from bot.store import keys
from bot.store.typed import fields, text_or_none

log = structlog.get_logger(__name__)

TTL_S = 90 * 24 * 3600
KEY_FILE = "pseudonym.key"


def derive_keys(secret: str) -> tuple[bytes, bytes]:
    """(AES-256 key, HMAC key) from the configured secret: two purposes, two keys."""
    root = hashlib.sha256(secret.encode()).digest()
    enc = hmac.new(root, b"wizard pseudonym encryption", hashlib.sha256).digest()
    mac = hmac.new(root, b"wizard pseudonym tokens", hashlib.sha256).digest()
    return enc, mac


def local_secret(
    data_dir: Path, name: str = KEY_FILE, setting: str = "WIZARD_PSEUDONYM_KEY"
) -> str:
    """A random secret kept in `data_dir/<name>` (0600), made on first use."""
    path = data_dir / name
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    log.warning("local_key_generated", path=str(path), hint=f"set {setting}")
    return path.read_text().strip()


class Pseudonyms:
    """protect(text) at the door; reveal(text) before Slack."""

    def __init__(self, client: redis.Redis, secret: str | None = None) -> None:
        self.redis = client
        enc, mac = derive_keys(secret or secrets.token_hex(32))
        self._aead = AESGCM(enc)
        self._mac = mac

    def token(self, kind: str, value: str) -> str:
        digest = hmac.new(self._mac, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind.upper() if kind != 'custom' else 'CUSTOM'}-{digest[:10]}"

    def _seal(self, token: str, value: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, value.encode(), token.encode())
        return base64.b64encode(nonce + sealed).decode()

    def _open(self, token: str, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        try:
            raw = base64.b64decode(sealed)
            return self._aead.decrypt(raw[:12], raw[12:], token.encode()).decode()
        except (InvalidTag, ValueError):
            log.warning("pseudonym_unreadable", token=token)  # another key, or tampered
            return None

    async def protect(self, text: str) -> str:
        """Replace every trading identifier in `text` by its token; remember the mapping."""
        protected, found = self._collect(text)
        await self._remember(found)
        return protected

    async def protect_obj(self, value: Any) -> Any:
        """`protect` over every string of a JSON-like structure, with one Redis write."""
        found: dict[str, str] = {}
        result = _walk(value, lambda s: self._collect(s, found)[0])
        await self._remember(found)
        return result

    def _collect(
        self, text: str, found: dict[str, str] | None = None
    ) -> tuple[str, dict[str, str]]:
        found = {} if found is None else found

        def replace(kind: str, value: str) -> str:
            name = self.token(kind, value)
            found[name] = value
            return name

        return sub_trading(text, replace), found

    async def _remember(self, found: dict[str, str]) -> None:
        if not found:
            return
        sealed = {t: self._seal(t, v) for t, v in found.items()}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.PSEUDONYMS, mapping=fields(sealed))
            pipe.expire(keys.PSEUDONYMS, TTL_S)
            await pipe.execute()

    async def _mapping(self, tokens: list[str]) -> dict[str, str]:
        values = await self.redis.hmget(keys.PSEUDONYMS, tokens)
        opened = {t: self._open(t, text_or_none(v)) for t, v in zip(tokens, values, strict=True)}
        return {t: v for t, v in opened.items() if v is not None}

    async def reveal(self, text: str) -> str:
        """Put the real identifiers back (for the people reading Slack); unknown tokens stay."""
        tokens = sorted(set(PSEUDONYM.findall(text)))
        if not tokens:
            return text
        mapping = await self._mapping(tokens)
        return PSEUDONYM.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)

    async def reveal_obj(self, value: Any) -> Any:
        """`reveal` over a JSON-like structure (Block Kit), with one Redis round trip.

        Values are escaped for Slack mrkdwn: they come from alert text and must not become
        markup where they are put back.
        """
        tokens = sorted(set(PSEUDONYM.findall(json.dumps(value))))
        if not tokens:
            return value
        mapping = {
            t: v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            for t, v in (await self._mapping(tokens)).items()
        }
        return _walk(value, lambda s: PSEUDONYM.sub(lambda m: mapping.get(m.group(0), m[0]), s))


def _walk(item: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(item, str):
        return fn(item)
    if isinstance(item, dict):
        return {k: _walk(v, fn) for k, v in item.items()}
    if isinstance(item, list | tuple):
        return [_walk(v, fn) for v in item]
    return item
