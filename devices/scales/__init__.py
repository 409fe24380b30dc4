"""Serial scales on the MQTT bus: protocols as data, a pure frame codec, a pyserial port
seam, a simulator on a pty, and the agent that publishes ``scales/{scale}/weight``.

Importing this package pulls in no hardware library; `port` and `agent` need pyserial
(the ``[scale]`` extra).
"""
