"""Monitoring: drift of live data against the reference profile saved at training, one issue
per drifting model, and retraining proposed as a pull request.

Reads :mod:`mlship.ship.registry` for the versions a retraining bumps."""
