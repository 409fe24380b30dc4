"""Use cases: each service turns a request into domain decisions and one store write."""
