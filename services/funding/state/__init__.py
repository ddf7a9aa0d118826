"""The funding service at state level: the statewide position register and the extension decisions."""
