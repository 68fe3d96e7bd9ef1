"""Authentication: argon2id password hashes, JWT bearer tokens, and the route guard."""
