"""The FirmwareCampaign workflow: firmware rolled out to many stations in waves."""
