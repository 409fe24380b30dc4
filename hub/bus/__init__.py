"""The only code that speaks MQTT (client.py); contract.py is the pure topic contract."""
