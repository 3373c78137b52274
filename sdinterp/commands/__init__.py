"""Subcommands of the ``sdinterp`` CLI: one module each, exposing ``register(subparsers)``.

A module's ``register`` adds its parser and sets ``func`` (called with the parsed args, returns an
exit code). Add ``--debug`` to show tracebacks."""
