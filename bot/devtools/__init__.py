"""Tools for running the bot without the outside world: the local Slack the demo, the tests and
the benchmarks talk to. Nothing in production imports this package."""
