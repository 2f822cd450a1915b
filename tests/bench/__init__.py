"""The benchmark (``make bench``): the whole helpline against bare Rasa on this machine."""
