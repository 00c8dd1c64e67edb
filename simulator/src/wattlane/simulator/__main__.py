"""`python -m wattlane.simulator` is `wattlane-sim`."""

from wattlane.simulator.cli import main

main()
