"""OpenCall: a self-hostable voice-AI call platform, API-compatible with Vapi."""

__version__ = "0.1.0"
