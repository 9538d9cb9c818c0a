"""Root pytest configuration: make nbval's sanitize file path absolute so pytest runs from any folder."""

from pathlib import Path

ROOT = Path(__file__).parent


def pytest_configure(config):
    """Resolve ``--nbval-sanitize-with`` against the repository root."""
    path = getattr(config.option, "nbval_sanitize_with", None)
    if path and not Path(path).is_absolute():
        config.option.nbval_sanitize_with = str(ROOT / path)
