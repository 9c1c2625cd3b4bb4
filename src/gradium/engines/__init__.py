"""Speech engines behind small interfaces (see ``base``)."""
