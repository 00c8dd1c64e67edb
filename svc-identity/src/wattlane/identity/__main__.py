from wattlane.identity.main import cli

cli()
