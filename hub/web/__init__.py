"""The only code that speaks HTTP: JSON API, WebSockets and the pages."""
