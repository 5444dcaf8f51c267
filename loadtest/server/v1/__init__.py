"""OpenHands V1 (the agent server's REST and WebSockets) in the reference server: `loadtest serve --api v1|both`."""
