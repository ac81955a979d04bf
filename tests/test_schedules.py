"""Learning-rate schedules: each formula over the epochs, ReduceOnPlateau worked by hand, the same rates
as PyTorch's schedulers (MultiStepLR included), rate_at's checks, state and load_state, argument checks, pickle and deepcopy."""
import copy
import json
import math
import pickle

import numpy as np
import pytest

from nn.schedules import Cosine, Exponential, MultiStep, ReduceOnPlateau, Schedule, Step, rate_at

EPOCHS = 30
CLONES = {"pickle": lambda obj: pickle.loads(pickle.dumps(obj)), "deepcopy": copy.deepcopy}


def stateless_schedules():
    return [Step(0.1, step_size=4, gamma=0.5), Exponential(0.2, gamma=0.9), Cosine(0.1, 20, min_rate=0.001),
            Cosine(0.1, 20, min_rate=0.001, warmup=5), MultiStep(0.1, [3, 7, 12], gamma=0.5)]


def follow(schedule, values, monitor="val_loss"):
    """The rate of each epoch of a run whose monitored value after epoch e is values[e]."""
    rates = []
    for epoch, value in enumerate(values):
        rates.append(schedule(epoch))
        schedule.on_epoch_end(epoch, {"loss": 0.5, monitor: value})
    return rates


# --- the formulas ---------------------------------------------------------------------------------------

def test_step_multiplies_by_gamma_every_step_size_epochs():
    schedule = Step(0.1, step_size=3, gamma=0.5)
    assert [schedule(epoch) for epoch in range(7)] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    for epoch in range(EPOCHS):
        assert schedule(epoch) == pytest.approx(0.1 * 0.5 ** (epoch // 3), rel=1e-15)


def test_step_gamma_defaults_to_a_tenth():
    assert Step(1.0, step_size=2)(4) == pytest.approx(0.01, rel=1e-15)


def test_multi_step_multiplies_by_gamma_at_each_milestone():
    schedule = MultiStep(0.1, [2, 5], gamma=0.5)
    assert [schedule(epoch) for epoch in range(8)] == [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025]
    assert MultiStep(0.3, [1], gamma=0.3)(1) == 0.3 * 0.3  # 1 / 0.3 is no whole number: rate * gamma
    assert MultiStep(0.1, [])(100) == 0.1


def test_multi_step_divides_by_ten_as_a_division_does():
    # gamma 0.1: 0.1 / 10 is 0.01, 0.1 * 0.1 is 0.010000000000000002; nn train's fine-tune epochs were run at
    # the rate divided by 10, and MultiStep keeps that float
    schedule = MultiStep(0.1, [3])
    assert schedule.gamma == 0.1 and [schedule(epoch) for epoch in range(5)] == [0.1, 0.1, 0.1, 0.1 / 10, 0.1 / 10]
    assert 0.1 / 10 != 0.1 * 0.1
    assert MultiStep(0.09, [1, 2])(2) == 0.09 / 100
    assert MultiStep(0.3, [1, 2])(2) == pytest.approx(0.3 * 0.1 ** 2, rel=1e-15)


def test_multi_step_arguments_travel_as_json():
    schedule = MultiStep(0.1, np.array([2, 4]), gamma=0.5)
    assert schedule.milestones == [2, 4] and all(type(m) is int for m in schedule.milestones)
    twin = MultiStep(**json.loads(json.dumps(schedule._hyper_parameters())))
    assert repr(twin) == repr(schedule) == "MultiStep(rate=0.1, milestones=[2, 4], gamma=0.5)"


def test_exponential_multiplies_by_gamma_every_epoch():
    schedule = Exponential(0.2, gamma=0.9)
    assert schedule(0) == 0.2
    for epoch in range(EPOCHS):
        assert schedule(epoch) == pytest.approx(0.2 * 0.9 ** epoch, rel=1e-15)


def test_cosine_goes_from_rate_to_min_rate_in_half_a_cosine_then_stays():
    schedule = Cosine(0.1, 20, min_rate=0.001)
    assert schedule(0) == 0.1
    assert schedule(10) == pytest.approx((0.1 + 0.001) / 2, rel=1e-15)  # half-way: the mean
    assert schedule(20) == pytest.approx(0.001, rel=1e-15)
    for epoch in range(21):
        expected = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * epoch / 20)) / 2
        assert schedule(epoch) == pytest.approx(expected, rel=1e-15)
    assert [schedule(epoch) for epoch in range(21, 40)] == [0.001] * 19


def test_cosine_min_rate_defaults_to_zero():
    assert Cosine(0.1, 4)(4) == 0.0
    assert Cosine(0.1, 4)(5) == 0.0


def test_cosine_warms_up_linearly_then_starts_its_cosine_at_rate():
    schedule = Cosine(0.1, 20, min_rate=0.001, warmup=5)
    for epoch in range(5):
        assert schedule(epoch) == pytest.approx(0.1 * (epoch + 1) / 5, rel=1e-15)
    assert schedule(4) == schedule(5) == 0.1  # the last warm-up epoch reaches rate, the cosine starts there
    for epoch in range(5, 21):
        expected = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * (epoch - 5) / 15)) / 2
        assert schedule(epoch) == pytest.approx(expected, rel=1e-15)
    assert schedule(20) == pytest.approx(0.001, rel=1e-15)
    assert schedule(21) == schedule(100) == 0.001


@pytest.mark.parametrize("schedule", stateless_schedules(), ids=repr)
def test_stateless_schedules_may_be_asked_in_any_order(schedule):
    in_order = [schedule(epoch) for epoch in range(EPOCHS)]
    shuffled = np.random.default_rng(0).permutation(EPOCHS)
    assert [schedule(int(epoch)) for epoch in shuffled] == [in_order[epoch] for epoch in shuffled]
    assert schedule.state() == {}


@pytest.mark.parametrize("schedule", stateless_schedules(), ids=repr)
def test_numpy_epochs_are_epochs_and_rates_are_floats(schedule):
    assert schedule(np.int64(3)) == schedule(3)
    assert type(schedule(3)) is float


# --- ReduceOnPlateau ------------------------------------------------------------------------------------

def test_reduce_on_plateau_worked_by_hand():
    schedule = ReduceOnPlateau(1.0, factor=0.5, patience=1)
    values = [3, 2, 2, 2, math.nan, 1, 1, 1]
    # e0, e1 improve; e2, e3 do not: wait 2 > patience -> halved for e4; e4 NaN (wait 1), e5 improves;
    # e6, e7 do not -> halved again for e8
    rates = follow(schedule, values)
    assert rates + [schedule(8)] == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]
    assert schedule.state() == {"current_rate": 0.25, "best": 1.0, "wait": 0}


def test_reduce_on_plateau_with_patience_zero_reduces_after_each_epoch_without_improvement():
    schedule = ReduceOnPlateau(1.0, factor=0.5, patience=0)
    assert follow(schedule, [1, 1, 0.5, 0.7, 0.7]) + [schedule(5)] == [1, 1, 0.5, 0.5, 0.25, 0.125]


def test_an_improvement_must_beat_the_best_by_more_than_min_delta():
    schedule = ReduceOnPlateau(1.0, factor=0.5, patience=1, min_delta=0.1)
    follow(schedule, [1.0, 0.95, 0.9])  # 0.95 and 0.9 are within min_delta of 1.0 (0.9: exactly, not beyond)
    assert schedule(3) == 0.5 and schedule.state()["best"] == 1.0
    follow(schedule, [0.85])
    assert schedule.state()["best"] == 0.85 and schedule.state()["wait"] == 0


def test_nan_is_never_an_improvement():
    schedule = ReduceOnPlateau(1.0, factor=0.5, patience=2)
    follow(schedule, [math.nan] * 3)
    assert schedule(3) == 0.5 and schedule.state()["best"] is None


def test_the_rate_stops_at_min_rate():
    schedule = ReduceOnPlateau(1.0, factor=0.1, patience=0, min_rate=0.05)
    rates = follow(schedule, [1.0] * 5)
    assert rates == [1.0, 1.0, pytest.approx(0.1, rel=1e-15), 0.05, 0.05]


def test_a_reduction_smaller_than_pytorchs_eps_is_not_made():
    schedule = ReduceOnPlateau(1e-7, factor=0.1, patience=0)
    rates = follow(schedule, [1.0] * 5)
    # 1e-7 -> 1e-8 lowers it by 9e-8; 1e-8 -> 1e-9 would lower it by 9e-9 <= 1e-8: kept
    assert rates[2] == pytest.approx(1e-8, rel=1e-15)
    assert rates[3:] == [rates[2]] * 2


def test_accuracies_improve_upwards():
    schedule = ReduceOnPlateau(1.0, factor=0.5, patience=0, monitor="val_accuracy", min_delta=0.01)
    rates = follow(schedule, [0.5, 0.6, 0.605, 0.7, 0.3], monitor="val_accuracy")
    assert rates + [schedule(5)] == [1, 1, 1, 0.5, 0.5, 0.25]
    assert schedule.state()["best"] == 0.7


def test_the_monitored_value_may_be_a_numpy_scalar():
    schedule = ReduceOnPlateau(1.0, patience=0, monitor="loss")
    schedule.on_epoch_end(0, {"loss": np.float32(0.5)})
    assert schedule.state()["best"] == 0.5 and type(schedule.state()["best"]) is float


def test_the_logs_must_have_the_monitored_value():
    schedule = ReduceOnPlateau(0.1)
    with pytest.raises(ValueError, match=r"ReduceOnPlateau monitors 'val_loss', which the logs do not have "
                                         r"\(loss, accuracy\)"):
        schedule.on_epoch_end(0, {"loss": 0.3, "accuracy": 0.9})
    with pytest.raises(ValueError, match="'val_loss', which must be a number in the logs, got 'high'"):
        schedule.on_epoch_end(0, {"val_loss": "high"})


def test_reduce_on_plateau_rate_does_not_depend_on_the_epoch_asked():
    schedule = ReduceOnPlateau(0.1, patience=0)
    schedule.on_epoch_end(0, {"val_loss": 1.0})
    schedule.on_epoch_end(1, {"val_loss": 1.0})
    assert schedule(2) == schedule(0) == schedule(50) == pytest.approx(0.01, rel=1e-15)


# --- state and load_state -------------------------------------------------------------------------------

PLATEAUS = [1.0, 0.8, 0.8, 0.8, 0.79, 0.6, math.nan, 0.6, 0.61, 0.6, 0.5, 0.5, 0.5, 0.5, 0.4]


@pytest.mark.parametrize("stop", [1, 3, 5, 8])
def test_a_run_restored_from_its_state_goes_on_as_the_uninterrupted_one(stop):
    def make():
        return ReduceOnPlateau(0.1, factor=0.5, patience=1, min_delta=0.005, min_rate=0.01)

    uninterrupted = make()
    expected = follow(uninterrupted, PLATEAUS)
    first = make()
    before = follow(first, PLATEAUS[:stop])
    saved = json.loads(json.dumps(first.state()))  # plain numbers: no pickle needed
    resumed = make()
    resumed.load_state(saved)
    after = []
    for epoch in range(stop, len(PLATEAUS)):
        after.append(resumed(epoch))
        resumed.on_epoch_end(epoch, {"val_loss": PLATEAUS[epoch]})
    assert before + after == expected
    assert resumed.state() == uninterrupted.state()


def test_state_holds_plain_python_values():
    schedule = ReduceOnPlateau(0.1, patience=0)
    assert schedule.state() == {"current_rate": 0.1, "best": None, "wait": 0}
    follow(schedule, [np.float64(0.5), 0.6])
    state = schedule.state()
    assert state == {"current_rate": pytest.approx(0.01, rel=1e-15), "best": 0.5, "wait": 0}
    assert [type(state[key]) for key in ("current_rate", "best", "wait")] == [float, float, int]


@pytest.mark.parametrize("state, match", [
    ({"current_rate": 0.1, "best": None, "wait": 0, "epoch": 3}, "unexpected key 'epoch'"),
    ({"current_rate": 0.1, "wait": 0}, "missing the key 'best'"),
    ({"rate": 0.1, "best": None, "wait": 0}, "unexpected key 'rate'"),
    ({"current_rate": 0.1, "best": math.nan, "wait": 0}, "best must be None or a number"),
    ({"current_rate": 0.1, "best": "low", "wait": 0}, "best must be None or a number"),
    ({"current_rate": 0.1, "best": 0.5, "wait": -1}, "wait must be >= 0"),
    ({"current_rate": 0.5, "best": 0.5, "wait": 0}, "current_rate must be <= 0.1"),
])
def test_load_state_checks_the_keys_and_values(state, match):
    schedule = ReduceOnPlateau(0.1)
    with pytest.raises(ValueError, match=match):
        schedule.load_state(state)
    assert schedule.state() == {"current_rate": 0.1, "best": None, "wait": 0}  # untouched


@pytest.mark.parametrize("schedule", stateless_schedules(), ids=repr)
def test_stateless_schedules_load_only_the_empty_state(schedule):
    schedule.load_state({})
    with pytest.raises(ValueError, match="unexpected key 'wait'"):
        schedule.load_state({"wait": 0})


# --- repr, arguments, travel ----------------------------------------------------------------------------

@pytest.mark.parametrize("schedule, text", [
    (Step(0.1, 10, gamma=0.5), "Step(rate=0.1, step_size=10, gamma=0.5)"),
    (Exponential(0.1, 0.95), "Exponential(rate=0.1, gamma=0.95)"),
    (MultiStep(0.1, (10, 20)), "MultiStep(rate=0.1, milestones=[10, 20], gamma=0.1)"),
    (Cosine(0.1, 50, warmup=5), "Cosine(rate=0.1, epochs=50, min_rate=0.0, warmup=5)"),
    (ReduceOnPlateau(0.1, patience=3, monitor="loss"),
     "ReduceOnPlateau(rate=0.1, factor=0.1, patience=3, monitor='loss', min_delta=0.0, min_rate=0.0)"),
])
def test_repr_shows_the_constructor_arguments(schedule, text):
    assert repr(schedule) == text


@pytest.mark.parametrize("make, error, match", [
    (lambda: Step(0, 10), ValueError, "rate must be > 0"),
    (lambda: Step(-0.1, 10), ValueError, "rate must be > 0"),
    (lambda: Step(math.inf, 10), TypeError, "rate must be a finite number"),
    (lambda: Step("0.1", 10), TypeError, "rate must be a finite number"),
    (lambda: Step(0.1, 0), ValueError, "step_size must be >= 1"),
    (lambda: Step(0.1, 2.5), TypeError, "step_size must be an integer"),
    (lambda: Step(0.1, 10, gamma=0), ValueError, "gamma must be > 0"),
    (lambda: Exponential(0.1, gamma=-0.5), ValueError, "gamma must be > 0"),
    (lambda: MultiStep(0, [1]), ValueError, "rate must be > 0"),
    (lambda: MultiStep(0.1, 3), TypeError, "milestones must be a list of epochs, got 3"),
    (lambda: MultiStep(0.1, "12"), TypeError, "milestones must be a list of epochs, got '12'"),
    (lambda: MultiStep(0.1, [0, 3]), ValueError, r"milestones\[0\] must be >= 1, got 0"),
    (lambda: MultiStep(0.1, [2, 2.5]), TypeError, r"milestones\[1\] must be an integer, got 2.5"),
    (lambda: MultiStep(0.1, [5, 3]), ValueError, r"milestones must be increasing, got \[5, 3\]"),
    (lambda: MultiStep(0.1, [3, 3]), ValueError, r"milestones must be increasing, got \[3, 3\]"),
    (lambda: MultiStep(0.1, [3], gamma=0), ValueError, "gamma must be > 0"),
    (lambda: Exponential(0.1, gamma=math.nan), TypeError, "gamma must be a finite number"),
    (lambda: Exponential(True, gamma=0.9), TypeError, "rate must be a finite number"),
    (lambda: Cosine(0.1, 0), ValueError, "epochs must be >= 1"),
    (lambda: Cosine(0.1, 10.0), TypeError, "epochs must be an integer"),
    (lambda: Cosine(0.1, 10, min_rate=-0.01), ValueError, "min_rate must be >= 0"),
    (lambda: Cosine(0.1, 10, min_rate=0.2), ValueError, "min_rate must be <= 0.1"),
    (lambda: Cosine(0.1, 10, warmup=-1), ValueError, "warmup must be >= 0"),
    (lambda: Cosine(0.1, 10, warmup=10), ValueError, r"warmup must be < epochs \(10\), got 10"),
    (lambda: ReduceOnPlateau(0), ValueError, "rate must be > 0"),
    (lambda: ReduceOnPlateau(0.1, factor=1.0), ValueError, r"factor must be a fraction in \(0, 1\)"),
    (lambda: ReduceOnPlateau(0.1, factor=0), ValueError, r"factor must be a fraction in \(0, 1\)"),
    (lambda: ReduceOnPlateau(0.1, patience=-1), ValueError, "patience must be >= 0"),
    (lambda: ReduceOnPlateau(0.1, patience=None), TypeError, "patience must be an integer"),
    (lambda: ReduceOnPlateau(0.1, monitor=""), ValueError, "monitor must be the name of a logged value"),
    (lambda: ReduceOnPlateau(0.1, monitor=None), ValueError, "monitor must be the name of a logged value"),
    (lambda: ReduceOnPlateau(0.1, min_delta=-1e-3), ValueError, "min_delta must be >= 0"),
    (lambda: ReduceOnPlateau(0.1, min_rate=0.5), ValueError, "min_rate must be <= 0.1"),
])
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("epoch, error, match", [
    (-1, ValueError, "epoch must be >= 0"),
    (1.0, TypeError, "epoch must be an integer"),
    (True, TypeError, "epoch must be an integer"),
])
def test_the_epoch_is_a_whole_number_from_zero(epoch, error, match):
    for schedule in stateless_schedules() + [ReduceOnPlateau(0.1)]:
        with pytest.raises(error, match=match):
            schedule(epoch)


@pytest.mark.parametrize("clone", CLONES.values(), ids=CLONES.keys())
def test_schedules_travel_and_the_copy_is_independent(clone):
    for schedule in stateless_schedules():
        twin = clone(schedule)
        assert repr(twin) == repr(schedule)
        assert [twin(epoch) for epoch in range(EPOCHS)] == [schedule(epoch) for epoch in range(EPOCHS)]
    schedule = ReduceOnPlateau(0.1, factor=0.5, patience=1)
    follow(schedule, PLATEAUS[:5])
    twin = clone(schedule)
    assert repr(twin) == repr(schedule) and twin.state() == schedule.state()
    assert follow(twin, PLATEAUS[5:]) == follow(schedule, PLATEAUS[5:])
    twin.on_epoch_end(0, {"val_loss": 1e9})
    assert twin.state() != schedule.state()


def test_a_schedule_needs_a_rate_formula():
    with pytest.raises(NotImplementedError):
        Schedule()(0)


# --- rate_at --------------------------------------------------------------------------------------------

def test_rate_at_a_number_is_that_number_as_a_float():
    assert rate_at(0.1, 7) == 0.1
    assert rate_at(np.float32(0.5), 0) == 0.5 and type(rate_at(np.float32(0.5), 0)) is float
    assert rate_at(1, 0) == 1.0 and type(rate_at(1, 0)) is float
    assert rate_at(0.0, 3) == 0.0


def test_rate_at_a_callable_asks_it_for_the_epoch():
    assert rate_at(lambda epoch: 0.1 / (epoch + 1), 4) == pytest.approx(0.02, rel=1e-15)
    assert rate_at(Step(0.1, 2, gamma=0.5), 5) == pytest.approx(0.1 * 0.5 ** 2, rel=1e-15)
    assert type(rate_at(lambda epoch: np.float64(0.1), 0)) is float
    assert type(rate_at(lambda epoch: 1, 0)) is float


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1, True, np.bool_(True), "0.1", None, [0.1],
                                 np.array([0.1])], ids=repr)
def test_rate_at_rejects_what_is_not_a_rate(bad):
    with pytest.raises(ValueError, match=r"the learning_rate schedule gave .* for epoch 3; "
                                         r"a rate must be a finite number >= 0"):
        rate_at(lambda epoch: bad, 3)
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0 or a schedule"):
        rate_at(bad, 3)


def test_rate_at_names_the_value_the_schedule_gave():
    with pytest.raises(ValueError, match="the learning_rate schedule gave nan for epoch 3"):
        rate_at(lambda epoch: math.nan, 3)
    with pytest.raises(ValueError, match="the learning_rate schedule gave -0.5 for epoch 0"):
        rate_at(lambda epoch: -0.5, 0)


# --- against PyTorch ------------------------------------------------------------------------------------

def torch_rates(make_scheduler, rate, epochs=EPOCHS, values=None):
    """PyTorch's rate before each epoch: SGD on one parameter, the scheduler stepped once per epoch (with
    values[epoch], the monitored value, when given)."""
    torch = pytest.importorskip("torch")
    parameter = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([parameter], lr=rate)
    scheduler = make_scheduler(torch.optim.lr_scheduler, optimizer)
    rates = []
    for epoch in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if values is None:
            scheduler.step()
        else:
            scheduler.step(values[epoch])
    return rates


def assert_rates_equal(ours, theirs, rel=1e-12, abs=0.0):
    assert len(ours) == len(theirs)
    for epoch, (a, b) in enumerate(zip(ours, theirs)):
        assert a == pytest.approx(b, rel=rel, abs=abs), f"epoch {epoch}: nn {a!r}, PyTorch {b!r}"


def test_step_is_pytorchs_step_lr():
    theirs = torch_rates(lambda s, opt: s.StepLR(opt, step_size=4, gamma=0.5), 0.1)
    schedule = Step(0.1, step_size=4, gamma=0.5)
    assert_rates_equal([schedule(epoch) for epoch in range(EPOCHS)], theirs)


@pytest.mark.parametrize("rate, milestones, gamma", [(0.1, [3, 7, 12], 0.1), (0.2, [1, 2, 20], 0.5),
                                                    (0.05, [4, 10], 0.3)])
def test_multi_step_is_pytorchs_multi_step_lr(rate, milestones, gamma):
    theirs = torch_rates(lambda s, opt: s.MultiStepLR(opt, milestones=milestones, gamma=gamma), rate)
    schedule = MultiStep(rate, milestones, gamma=gamma)
    assert_rates_equal([schedule(epoch) for epoch in range(EPOCHS)], theirs)


def test_exponential_is_pytorchs_exponential_lr():
    theirs = torch_rates(lambda s, opt: s.ExponentialLR(opt, gamma=0.9), 0.2)
    schedule = Exponential(0.2, gamma=0.9)
    assert_rates_equal([schedule(epoch) for epoch in range(EPOCHS)], theirs)


def test_cosine_is_pytorchs_cosine_annealing_lr_up_to_its_epochs():
    theirs = torch_rates(lambda s, opt: s.CosineAnnealingLR(opt, T_max=EPOCHS - 1, eta_min=0.001), 0.1)
    schedule = Cosine(0.1, EPOCHS - 1, min_rate=0.001)
    assert_rates_equal([schedule(epoch) for epoch in range(EPOCHS)], theirs)


def test_cosine_down_to_zero_is_pytorchs_up_to_rounding_at_the_end():
    # PyTorch's recursive form ends a rounding error away from 0, which no relative tolerance accepts
    theirs = torch_rates(lambda s, opt: s.CosineAnnealingLR(opt, T_max=EPOCHS - 1), 0.1)
    schedule = Cosine(0.1, EPOCHS - 1)
    assert_rates_equal([schedule(epoch) for epoch in range(EPOCHS)], theirs, abs=1e-15)


def test_a_users_function_is_pytorchs_lambda_lr():
    def decay(epoch):
        return 1 / (1 + 0.3 * epoch)

    theirs = torch_rates(lambda s, opt: s.LambdaLR(opt, decay), 0.1)
    assert_rates_equal([rate_at(lambda epoch: 0.1 * decay(epoch), epoch) for epoch in range(EPOCHS)], theirs)


# plateaus, improvements smaller than min_delta, a real improvement, NaNs, the floor of min_rate
MONITORED = [1.0, 0.9, 0.9, 0.895, 0.9, 0.8, math.nan, math.nan, math.nan, 0.5,
             0.5, 0.5, 0.5, 0.45, 0.44, 0.5, 0.3, 0.3, math.nan, 0.3,
             0.3, 0.3, 0.3, 0.3, 0.29, 0.2, 0.2, 0.2, 0.2, 0.2]


@pytest.mark.parametrize("rate, factor, patience, min_delta, min_rate", [
    (0.1, 0.5, 2, 0.01, 0.01),
    (0.1, 0.1, 0, 0.0, 0.0),
    (1e-6, 0.1, 1, 0.0, 0.0),  # reaches PyTorch's eps: the last reduction is not made
    (0.3, 0.7, 3, 0.05, 0.0),
])
def test_reduce_on_plateau_is_pytorchs_reduce_lr_on_plateau(rate, factor, patience, min_delta, min_rate):
    theirs = torch_rates(lambda s, opt: s.ReduceLROnPlateau(
        opt, mode="min", factor=factor, patience=patience, threshold=min_delta, threshold_mode="abs",
        min_lr=min_rate, cooldown=0), rate, values=MONITORED)
    schedule = ReduceOnPlateau(rate, factor=factor, patience=patience, min_delta=min_delta, min_rate=min_rate)
    ours = follow(schedule, MONITORED)
    assert_rates_equal(ours, theirs)
    assert len(set(ours)) > 2  # the sequence does reduce the rate, more than once


def test_reduce_on_plateau_of_an_accuracy_is_pytorchs_in_max_mode():
    accuracies = [1 - value for value in MONITORED]
    theirs = torch_rates(lambda s, opt: s.ReduceLROnPlateau(
        opt, mode="max", factor=0.5, patience=1, threshold=0.01, threshold_mode="abs"), 0.1, values=accuracies)
    schedule = ReduceOnPlateau(0.1, factor=0.5, patience=1, monitor="accuracy", min_delta=0.01)
    assert_rates_equal(follow(schedule, accuracies, monitor="accuracy"), theirs)
