"""The cases service at state level: the statewide, pseudonymous view and its statistics."""
