"""Talk to the gateway: request bodies per provider, the HTTP client, parsed answers and errors."""
