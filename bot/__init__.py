"""The migrant helpline application package.

Kept free of imports so that the Rasa runtime can import the pure-Python parts
(``bot.redflags``, ``bot.languages``) without the helpline's dependencies.
"""

__version__ = "0.1.0"
