"""ESC/POS printers: render documents (`render`), drive printers (`driver`), fake one
(`fake`), and the MQTT agent that prints jobs once each, in order (`agent`).

Run one agent: ``python -m devices.printers --config printer.toml`` (see `__main__`).
"""
