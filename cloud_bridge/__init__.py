"""tablehub's cloud bridge: tails the hub's outbox read-only, uploads it to the chain's
cloud exactly once and in order per lane, and brings menu changes down to the hub.

Runs as its own process (`tablehub bridge --config FILE`); see docs/cloud-protocol.md for
the wire protocol and `cloud_bridge.receiver` for the reference cloud side.
"""
