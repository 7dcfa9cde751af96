"""Shipping: an approved model packaged as a bento, registered as a version (a git tag),
released with its artifacts, and deployed to a stage; rollbacks re-assign an earlier version.

Reads :mod:`mlship.review.ledger` to ship only what was reviewed."""
