"""Intent and rights-topic classification for the Rasa model (Rasa runtime only).

One linear model over character and word n-grams picks, for every message, one of the
core intents or one of the ``faq/<topic>`` retrieval intents: docs/nlu.md has the
measurements behind it. ``classifier`` is plain scikit-learn; ``rasa_component`` puts it
in the Rasa pipeline in place of DIET and the response selector.
"""
