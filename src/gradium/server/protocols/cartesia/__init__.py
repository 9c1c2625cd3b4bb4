"""The Cartesia API (as the official ``cartesia==2.0.17`` SDK speaks it), served at the root URL."""
