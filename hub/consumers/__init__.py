"""What acts on committed events or runs for the hub's whole life, each a `Consumer` of the one
`Supervisor` (supervisor.py): live screens (live.py), the MQTT relay (relay.py), in-process
device agents (agents.py), outbox pruning and the bridge's health (outbox_prune.py,
bridge_health.py) and the minute's activity line (activity.py)."""
