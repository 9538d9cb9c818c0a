"""``python -m gru_tutorial``: the same as the ``gru-tutorial`` command."""

from .cli import main

raise SystemExit(main())
