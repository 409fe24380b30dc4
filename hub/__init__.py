"""tablehub: the edge hub that runs a restaurant on its own, internet or not."""

__version__ = "0.1.0"
