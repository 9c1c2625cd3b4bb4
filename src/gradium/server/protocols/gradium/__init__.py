"""server/protocols/gradium."""
