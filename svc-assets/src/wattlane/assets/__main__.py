from wattlane.assets.main import cli

cli()
