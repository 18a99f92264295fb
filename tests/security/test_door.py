"""The door and its redaction families, one rule at a time; hooks' token; no echo in acks.

The campaign (`test_outside_in.py`) proves the sum from outside; these pin each rule so a
regression says which family broke: every planted kind is caught in the shape it has in real
text (JSON, escaped JSON, a line start inside JSON text, URLs, FIX messages), check-digit kinds
only when the digits agree, and ordinary operational text is left alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from pydantic import SecretStr

from bot import redact as redaction
from bot.context.pseudonyms import Pseudonyms
from bot.devtools.slack import SlackSandbox
from bot.door import FOREIGN_TOKEN, Door, echo
from bot.redact import PSEUDONYM, card_ok, isin_ok, lei_ok, redact
from bot.store.embedded import EmbeddedRedis
from tests.harness import settings_for, start_bot, stop_bot
from tests.security.plants import plants_for

PLANTS = plants_for("unit", 7)


@pytest.mark.parametrize("plant", PLANTS, ids=[p.kind for p in PLANTS])
def test_every_planted_kind_is_caught_in_its_real_shape(plant: Any) -> None:
    out = redact(plant.text) if plant.family == "trading" else redaction.redact_thorough(plant.text)
    assert plant.needle not in out
    assert "[REDACTED:" in out
    assert redact(out) == out


def test_json_shapes_keep_their_structure() -> None:
    text = json.dumps({"db_password": "pw-123456", "log": "ok\npassword=abc999\nnext"})
    out = redact(text)
    assert json.loads(out)["db_password"] == "[REDACTED:secret]"
    assert json.loads(out)["log"] == "ok\npassword=[REDACTED:secret]\nnext"
    escaped = json.dumps({"body": json.dumps({"AWS_SECRET_ACCESS_KEY": "A" * 40})})
    assert "A" * 40 not in redact(escaped)
    json.loads(redact(escaped))  # still valid JSON


def test_check_digits_decide_for_bare_identifiers() -> None:
    assert isin_ok("US0378331005") and not isin_ok("US0378331006")
    assert lei_ok("5493001KJTIIGC8Y1R12") and not lei_ok("5493001KJTIIGC8Y1R13")
    assert card_ok("4539148803430031") and not card_ok("4539148803430032")
    assert not card_ok("1733112345678901")  # no issuer prefix: an epoch in microseconds
    assert redact("fills on US0378331006 and 5493001KJTIIGC8Y1R13") == (
        "fills on US0378331006 and 5493001KJTIIGC8Y1R13"
    )


def test_operational_text_is_left_alone() -> None:
    text = (
        "p99 7.8ms on ogw-2:9102; input_tokens=350 retries=3 ts 1733112345.678901 "
        "sha 3449b6ee94e2a87b0a5c; order 4 of 12; 35=D|55=VOD.L|38=100; password_policy ok"
    )
    assert redact(text) == text


def test_fix_tag_list_is_configurable() -> None:
    message = "8=FIX.4.4|35=D|1=ACCX77|448=DESK9|109=CLIENTQ"
    assert "DESK9" not in redact(message) and "CLIENTQ" not in redact(message)
    try:
        redaction.configure(fix_tags=[1])
        out = redact(message)
        assert "ACCX77" not in out and "DESK9" in out and "CLIENTQ" in out
    finally:
        redaction.configure()
    assert "DESK9" not in redact(message)


async def test_door_neutralises_foreign_tokens_masks_and_pseudonymises(
    redis_client: redis.Redis,
) -> None:
    names = Pseudonyms(redis_client, "k")
    door = Door(names)
    known = await names.protect("account ACC-778812")  # a token the bot minted earlier
    token = PSEUDONYM.findall(known)[0]
    scrubbed = await door.scrub(
        {"text": f"what is {token}? key xoxb-1234567890-abcdefghijkl ISIN US0378331005"}
    )
    text = scrubbed["text"]
    assert token not in text and FOREIGN_TOKEN in text  # never re-hydrated from user input
    assert "xoxb-" not in text and "US0378331005" not in text
    minted = PSEUDONYM.findall(text)
    assert minted and await names.reveal(minted[0]) == "US0378331005"
    assert await names.reveal(text) == text.replace(minted[0], "US0378331005")
    # without a pseudonym store the door masks identifiers instead
    assert "US0378331005" not in await Door().text("ISIN US0378331005")


def test_echo_is_redacted_escaped_and_never_pings() -> None:
    said = echo("<!channel> @here key xoxb-1234567890-abcdefghijkl <https://evil.example|x> " * 3)
    assert "xoxb-" not in said and "<!" not in said and "@here" not in said.lower()
    assert "evil.example" not in said and "<" not in said
    assert len(said) <= 310


async def test_hooks_refuse_an_empty_token_like_an_unset_one(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client: redis.Redis, tmp_path: Path
) -> None:
    settings = settings_for(
        sandbox=sandbox,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        llm=None,
        WIZARD_HOOK_TOKEN=SecretStr(""),
    )
    bot = await start_bot(settings, sandbox)
    try:
        for header in (None, "Bearer ", "Bearer", "bearer  "):
            headers = {"Authorization": header} if header is not None else {}
            async with bot.session.post(
                f"{bot.base}/hooks/deploy", json={"service": "x"}, headers=headers
            ) as response:
                assert response.status == 503, header
    finally:
        await stop_bot(bot)


async def test_hooks_compare_the_whole_header(bot_with_token: Any) -> None:
    bot, token = bot_with_token
    deploy = {"service": "svc", "version": "1.2.3", "at": "2026-12-01T10:00:00Z"}
    cases = {
        f"Bearer {token}": 200,
        f"Bearer  {token}": 401,
        f"Basic {token}": 401,
        f"Bearer {token[:-1]}": 401,
        token: 401,
        "Bearer \u00e9": 401,
    }
    for header, status in cases.items():
        async with bot.session.post(
            f"{bot.base}/hooks/deploy", json=deploy, headers={"Authorization": header}
        ) as response:
            assert response.status == status, header


@pytest.fixture
async def bot_with_token(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client: redis.Redis, tmp_path: Path
) -> Any:
    from tests.harness import HOOK_TOKEN

    settings = settings_for(
        sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=None
    )
    bot = await start_bot(settings, sandbox)
    try:
        yield bot, HOOK_TOKEN
    finally:
        await stop_bot(bot)


async def test_question_ack_does_not_echo_secrets_or_mentions(
    sandbox: SlackSandbox, redis_server: EmbeddedRedis, redis_client: redis.Redis, tmp_path: Path
) -> None:
    settings = settings_for(
        sandbox=sandbox, redis_url=redis_server.url, data_dir=tmp_path, llm=None
    )
    bot = await start_bot(settings, sandbox)
    try:
        ack = await bot.command(
            "<!channel> is xoxb-1234567890-abcdefghijkl for account ACC-99812 ok?"
        )
        said = json.dumps(ack)
        assert "xoxb-1234567890" not in said and "<!channel>" not in said
        assert "99812" not in said and "[REDACTED:" in said
        bad = await bot.command("freeze sideways <!here> xoxb-1234567890-abcdefghijkl")
        assert "xoxb-1234567890" not in json.dumps(bad) and "<!here>" not in json.dumps(bad)
        help_ack = await bot.command("help")
        for word in ("status", "runbook", "freeze", "help"):
            assert word in help_ack["text"]
    finally:
        await stop_bot(bot)
