"""Pure rules of the restaurant: menu, orders, tickets, tokens. No IO, no asyncio."""
