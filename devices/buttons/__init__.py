"""GPIO call buttons, call LEDs and bump buttons on the MQTT bus (gpiozero).

A press publishes ``tables/{table}/call`` or ``kds/{station}/bump`` with a unique id; call
LEDs follow the hub's retained ``tables/{table}/call/state``. The hardware seam is
gpiozero's own ``pin_factory=`` (``gpiozero.pins.mock.MockFactory`` in tests and demos).
"""
