"""Analyses of energy and accuracy: frontier and fit, robustness, correlations, estimators, effects, scores.

Every function takes plain pandas DataFrames with the dataset view's SI columns (see docs/ARCHITECTURE.md)
and returns DataFrames or dataclasses. matplotlib and scikit-learn are imported only where needed; without
them the functions that need them raise :class:`~joulebench.errors.MissingDependencyError`.
"""

from joulebench.analysis.carbon import carbon_cost

__all__ = ["carbon_cost"]
