"""Bad input to the torch optimizers of pde_sgd.optim is a ValueError naming the parameter, raised before any
parameter changes: bools as numbers, caps below their start inside param groups, batched gradient functions
of the wrong shape, closures returning None or never calling backward, state_dicts of another optimizer or
model, and (opt-in check_finite) non-finite gradients; by default NaN propagates exactly as in torch.optim.SGD."""
import pytest
import torch

from pde_sgd.optim import VSGD, ElasticSGD, EntropySGD, NudgedSGD, Parle

ALL = [EntropySGD, ElasticSGD, Parle, VSGD, NudgedSGD]


def _x(n=3):
    return torch.linspace(-1.0, 1.0, n, dtype=torch.float64).requires_grad_(True)


def _closure(opt, x, scale=1.0):
    def c():
        opt.zero_grad()
        loss = 0.5 * scale * (x * x).sum()
        loss.backward()
        return loss
    return c


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("name", ["lr", "gamma"])
def test_a_bool_is_not_a_number(cls, name):
    if name == "gamma" and cls in (ElasticSGD, VSGD):
        name = "lr"
    with pytest.raises(ValueError, match=f"{name} must be a real number.*bool"):
        cls([_x()], **{name: True})
    if name == "lr" and cls is not NudgedSGD:
        with pytest.raises(ValueError, match="lr must be a real number.*bool"):
            cls([{"params": [_x()], "lr": True}])


@pytest.mark.parametrize("cls, group, name", [
    (ElasticSGD, {"rho": 20.0}, "rho_max"), (ElasticSGD, {"rho": 1.0, "rho_max": 0.5}, "rho_max"),
    (Parle, {"gamma_max": 1e-3}, "gamma_max"), (Parle, {"rho": 11.0}, "rho_max")])
def test_caps_below_their_start_inside_param_groups(cls, group, name):
    with pytest.raises(ValueError, match=f"{name} must be >="):
        cls([{"params": [_x()]}, {"params": [_x()], **group}])


@pytest.mark.parametrize("out, message", [
    ((torch.zeros(2), [torch.zeros(())]), r"gradient 0 must have shape \(2, 3\)"),
    ((torch.zeros(2), []), "returned 0 gradient"),
    ((torch.zeros(2), [torch.zeros(2, 3), torch.zeros(2, 3)]), "returned 2 gradient"),
    ((torch.zeros(()), [torch.zeros(2, 3)]), r"losses of shape \(2,\)"),
    (torch.zeros(2), r"\(losses, gradients\)")])
@pytest.mark.parametrize("cls", [ElasticSGD, Parle])
def test_batched_gradients_of_the_wrong_shape(cls, out, message):
    x = _x()
    opt = cls([x], n_replicas=2)
    with pytest.raises(ValueError, match=message):
        opt.step(batched=lambda points: out)
    assert torch.equal(x.detach(), _x().detach()) and opt.t == 0


@pytest.mark.parametrize("cls", [EntropySGD, ElasticSGD, Parle])
@pytest.mark.parametrize("closure, message", [("none", "returned None"), ("no_backward", "set no gradient")])
def test_closures_that_return_none_or_never_call_backward(cls, closure, message):
    x = _x()
    opt = cls([x], **({"L": 2} if cls is not ElasticSGD else {}))
    _closure(opt, x)()       # a stale gradient from an earlier call must not be stepped on

    def c():
        loss = (x * x).sum()
        return None if closure == "none" else loss
    with pytest.raises(ValueError, match=message):
        opt.step(c)
    assert torch.equal(x.detach(), _x().detach()) and opt.t == 0


def test_nudged_closure_must_return_a_differentiable_loss():
    x = _x()
    for bad in (None, torch.zeros(())):
        with pytest.raises(ValueError, match="closure must return the mini-batch loss"):
            NudgedSGD([x]).step(lambda: bad)


@pytest.mark.parametrize("cls", ALL)
def test_state_dict_of_another_optimizer_or_model_is_refused(cls):
    x = _x()
    with pytest.raises(ValueError, match="not written by"):
        cls([x]).load_state_dict(torch.optim.SGD([x], lr=0.1).state_dict())
    other = EntropySGD if cls is not EntropySGD else VSGD
    with pytest.raises(ValueError, match=f"written by {other.__name__}, not {cls.__name__}"):
        cls([x]).load_state_dict(other([x]).state_dict())
    with pytest.raises(ValueError, match=r"shapes \[\[3\]\].*\[\[4\]\]"):
        cls([_x(4)]).load_state_dict(cls([x]).state_dict())


def test_nan_gradients_propagate_like_torch_sgd_by_default():
    """torch's optimizers do not check: a NaN gradient gives NaN parameters; ours do the same by default."""
    for make in (lambda p: torch.optim.SGD(p, lr=0.1), lambda p: EntropySGD(p, L=0), lambda p: VSGD(p)):
        x = _x()
        opt = make([x])
        opt.step(_closure(opt, x, scale=float("nan")))
        assert torch.isnan(x.detach()).all()


@pytest.mark.parametrize("cls", ALL)
def test_check_finite_refuses_a_nan_gradient_before_any_change(cls):
    x = _x()
    kw = {"n_iter": 3, "k": 1} if cls is NudgedSGD else {}
    opt = cls([x], check_finite=True, **kw)
    if cls is NudgedSGD:
        closure = lambda: 0.5 * float("nan") * (x * x).sum()  # noqa: E731
    else:
        closure = _closure(opt, x, scale=float("nan"))
    with pytest.raises(ValueError, match="parameter 0.*NaN or inf.*no parameter was changed"):
        opt.step(closure)
    assert torch.equal(x.detach(), _x().detach())
    assert not any(torch.is_tensor(v) and v.isnan().any() for s in opt.state.values() for v in s.values())
    # a finite step still works
    opt.step(_closure(opt, x) if cls is not NudgedSGD else (lambda: 0.5 * (x * x).sum()))
    assert not torch.equal(x.detach(), _x().detach())
