"""`python -m wattlane.csms` runs the standalone listener (see `settings.py` for the variables)."""

from wattlane.csms.main import main

main()
