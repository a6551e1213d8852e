"""The delivery service: sends the watches' alerts by webhook and email (issue 16)."""
