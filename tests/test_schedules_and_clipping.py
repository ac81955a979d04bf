"""Learning-rate schedules and gradient clipping in training: the rate each epoch trains at, the two
backends equal (float64, 1e-10; 1, 2 and 3 threads; dense and sparse first layers), and PyTorch's
schedulers (stepped once per epoch) and clip_grad_norm_ giving the same weights."""
import math

import numpy as np
import pytest

import nn
from nn import schedules
from nn.backends import available

COMPILED = "compiled" in available()
needs_core = pytest.mark.skipif(not COMPILED, reason="the compiled core is not built")


def problem(rng, n=96, n_in=12, classes=3, sparse=False):
    X = rng.normal(size=(n, n_in))
    if sparse:  # mostly zeros: the compiled first layer runs on lists of nonzeros
        X *= rng.random(X.shape) < 0.2
    return X, rng.integers(0, classes, size=n)


def fit(backend, X, y, make_optimizer, epochs=6, batch_size=16, clip_norm=None, **fit_args):
    net = nn.Network([X.shape[1], 10, 3], activation="tanh", output="softmax", seed=3, backend=backend)
    trainer = nn.Trainer(net, optimizer=make_optimizer(), batch_size=batch_size, seed=5, clip_norm=clip_norm)
    history = trainer.fit(X, y, epochs=epochs, verbose=False, **fit_args)
    return net, history, trainer


SCHEDULES = {
    "step": lambda: schedules.Step(0.2, step_size=2, gamma=0.5),
    "exponential": lambda: schedules.Exponential(0.2, gamma=0.7),
    "cosine-warmup": lambda: schedules.Cosine(0.2, epochs=6, min_rate=0.01, warmup=2),
    "lambda": lambda: (lambda epoch: 0.1 / (1 + epoch)),
    "plateau": lambda: schedules.ReduceOnPlateau(0.2, factor=0.5, patience=0, monitor="loss", min_delta=10.0),
}
OPTIMIZERS = {"sgd": nn.SGD, "momentum": nn.Momentum, "rmsprop": nn.RMSprop, "adam": nn.Adam}


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_each_epoch_trains_at_the_schedules_rate(schedule, rng):
    X, y = problem(rng)
    make = SCHEDULES[schedule]
    net, history, trainer = fit(None, X, y, lambda: nn.SGD(make()), epochs=6)
    expected = make()
    rates = []
    for epoch in range(6):
        rates.append(expected(epoch))
        if hasattr(expected, "on_epoch_end"):
            expected.on_epoch_end(epoch, {"loss": history.loss[epoch]})
    assert history.learning_rate == pytest.approx(rates, rel=1e-15)
    assert trainer.optimizer.rate == history.learning_rate[-1]
    if schedule == "plateau":  # min_delta 10: never an improvement after the first, so halved every epoch
        assert history.learning_rate == pytest.approx([0.2, 0.2, 0.1, 0.05, 0.025, 0.0125])


def test_a_schedule_goes_on_across_fits_and_a_constant_rate_is_logged(rng):
    X, y = problem(rng)
    net = nn.Network([12, 10, 3], seed=0)
    trainer = nn.Trainer(net, optimizer=nn.SGD(schedules.Step(0.1, step_size=1, gamma=0.5)), seed=0)
    first = trainer.fit(X, y, epochs=2, verbose=False)
    second = trainer.fit(X, y, epochs=2, verbose=False)
    assert first.learning_rate + second.learning_rate == [0.1, 0.05, 0.025, 0.0125]
    assert trainer.epoch == 4
    constant = nn.Trainer(nn.Network([12, 10, 3], seed=0), optimizer=nn.Adam(0.003), seed=0).fit(X, y, epochs=2,
                                                                                                 verbose=False)
    assert constant.learning_rate == [0.003, 0.003]


def test_a_constant_schedule_gives_exactly_a_constant_rate(rng):
    X, y = problem(rng)
    plain = fit(None, X, y, lambda: nn.Adam(0.01))[0]
    scheduled = fit(None, X, y, lambda: nn.Adam(lambda epoch: 0.01))[0]
    np.testing.assert_array_equal(plain.theta, scheduled.theta)


@pytest.mark.parametrize("bad, match", [(lambda epoch: float("nan"), "gave nan for epoch 0"),
                                        (lambda epoch: -1.0 if epoch == 2 else 0.1, "gave -1.0 for epoch 2"),
                                        (lambda epoch: "fast", "schedule")])
def test_a_schedule_giving_a_bad_rate_is_refused_naming_the_epoch(bad, match, rng):
    X, y = problem(rng)
    if "epoch 0" in match or "schedule" == match:
        with pytest.raises((ValueError, TypeError), match=match):
            nn.SGD(bad)
        return
    trainer = nn.Trainer(nn.Network([12, 10, 3], seed=0), optimizer=nn.SGD(bad), seed=0)
    with pytest.raises(ValueError, match=match):
        trainer.fit(X, y, epochs=4, verbose=False)


def test_clip_norm_is_checked_and_shown():
    with pytest.raises(ValueError, match="clip_norm"):
        nn.Trainer(nn.Network([2, 2]), clip_norm=0)
    with pytest.raises((ValueError, TypeError), match="clip_norm"):
        nn.Trainer(nn.Network([2, 2]), clip_norm=float("inf"))
    assert "clip_norm=0.5" in repr(nn.Trainer(nn.Network([2, 2]), clip_norm=0.5))


def test_clipping_bounds_every_step_and_a_large_bound_changes_nothing(rng):
    X, y = problem(rng)
    plain = fit(None, X, y, lambda: nn.SGD(0.5), batch_size=8)[0]
    loose = fit(None, X, y, lambda: nn.SGD(0.5), batch_size=8, clip_norm=1e6)[0]
    np.testing.assert_allclose(loose.theta, plain.theta, rtol=1e-12, atol=1e-14)
    start = nn.Network([12, 10, 3], activation="tanh", output="softmax", seed=3).theta
    tight = fit(None, X, y, lambda: nn.SGD(0.5), batch_size=8, clip_norm=1e-3, epochs=1)[0]
    # 12 steps of SGD at rate 0.5 on gradients of norm <= 1e-3 move theta by at most 12 * 0.5 * 1e-3.
    assert np.linalg.norm(tight.theta - start) <= 12 * 0.5 * 1e-3 * (1 + 1e-9)
    assert np.linalg.norm(tight.theta - start) > 0


def test_clip_by_norm_is_the_formula(rng):
    from nn.backends.reference import clip_by_norm
    g = rng.normal(size=50)
    norm = math.sqrt(sum(v * v for v in g))
    clipped = g.copy()
    clip_by_norm(clipped, 0.5)
    np.testing.assert_allclose(clipped, g * 0.5 / (norm + 1e-6), rtol=1e-14)
    unchanged = g.copy()
    clip_by_norm(unchanged, 2 * norm)
    np.testing.assert_array_equal(unchanged, g)


@needs_core
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_cores_sum_of_squares_is_its_numpy_twin(dtype, rng):
    from nn import _core
    x = rng.normal(size=1001).astype(dtype)
    tolerance = 1e-12 if dtype == "float64" else 1e-6
    assert _core.squares(x) == pytest.approx(float(np.dot(x.astype(np.float64), x)), rel=tolerance)
    assert _core.squares(np.zeros(0, dtype=dtype)) == 0


@needs_core
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("schedule, clip_norm", [("cosine-warmup", None), ("plateau", None), ("step", 0.05),
                                                 (None, 0.05), ("lambda", 0.3)])
def test_the_backends_agree_with_schedules_and_clipping(optimizer, schedule, clip_norm, sparse, threads, team, rng):
    X, y = problem(rng, n=160, n_in=40, sparse=sparse)
    base = {"sgd": 0.2, "momentum": 0.05, "rmsprop": 0.005, "adam": 0.005}[optimizer]

    def make():
        rate = base if schedule is None else _scaled(SCHEDULES[schedule](), base / 0.2)
        return OPTIMIZERS[optimizer](rate)

    batch_size = 40  # 40 x 40 x 10 parameters: a batch worth sharing between threads
    ref, h_ref, t_ref = fit("reference", X, y, make, batch_size=batch_size, clip_norm=clip_norm)
    team(threads)
    comp, h_comp, t_comp = fit("compiled", X, y, make, batch_size=batch_size, clip_norm=clip_norm)
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h_comp.loss, h_ref.loss, rtol=1e-10)
    assert h_comp.learning_rate == pytest.approx(h_ref.learning_rate, rel=1e-14)
    assert t_comp.optimizer.steps == t_ref.optimizer.steps


def _scaled(schedule, factor):
    """The schedule's rates times factor (keeps a ReduceOnPlateau's on_epoch_end)."""
    if isinstance(schedule, schedules.Schedule):
        for name in ("rate", "min_rate", "current_rate"):
            if hasattr(schedule, name):
                setattr(schedule, name, getattr(schedule, name) * factor)
        return schedule
    return lambda epoch: schedule(epoch) * factor


# ----- PyTorch ----------------------------------------------------------------------------------------
def _torch_fit(torch, net, X, Y, make_optimizer, make_scheduler, epochs, clip_norm):
    """Full-batch training in PyTorch from net's weights: one step per epoch, the scheduler stepped after
    each epoch, the gradient clipped by clip_grad_norm_ first when clip_norm is given."""
    params = [torch.tensor(p.copy(), requires_grad=True) for layer in net.layers for p in (layer.W, layer.b)]
    optimizer = make_optimizer(params)
    scheduler = make_scheduler(optimizer)
    Xt, yt = torch.tensor(X), torch.tensor(Y.argmax(axis=1))
    for _ in range(epochs):
        optimizer.zero_grad()
        Z = torch.tanh(Xt @ params[0] + params[1]) @ params[2] + params[3]
        torch.nn.functional.cross_entropy(Z, yt).backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return np.concatenate([p.detach().numpy().ravel() for p in params])


# name: (nn's schedule at a base rate, PyTorch's scheduler of an optimizer at that base rate)
TORCH_CASES = {
    "StepLR": (lambda rate: schedules.Step(rate, step_size=3, gamma=0.5),
               lambda torch, o, rate: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    "CosineAnnealingLR": (lambda rate: schedules.Cosine(rate, epochs=10, min_rate=rate / 10),
                          lambda torch, o, rate: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10,
                                                                                            eta_min=rate / 10)),
    "LambdaLR": (lambda rate: (lambda epoch: rate / (1 + epoch)),
                 lambda torch, o, rate: torch.optim.lr_scheduler.LambdaLR(o, lambda epoch: 1 / (1 + epoch))),
}


@pytest.mark.parametrize("case", TORCH_CASES)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_schedules_train_as_pytorchs_schedulers(case, optimizer, rng):
    torch = pytest.importorskip("torch")
    X, y = problem(rng, n=64)
    make_schedule, make_scheduler = TORCH_CASES[case]
    rate = 0.5 if optimizer == "sgd" else 0.01
    schedule = make_schedule(rate)
    net = nn.Network([12, 10, 3], activation="tanh", output="softmax", seed=3)
    torch_optimizer = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
    torch_theta = _torch_fit(torch, net, X, np.eye(3)[y], lambda p: torch_optimizer(p, lr=rate),
                             lambda o: make_scheduler(torch, o, rate), epochs=10, clip_norm=None)
    opt = nn.SGD(schedule) if optimizer == "sgd" else nn.Adam(schedule)
    nn.Trainer(net, optimizer=opt, batch_size=None, seed=0).fit(X, y, epochs=10, verbose=False)
    np.testing.assert_allclose(net.theta, torch_theta, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("clip_norm", [0.05, 1e3])
def test_clipping_trains_as_pytorchs_clip_grad_norm(optimizer, clip_norm, rng):
    torch = pytest.importorskip("torch")
    X, y = problem(rng, n=64)
    net = nn.Network([12, 10, 3], activation="tanh", output="softmax", seed=3)
    make_torch = {"sgd": lambda p: torch.optim.SGD(p, lr=0.5),
                  "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                  "adam": lambda p: torch.optim.Adam(p, lr=0.01)}[optimizer]
    torch_theta = _torch_fit(torch, net, X, np.eye(3)[y], make_torch, lambda o: None, epochs=8, clip_norm=clip_norm)
    opt = {"sgd": lambda: nn.SGD(0.5), "momentum": lambda: nn.Momentum(0.1, 0.9),
           "adam": lambda: nn.Adam(0.01)}[optimizer]()
    nn.Trainer(net, optimizer=opt, batch_size=None, seed=0, clip_norm=clip_norm).fit(X, y, epochs=8, verbose=False)
    np.testing.assert_allclose(net.theta, torch_theta, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("backend", available())
def test_a_divergence_inside_a_run_of_epochs_keeps_the_good_epochs_count(backend, rng):
    """Epochs run in one backend call: the epochs before the one that diverged stay in the history and
    in the trainer's epoch count (the schedule and dropout's keys go on from there)."""
    X, y = problem(rng)
    net = nn.Network([12, 10, 3], seed=0, backend=backend)
    blow_up = lambda epoch: 0.01 if epoch < 2 else 1e300  # noqa: E731
    trainer = nn.Trainer(net, optimizer=nn.SGD(blow_up), seed=0)
    with pytest.raises(nn.TrainingDiverged) as caught:
        trainer.fit(X, y, epochs=5, verbose=False)
    assert trainer.epoch == 2 and len(caught.value.history) == 2
    assert caught.value.history.learning_rate == [0.01, 0.01]
    assert np.all(np.isfinite(net.theta))


def test_a_plateau_schedule_on_validation_needs_validation_data(rng):
    X, y = problem(rng)
    net = nn.Network([12, 10, 3], seed=0)
    before = net.theta
    trainer = nn.Trainer(net, optimizer=nn.SGD(schedules.ReduceOnPlateau(0.1)), seed=0)
    with pytest.raises(ValueError, match="monitors 'val_loss' but there is no validation data"):
        trainer.fit(X, y, epochs=2, verbose=False)
    np.testing.assert_array_equal(net.theta, before)
    assert trainer.epoch == 0
