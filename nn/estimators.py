"""scikit-learn estimators over Network and Trainer: ``nn.Classifier`` and ``nn.Regressor``.

They take the parameters users know from scikit-learn's MLPClassifier / MLPRegressor, and sit in a
Pipeline, GridSearchCV, cross_val_score or anything built on them (Dask-ML, Ray Tune). Needs
scikit-learn (``pip install "nn-lessons[sklearn]"``); ``import nn`` does not.

Fitted state: ``network_`` (the trained nn.Network), ``n_features_in_``, ``feature_names_in_`` (from a
DataFrame), ``n_iter_`` (epochs run), ``loss_curve_`` (training loss per epoch, weighted when sample or
class weights are given), ``best_loss_``, ``validation_loss_curve_`` and ``validation_scores_`` (with
``early_stopping``), and for the classifier ``classes_``.
"""
import copy
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised by the test that hides scikit-learn
    raise ImportError('nn.Classifier and nn.Regressor need scikit-learn: pip install "nn-lessons[sklearn]"') from exc

from .network import Network
from .onnx_sklearn import register_skl2onnx_when_imported
from .optimizers import OPTIMIZERS, Optimizer
from .trainer import EarlyStopping, Trainer, TrainingDiverged
from .validation import check_int, check_number

AUTO_BATCH = 200  # batch_size="auto": min(200, n_samples), as scikit-learn's MLP


class _NetworkEstimator(BaseEstimator):
    """What Classifier and Regressor share: parameters, the network and trainer, fit / partial_fit."""

    _output = _loss = None  # the output activation and loss; the classifier decides per problem

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", optimizer="adam", learning_rate=None,
                 batch_size="auto", max_iter=200, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, alpha=1e-4, dtype="float64", backend=None, random_state=None,
                 verbose=False, warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.alpha = alpha
        self.dtype = dtype
        self.backend = backend
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ----- scikit-learn's API ---------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Train for up to ``max_iter`` epochs (fewer when the loss, or with ``early_stopping`` the
        validation loss, has not improved by ``tol`` for ``n_iter_no_change`` epochs). With
        ``warm_start``, a fitted estimator goes on from its network and optimizer state."""
        continuing = self.warm_start and hasattr(self, "network_")
        X, y = validate_data(self, X, y, reset=not continuing, **self._y_checks())
        targets = self._targets(y, first=not continuing)
        if not continuing:
            self._start(X, targets)
        self._train(X, targets, sample_weight, epochs=self.max_iter, stopping=True)
        return self

    def _partial_fit(self, X, y, sample_weight, classes=None):
        first = not hasattr(self, "network_")
        X, y = validate_data(self, X, y, reset=first, **self._y_checks())
        targets = self._targets(y, first=first, classes=classes)
        if first:
            self._start(X, targets)
        self._train(X, targets, sample_weight, epochs=1, stopping=False)
        return self

    # ----- building -------------------------------------------------------------------------------
    def _y_checks(self):
        return {"dtype": (np.float64, np.float32), "y_numeric": False}

    def _start(self, X, targets):
        """A fresh network and trainer for data X and encoded targets."""
        rng = check_random_state(self.random_state)
        net_seed, trainer_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
        hidden = self._hidden_sizes()
        sizes = [X.shape[1], *hidden, self._n_outputs(targets)]
        self.network_ = Network(sizes, activation=self.activation, output=self._output, dtype=self.dtype,
                                seed=net_seed, backend=self.backend)
        self._trainer = Trainer(self.network_, loss=self._loss, optimizer=self._make_optimizer(),
                                batch_size=self._batch_size(len(X)), seed=trainer_seed)
        self.n_iter_ = 0
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self.validation_loss_curve_ = [] if self.early_stopping else None
        self.validation_scores_ = [] if self.early_stopping else None

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be a tuple of layer sizes, got {self.hidden_layer_sizes!r}") \
                from None
        return [check_int(f"hidden_layer_sizes[{i}]", size, low=1) for i, size in enumerate(sizes)]

    def _make_optimizer(self):
        """A new optimizer from the ``optimizer`` parameter (a name, or an nn optimizer, which is copied:
        fit never changes a parameter), with ``learning_rate`` if given and ``alpha`` as weight decay."""
        if isinstance(self.optimizer, str):
            if self.optimizer not in OPTIMIZERS:
                raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} or an nn optimizer, "
                                 f"got {self.optimizer!r}")
            optimizer = OPTIMIZERS[self.optimizer]()
        elif isinstance(self.optimizer, Optimizer):
            optimizer = copy.deepcopy(self.optimizer)
            optimizer.reset()
        else:
            raise TypeError(f"optimizer must be one of {sorted(OPTIMIZERS)} or an nn optimizer, got {self.optimizer!r}")
        if self.learning_rate is not None:
            optimizer.learning_rate = check_number("learning_rate", self.learning_rate, 0, low_open=True)
        optimizer.weight_decay = check_number("alpha", self.alpha, 0)
        return optimizer

    def _batch_size(self, n):
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return min(AUTO_BATCH, n)
        return check_int("batch_size ('auto' or a whole number)", self.batch_size, low=1)

    # ----- training -------------------------------------------------------------------------------
    def _train(self, X, targets, sample_weight, epochs, stopping):
        """``epochs`` epochs on (X, targets) with the estimator's trainer; records the curves."""
        check_int("max_iter", self.max_iter, low=1)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        validation, callbacks = None, []
        if stopping and self.early_stopping:
            X, targets, weights, validation = self._hold_out(X, targets, weights)
            callbacks.append(lambda epoch, logs: self.validation_scores_.append(self._score_network(*validation)))
        stopper = None
        if stopping:
            stopper = EarlyStopping(patience=self.n_iter_no_change, min_delta=self.tol,
                                    monitor="val_loss" if validation is not None else "loss",
                                    restore_best_weights=validation is not None)
        if validation is not None and self.validation_scores_ is None:  # early_stopping turned on by set_params
            self.validation_scores_, self.validation_loss_curve_ = [], []
        try:
            history = self._trainer.fit(X, targets, epochs=epochs, validation_data=validation,
                                        early_stopping=stopper, callbacks=callbacks, verbose=bool(self.verbose),
                                        sample_weight=weights, class_weight=self._class_weight_ids())
        except TrainingDiverged as exc:  # the completed epochs are kept (and recorded), as the network keeps them
            if exc.history is not None:
                self._record(exc.history, validation)
            raise
        self._record(history, validation)
        if stopping and not history.stopped_early and not history.interrupted and len(history) == epochs:
            warnings.warn(f"{type(self).__name__}: max_iter ({self.max_iter}) epochs reached and the loss is still "
                          "improving; raise max_iter to train longer", ConvergenceWarning)

    def _record(self, history, validation):
        """Add a fit's epochs to the fitted curves."""
        self.n_iter_ += len(history)
        self.loss_curve_.extend(history.loss)
        if validation is not None:
            self.validation_loss_curve_.extend(history.val_loss)
        self.best_loss_ = None if self.early_stopping or not self.loss_curve_ else min(self.loss_curve_)

    def _hold_out(self, X, targets, weights):
        """Split off ``validation_fraction`` of the samples (stratified for classifiers)."""
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be a fraction in (0, 1), got {self.validation_fraction!r}")
        rows = np.arange(len(X))
        stratify = self._class_ids(targets) if self._output != "identity" else None
        train, held = train_test_split(rows, test_size=self.validation_fraction, stratify=stratify,
                                       random_state=check_random_state(self.random_state))
        return (X[train], targets[train], None if weights is None else weights[train],
                (X[held], targets[held]))

    def _class_weight_ids(self):
        return None

    def _score_network(self, X, targets):
        """The network's score on held-out rows (encoded targets): accuracy, or R^2 for the regressor."""
        return self.network_.score(X, targets[:, 0] if targets.ndim == 2 and targets.shape[1] == 1 else targets)


class Classifier(ClassifierMixin, _NetworkEstimator):
    """A neural-network classifier: ``hidden_layer_sizes`` hidden layers of ``activation``, then a
    softmax output trained with cross-entropy (two classes: one sigmoid output and binary cross-entropy).

    Labels may be of any type (strings, integers that are not 0..k-1); ``classes_`` lists them in order.
    ``class_weight``: None, "balanced" (n_samples / (n_classes * count of the class)) or a dict {label:
    weight}; it multiplies ``sample_weight``. Each batch's loss is sum(w_i l_i) / sum(w_i).
    The other parameters are MLPClassifier's: ``optimizer`` ("adam", "sgd", "momentum", "rmsprop" or an
    nn optimizer) and ``learning_rate`` (None: the optimizer's default), ``alpha`` (L2 weight decay: each
    step adds alpha * p to every parameter's gradient), ``batch_size`` ("auto": min(200, n_samples)),
    ``max_iter`` (epochs), ``tol`` / ``n_iter_no_change`` (stop when the training loss, or with
    ``early_stopping`` the loss on ``validation_fraction`` held-out samples, has not improved by tol for
    that many epochs; early stopping then keeps the best epoch's weights), ``warm_start`` (fit continues
    from the fitted network and optimizer state), ``dtype``, ``backend``, ``random_state``, ``verbose``.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", optimizer="adam", learning_rate=None,
                 batch_size="auto", max_iter=200, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, alpha=1e-4, dtype="float64", backend=None, random_state=None,
                 verbose=False, warm_start=False, class_weight=None):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, optimizer=optimizer,
                         learning_rate=learning_rate, batch_size=batch_size, max_iter=max_iter,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, tol=tol, alpha=alpha, dtype=dtype, backend=backend,
                         random_state=random_state, verbose=verbose, warm_start=warm_start)
        self.class_weight = class_weight

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass over (X, y), going on exactly where the last call stopped (network, optimizer state,
        shuffling). The first call needs ``classes``, every label there will be."""
        if _check_partial_fit_first_call(self, classes):
            self._partial_classes = self.classes_  # the first call's classes stand for every later call
            del self.classes_
        return self._partial_fit(X, y, sample_weight, classes=classes)

    @property
    def _output(self):
        return "sigmoid" if len(self.classes_) == 2 else "softmax"

    @property
    def _loss(self):
        return "binary_cross_entropy" if len(self.classes_) == 2 else "cross_entropy"

    def _targets(self, y, first, classes=None):
        """Class ids of y's labels (0..k-1 in the order of classes_): a column of 0/1 for two classes."""
        check_classification_targets(y)
        if first:
            classes = getattr(self, "_partial_classes", None)
            self.classes_ = np.unique(y) if classes is None else np.asarray(classes)
            if hasattr(self, "_partial_classes"):
                del self._partial_classes
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes to learn from; "
                                 f"got 1 class ({self.classes_[0]!r})")
        ids = np.searchsorted(self.classes_, y)
        ids = np.minimum(ids, len(self.classes_) - 1)
        unknown = self.classes_[ids] != y
        if unknown.any():
            raise ValueError(f"y has labels that are not in classes_ {self.classes_.tolist()}: "
                             f"{np.unique(np.asarray(y)[unknown]).tolist()[:5]}")
        return ids.astype(np.float64)[:, None] if len(self.classes_) == 2 else ids

    def _n_outputs(self, targets):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _class_ids(self, targets):
        return targets.ravel().astype(np.intp)

    def _class_weight_ids(self):
        """class_weight with labels turned into class ids, as Trainer.fit takes it."""
        if self.class_weight is None or isinstance(self.class_weight, str):
            return self.class_weight
        if not isinstance(self.class_weight, dict):
            raise TypeError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}, "
                            f"got {self.class_weight!r}")
        ids = {}
        for label, weight in self.class_weight.items():
            where = np.flatnonzero(self.classes_ == label)
            if where.size == 0:
                raise ValueError(f"class_weight has label {label!r}, which is not in classes_ {self.classes_.tolist()}")
            ids[int(where[0])] = weight
        return ids

    def predict(self, X):
        """The most probable label of each sample."""
        X = self._checked(X)
        return self.classes_[self.network_.predict(X)]  # the network's class ids (its classes are unnamed)

    def predict_proba(self, X):
        """(n_samples, n_classes) class probabilities, columns in the order of ``classes_``."""
        X = self._checked(X)
        A = self.network_.forward(X)
        return np.hstack([1 - A, A]) if A.shape[1] == 1 else A

    def predict_log_proba(self, X):
        """log(predict_proba(X)) (-inf for a probability of exactly 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def _checked(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=(np.float64, np.float32))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class Regressor(RegressorMixin, _NetworkEstimator):
    """A neural-network regressor: ``hidden_layer_sizes`` hidden layers of ``activation``, then an
    identity output trained with the mean squared error; one target (y 1-D) or many (y 2-D). ``score``
    is R^2. Parameters as Classifier's (without class_weight)."""

    _output, _loss = "identity", "mse"

    def partial_fit(self, X, y, sample_weight=None):
        """One pass over (X, y), going on exactly where the last call stopped (network, optimizer state,
        shuffling)."""
        return self._partial_fit(X, y, sample_weight)

    def _y_checks(self):
        return {"dtype": (np.float64, np.float32), "y_numeric": True, "multi_output": True}

    def _targets(self, y, first, classes=None):
        y = np.asarray(y, dtype=np.float64)
        if first:
            self._one_target = y.ndim == 1
        elif (y.ndim == 1) != self._one_target:
            raise ValueError(f"y has shape {y.shape}, but the estimator was fitted with "
                             f"{'one target (1-D y)' if self._one_target else 'a 2-D y'}")
        return y.reshape(len(y), -1)

    def _n_outputs(self, targets):
        return targets.shape[1]

    def predict(self, X):
        """The predicted targets: (n_samples,) for one target, (n_samples, n_targets) otherwise."""
        check_is_fitted(self)
        A = self.network_.forward(validate_data(self, X, reset=False, dtype=(np.float64, np.float32)))
        return A[:, 0] if self._one_target else A

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


# skl2onnx converts both (alone or in a Pipeline) with the converters of nn.onnx_sklearn, registered now if
# skl2onnx is imported already, else the moment it is: importing it here would cost every user ~0.9 s.
register_skl2onnx_when_imported()
