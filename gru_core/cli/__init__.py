"""The command line, ``python -m gru_core``: thin converters from options to a run and from results to text.

* :mod:`~gru_core.cli.main`: the parser and the ``compare``, ``forecast`` and ``datasets`` commands.
* :mod:`~gru_core.cli.sweep`: the ``sweep`` command.
* :mod:`~gru_core.cli.options`: the options of a run, generated from :data:`gru_core.config.SETTINGS`.
* :mod:`~gru_core.cli.report`: tables and summaries as text.
* :mod:`~gru_core.cli.output`: output files, checked before the work starts.

Nothing outside this package imports it (the pages use the engine directly).
"""

from gru_core.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
