"""CSMS protocol benchmark: the Wattlane CSMS against a raw `websockets` echo server, same clients."""
