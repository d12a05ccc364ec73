"""Offline evaluation: ranking metrics and the harnesses that use them."""
