from wattlane.workflows.worker import cli

cli()
