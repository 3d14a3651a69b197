"""Dash dashboard that shows one run's results.json: headline metrics, verdict and loss curves."""
