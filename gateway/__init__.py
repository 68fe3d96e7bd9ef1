"""The aiohttp gateway: REST API, websocket seat push, auth and payments."""
