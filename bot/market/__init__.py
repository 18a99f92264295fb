"""Market-session awareness: venue hours and auctions (`sessions`), and what they mean for an
alert's severity and advice (`assess`)."""

from bot.market.assess import RULES, Assessment, assess
from bot.market.sessions import MarketClock, SessionState, UnknownVenueError
from bot.market.venues import resolve_venue

__all__ = [
    "RULES",
    "Assessment",
    "MarketClock",
    "SessionState",
    "UnknownVenueError",
    "assess",
    "resolve_venue",
]
