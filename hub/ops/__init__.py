"""Looking after a store box: the technician's `doctor`, systemd's notifications, a private
Mosquitto for the demo and tests, and menu files."""
