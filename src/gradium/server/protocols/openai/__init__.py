"""The OpenAI audio API (``/v1/audio/speech``, ``/v1/audio/transcriptions``, ``/v1/models``): a thin
adapter over the same speech model as the Gradium and Cartesia routes."""
