"""mlship: GitOps CI/CD for machine-learning models.

The library's face is :mod:`mlship.api`; the ``mlship`` command is a thin layer over it.
"""

__version__ = "0.1.0"
