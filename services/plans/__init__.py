"""Integration plans: a plan per case, its goals and their progress."""
