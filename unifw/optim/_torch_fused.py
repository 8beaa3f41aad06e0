"""Eager optimizer steps on PyTorch by ``torch.optim``'s own functional implementations.

The Variables of the torch backend are ``torch.nn.Parameter`` objects updated in
place, so their natives can be handed to ``torch.optim.adam.adam`` & co., which
then update parameters and state slots in place: the same kernels (and the
same speed) as ``torch.optim``, with the state still in unifw Variables.
"""
from __future__ import annotations

import torch
from torch.optim import adagrad, adam, rmsprop, sgd

from .adagrad import Adagrad
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .sgd import SGD


def _natives(todo, slot):
    return [s[slot]._native for _, _, s, _ in todo]


def _params_grads(todo):
    return [p._native for _, p, _, _ in todo], [g._native for _, _, _, g in todo]


def _sgd(opt, h, todo):
    if h["momentum"] and h["dampening"]:
        return False  # PyTorch's first-step rule needs a lazily created buffer
    params, grads = _params_grads(todo)
    bufs = _natives(todo, "momentum_buffer") if h["momentum"] else [None] * len(todo)
    with torch.no_grad():
        sgd.sgd(params, grads, bufs, weight_decay=h["weight_decay"], momentum=h["momentum"],
                lr=h["lr"], dampening=h["dampening"], nesterov=h["nesterov"],
                maximize=h["maximize"])
    return True


def _adam(opt, h, todo):
    params, grads = _params_grads(todo)
    beta1, beta2 = h["betas"]
    with torch.no_grad():
        adam.adam(params, grads, _natives(todo, "exp_avg"), _natives(todo, "exp_avg_sq"),
                  _natives(todo, "max_exp_avg_sq") if h["amsgrad"] else [],
                  _natives(todo, "step"), decoupled_weight_decay=type(opt) is AdamW,
                  amsgrad=h["amsgrad"], beta1=beta1, beta2=beta2, lr=h["lr"],
                  weight_decay=h["weight_decay"], eps=h["eps"], maximize=h["maximize"])
    return True


def _adagrad(opt, h, todo):
    params, grads = _params_grads(todo)
    with torch.no_grad():
        adagrad.adagrad(params, grads, _natives(todo, "sum"), _natives(todo, "step"),
                        lr=h["lr"], weight_decay=h["weight_decay"], lr_decay=h["lr_decay"],
                        eps=h["eps"], maximize=h["maximize"])
    return True


def _rmsprop(opt, h, todo):
    params, grads = _params_grads(todo)
    # our RMSprop keeps no step counter (its rule does not use one); PyTorch's wants one
    steps = [torch.zeros((), dtype=torch.int64, device=p.device) for p in params]
    with torch.no_grad():
        rmsprop.rmsprop(params, grads, _natives(todo, "square_avg"),
                        _natives(todo, "grad_avg") if h["centered"] else [],
                        _natives(todo, "momentum_buffer") if h["momentum"] > 0 else [],
                        steps, lr=h["lr"], alpha=h["alpha"], eps=h["eps"],
                        weight_decay=h["weight_decay"], momentum=h["momentum"],
                        centered=h["centered"], maximize=h["maximize"])
    return True


def _increment(var) -> bool:
    with torch.no_grad():
        var._native.add_(1)
    return True


def register_all(register, register_increment) -> None:
    for cls, fn in ((SGD, _sgd), (Adam, _adam), (AdamW, _adam), (Adagrad, _adagrad),
                    (RMSprop, _rmsprop)):
        register("torch", cls, fn)
    register_increment("torch", _increment)
