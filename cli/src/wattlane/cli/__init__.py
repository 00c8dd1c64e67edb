"""The `wattlane` command line."""
