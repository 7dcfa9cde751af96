"""The diabetes model: ridge regression on a square-root scale.

Disease progression is a count-like score whose spread grows with its level, so the
model fits sqrt(target), which steadies the variance, and squares its predictions
back. mlship calls ``build`` with the spec's ``model.params`` and wraps the result in
its standard preprocessing (imputation and scaling).
"""

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge


def build(alpha: float = 1.0) -> TransformedTargetRegressor:
    return TransformedTargetRegressor(regressor=Ridge(alpha=alpha), func=np.sqrt, inverse_func=np.square)
