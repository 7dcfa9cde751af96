"""Building the estimator a spec names and fitting it inside a preprocessing pipeline.

The estimator comes from a dotted class path with params, or from an entrypoint
function in the model folder called with the params as keyword arguments. Unless the
spec says ``preprocess: false``, it is wrapped in a scikit-learn Pipeline that imputes,
scales and one-hot encodes, so the fitted model takes raw records.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import random
import re
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

import numpy as np
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlship.errors import Problem, SpecError, TrainingError, did_you_mean
from mlship.spec import Spec
from mlship.train.columns import MAX_CATEGORIES
from mlship.train.data import Dataset


@dataclass(frozen=True)
class Trained:
    model: Any
    fit_seconds: float
    warnings: list[str]


def check_model(spec: Spec) -> None:
    """Import the estimator or entrypoint and check its params; raise :class:`SpecError` if any is wrong."""
    build_estimator(spec)


def model_problems(spec: Spec) -> list[Problem]:
    """Every problem building the estimator meets (each unknown or invalid param), as a list."""
    try:
        build_estimator(spec)
    except SpecError as error:
        return error.problems
    except TrainingError as error:  # the entrypoint raised: its message already names the spec and line
        where = spec.location("model", "entrypoint")
        return [Problem(where, str(error).removeprefix(f"{where}: "))]
    return []


def build_estimator(spec: Spec) -> tuple[Any, ModuleType | None]:
    """The unfitted estimator with the spec's params and fixed seeds, and the entrypoint module if any."""
    if spec.config.model.entrypoint:
        module, function = _load_entrypoint(spec)
        estimator = _call_entrypoint(spec, function)
    else:
        module, estimator = None, _instantiate(spec)
    _check_task(spec, estimator)
    _seed(estimator, spec.config.data.split.seed)
    return estimator, module


def fit(spec: Spec, estimator: Any, dataset: Dataset, shift: int = 0) -> Trained:
    """Fit ``estimator`` (from :func:`build_estimator`) on the training rows, with the seeds fixed
    (the global ones moved by ``shift`` for a seed replica, see :func:`reseeded`)."""
    model = (build_pipeline(estimator, dataset.numeric, dataset.categorical, dataset.dates)
             if spec.config.model.preprocess else estimator)
    seed = spec.config.data.split.seed + shift
    random.seed(seed)
    np.random.seed(seed)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(dataset.X_train, dataset.y_train)
        except (ValueError, TypeError) as error:
            raise TrainingError(f"{spec.name}: fitting failed: {error}") from error
    seconds = time.perf_counter() - started
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return Trained(model, seconds, messages)


def build_pipeline(estimator: Any, numeric: list[str], categorical: list[str], dates: list[str] = ()) -> Pipeline:
    """Impute and scale numbers, one-hot encode categories, turn dates into numbers (see :mod:`mlship.train.dates`)."""
    from mlship.train.dates import DateFeatures

    transformers = []
    if numeric:
        steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        transformers.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES,
                                sparse_output=False)
        steps = [("impute", SimpleImputer(strategy="most_frequent")), ("encode", encoder)]
        transformers.append(("categorical", Pipeline(steps), categorical))
    if dates:
        steps = [("parse", DateFeatures()), ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                 ("scale", StandardScaler())]
        transformers.append(("dates", Pipeline(steps), list(dates)))
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def _instantiate(spec: Spec) -> Any:
    path = spec.config.model.estimator
    where = spec.location("model", "estimator")
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SpecError([Problem(where, f"cannot import '{module_name}' ({error}); is its package installed?")]) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        names = [n for n in dir(module) if not n.startswith("_")]
        raise SpecError([Problem(where, f"'{module_name}' has no '{class_name}'{did_you_mean(class_name, names)}")])
    if not (isinstance(cls, type) and all(hasattr(cls, name) for name in ("fit", "predict", "get_params"))):
        raise SpecError([Problem(where, f"'{path}' is not an estimator class (one with fit, predict and get_params)")])
    if inspect.isabstract(cls):
        raise SpecError([Problem(where, f"'{path}' is an abstract class: name one of its concrete subclasses")])
    params = spec.config.model.params
    accepted = _param_names(cls)
    problems = [
        Problem(spec.location("model", "params", key),
                f"{class_name} has no parameter '{key}'{did_you_mean(key, accepted)}. Parameters: {', '.join(accepted)}")
        for key in params
        if key not in accepted
    ]
    problems += _param_value_problems(spec, cls, {k: v for k, v in params.items() if k in accepted})
    if problems:
        raise SpecError(problems)
    try:
        estimator = cls(**params)
    except TypeError as error:
        raise SpecError([Problem(where, f"{class_name} cannot be built from model.params ({error}); an estimator "
                                        "that needs other estimators (a Pipeline, a GridSearchCV) is built in an "
                                        "entrypoint function instead")]) from None
    _validate_param_values(spec, estimator)
    return estimator


def _param_value_problems(spec: Spec, cls: type, params: dict[str, Any]) -> list[Problem]:
    """Each param checked alone against the estimator's own constraints, so that every bad value is
    named at once (scikit-learn's ``_validate_params`` stops at the first)."""
    if not getattr(cls, "_parameter_constraints", None) or not hasattr(cls, "_validate_params"):
        return []
    problems = []
    for key, value in params.items():
        try:
            alone = cls(**{key: value})
        except TypeError:  # it cannot be built from this param alone: the check of all params together says why
            return problems
        try:
            alone._validate_params()
        except (ValueError, TypeError) as error:
            problems.append(Problem(spec.location("model", "params", key), str(error)))
    return problems


def _param_names(cls: type) -> list[str]:
    """The estimator's own ``get_params()`` keys; from ``__init__`` when it cannot be built bare."""
    try:
        return list(cls().get_params(deep=False))
    except TypeError:
        parameters = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _validate_param_values(spec: Spec, estimator: Any) -> None:
    """Use scikit-learn's own parameter constraints, where the estimator declares them.

    Estimators of other libraries (LightGBM, XGBoost) inherit ``_validate_params`` from
    ``BaseEstimator`` without declaring ``_parameter_constraints``: they check their own
    parameters when fitted.
    """
    validate = getattr(estimator, "_validate_params", None)
    if validate is None or not hasattr(estimator, "_parameter_constraints"):
        return
    try:
        validate()
    except (ValueError, TypeError) as error:
        match = re.search(r"The '(\w+)' parameter", str(error))
        field = ("model", "params", match[1]) if match else ("model", "params")
        raise SpecError([Problem(spec.location(*field), str(error))]) from None


def _load_entrypoint(spec: Spec) -> tuple[ModuleType, Callable[..., Any]]:
    file, function_name = spec.entrypoint()
    where = spec.location("model", "entrypoint")
    module_name = f"mlship_entrypoint_{spec.name.replace('-', '_')}_{file.stem}"
    module_spec = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # sys.exit() or an exception of its own hierarchy, too
        del sys.modules[module_name]
        raise SpecError([Problem(where, f"importing {file.name} failed: {_user_code_error(error, file.name)}")]) from error
    function = getattr(module, function_name, None)
    if not callable(function):
        names = [n for n in dir(module) if not n.startswith("_")]
        raise SpecError([Problem(where, f"{file.name} has no function '{function_name}'{did_you_mean(function_name, names)}")])
    return module, function


def _call_entrypoint(spec: Spec, function: Callable[..., Any]) -> Any:
    params = spec.config.model.params
    signature = inspect.signature(function)
    try:
        signature.bind(**params)
    except TypeError as error:
        accepted = list(signature.parameters)
        unknown = [k for k in params if k not in accepted]
        key = unknown[0] if unknown else None
        hint = did_you_mean(key, accepted) if key else ""
        field = ("model", "params", key) if key else ("model", "params")
        raise SpecError([Problem(spec.location(*field), f"{function.__name__}{signature}: {error}{hint}")]) from None
    try:
        estimator = function(**params)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # sys.exit() or an exception of its own hierarchy, too
        file = spec.entrypoint()[0].name
        raise TrainingError(f"{spec.location('model', 'entrypoint')}: {function.__name__}() raised "
                            f"{_user_code_error(error, file)}") from error
    if isinstance(estimator, type):
        raise SpecError([Problem(spec.location("model", "entrypoint"),
                                 f"{function.__name__}() returned the class {estimator.__name__}, not an estimator: "
                                 f"return {estimator.__name__}(...)")])
    if not all(hasattr(estimator, name) for name in ("fit", "predict", "get_params")):
        raise SpecError([Problem(spec.location("model", "entrypoint"),
                                 f"{function.__name__}() returned {type(estimator).__name__}, not an estimator "
                                 "with fit, predict and get_params (subclass sklearn.base.BaseEstimator)")])
    return estimator


def _user_code_error(error: BaseException, file_name: str) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.endswith(file_name)]
    where = f" at {file_name}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


def _check_task(spec: Spec, estimator: Any) -> None:
    kind = "classifier" if is_classifier(estimator) else "regressor" if is_regressor(estimator) else _kind(estimator)
    expected = {"classification": "classifier", "regression": "regressor"}[spec.task]
    if kind and kind != expected:
        field = ("model", "estimator") if spec.config.model.estimator else ("model", "entrypoint")
        raise SpecError([Problem(spec.location(*field),
                                 f"{type(estimator).__name__} is a {kind} but task is {spec.task}")])


def seed_params(estimator: Any) -> dict[str, Any]:
    """The estimator's ``random_state`` parameters (nested ones too), by their ``get_params`` key."""
    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else {}
    return {k: v for k, v in params.items() if k == "random_state" or k.endswith("__random_state")}


def reseeded(estimator: Any, shift: int) -> Any | None:
    """An unfitted copy of ``estimator`` with every integer ``random_state`` moved by ``shift``, or None
    when it has none (nothing in it is seeded by a number, so another seed would train the same model).

    Both versions of a comparison shift their own seeds by the same amounts, so replica ``k`` of
    each stands in the same relation to the other as the two models that ship.
    """
    shifted = {k: v + shift for k, v in seed_params(estimator).items()
               if isinstance(v, (int, np.integer)) and not isinstance(v, bool)}
    return clone(estimator).set_params(**shifted) if shifted else None


def _kind(estimator: Any) -> str | None:
    """What scikit-learn says another estimator is (a clusterer, an outlier detector), if anything."""
    from sklearn.utils import get_tags

    try:
        return get_tags(estimator).estimator_type
    except Exception:  # an estimator of another library, without scikit-learn's tags
        return None


def _seed(estimator: Any, seed: int) -> None:
    """Give every unset ``random_state`` (nested ones too) the split's seed, so runs repeat exactly."""
    unset = {k: seed for k, v in seed_params(estimator).items() if v is None}
    if unset:
        estimator.set_params(**unset)

