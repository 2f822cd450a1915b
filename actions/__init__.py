"""Rasa custom actions of the helpline (run with `rasa run actions`)."""
