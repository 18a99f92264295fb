"""Reversible pseudonyms for trading identifiers: the model never sees them, people still do.

Account ids, LEIs, ClOrdIDs, client and strategy names are replaced by stable tokens
(`ACCOUNT-3f9a0c17be`) before text goes to the model; the token → value map lives in Redis (never
in prompts or logs), and the Slack reply is re-hydrated so the humans read the real identifier and
follow-ups can use it. Tokens are an HMAC of the value under a per-deployment key kept in Redis,
so the same identifier always gets the same token, across restarts and replicas.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

import redis.asyncio as redis

from bot.redact import PSEUDONYM, sub_trading
from bot.store import keys
from bot.store.typed import fields, text_or_none

TTL_S = 90 * 24 * 3600


class Pseudonyms:
    """protect(text) before the model; reveal(text) before Slack."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._key: bytes | None = None

    async def _secret(self) -> bytes:
        if self._key is None:
            await self.redis.set(keys.PSEUDONYM_KEY, secrets.token_hex(32), nx=True)
            self._key = str(await self.redis.get(keys.PSEUDONYM_KEY)).encode()
        return self._key

    async def protect(self, text: str) -> str:
        """Replace every trading identifier in `text` by its token; remember the mapping."""
        secret = await self._secret()
        found: dict[str, str] = {}

        def token(kind: str, value: str) -> str:
            digest = hmac.new(secret, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()
            name = f"{kind.upper() if kind != 'custom' else 'CUSTOM'}-{digest[:10]}"
            found[name] = value
            return name

        protected = sub_trading(text, token)
        if found:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(keys.PSEUDONYMS, mapping=fields(found))
                pipe.expire(keys.PSEUDONYMS, TTL_S)
                await pipe.execute()
        return protected

    async def reveal(self, text: str) -> str:
        """Put the real identifiers back (for the people reading Slack); unknown tokens stay."""
        tokens = sorted(set(PSEUDONYM.findall(text)))
        if not tokens:
            return text
        values = [text_or_none(v) for v in await self.redis.hmget(keys.PSEUDONYMS, tokens)]
        mapping = {t: v for t, v in zip(tokens, values, strict=True) if v is not None}
        return PSEUDONYM.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)

    async def reveal_obj(self, value: Any) -> Any:
        """`reveal` over a JSON-like structure (Block Kit), with one Redis round trip.

        Values are escaped for Slack mrkdwn: they come from alert text and must not become
        markup where they are put back.
        """
        tokens = sorted(set(PSEUDONYM.findall(json.dumps(value))))
        if not tokens:
            return value
        values = [text_or_none(v) for v in await self.redis.hmget(keys.PSEUDONYMS, tokens)]
        mapping = {
            t: v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            for t, v in zip(tokens, values, strict=True)
            if v is not None
        }

        def walk(item: Any) -> Any:
            if isinstance(item, str):
                return PSEUDONYM.sub(lambda m: mapping.get(m.group(0), m.group(0)), item)
            if isinstance(item, dict):
                return {k: walk(v) for k, v in item.items()}
            if isinstance(item, list):
                return [walk(v) for v in item]
            return item

        return walk(value)
