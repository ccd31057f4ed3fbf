"""Screens of the full-screen app: triage (main), commit review, dialogs."""
