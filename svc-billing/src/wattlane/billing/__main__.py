from wattlane.billing.main import cli

cli()
