"""tablehub device agents: MQTT peers that drive printers (and later scales and buttons).

Each device class has one seam to its hardware library (`devices.printers.driver.PrinterDriver`)
and a fake beside it, shipped in the package (`devices.printers.fake`), so the same agent code
runs against a real printer, a test or `tablehub demo`. The agents speak to the hub only
through `hub.bus.contract`.
"""
