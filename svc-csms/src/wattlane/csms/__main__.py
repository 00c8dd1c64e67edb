"""`python -m wattlane.csms [serve|migrate|settings]` (see `main.py` and `settings.py`)."""

from wattlane.csms.main import cli

cli()
