"""The web app's pages, one router per area."""
