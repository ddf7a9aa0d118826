"""The plans service at state level: the statewide, pseudonymous goals, referrals and cases, their statistics and
the year's outcomes."""
