"""The plans service at state level: the statewide, pseudonymous goal table and goal statistics."""
