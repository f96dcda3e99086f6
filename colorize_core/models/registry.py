"""The model registry: one function per architecture, registered by name (timm-style).

An architecture is a function ``build(input_size, *, option=default, ...) -> keras.Model`` decorated
with :func:`register_model`. Its keyword-only parameters *are* its options: :func:`create_model`
rejects any other keyword, and :func:`model_info` lists them with their defaults. The first line of
its docstring is its description.

Every registered model maps the encoded L channel, shape ``(input_size, input_size, 1)`` in [0, 1],
either to the encoded ab channels, shape ``(input_size, input_size, 2)`` (``head="regression"``, see
:mod:`colorize_core.color`), or to Q ab-bin logits at ``1/stride`` of the input size, shape
``(input_size/stride, input_size/stride, Q)`` (``head="classification"``, see
:mod:`colorize_core.classification`).
"""

from __future__ import annotations

import inspect
import numbers
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from colorize_core.errors import InvalidValueError
from colorize_core._lazy import keras
from colorize_core.suggest import did_you_mean

__all__ = [
    "HEADS",
    "ModelInfo",
    "register_model",
    "create_model",
    "list_models",
    "is_model",
    "model_info",
    "check_input_size",
]

#: Every architecture takes square inputs whose side is a positive multiple of this (three stride-2 stages).
INPUT_MULTIPLE = 8
#: What a model's output is: ``"regression"`` (encoded ab) or ``"classification"`` (ab-bin logits).
HEADS = ("regression", "classification")


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one architecture, without building it.

    Attributes:
        name: the registry name (``create_model(name, ...)``).
        description: one line, the first line of the builder's docstring.
        family: ``"study"`` (the original study's six networks), ``"modern"`` (baselines added
            here) or ``"classification"`` (Zhang et al. 2016 classification variants).
        default_output_activation: the activation that ``output_activation="original"`` (every
            model's default) puts on the output layer: ``"relu"``, ``"tanh"`` or ``"sigmoid"``;
            ``"linear"`` for classification models (logits; the softmax is in the loss and decoder).
        options: the keyword options the builder accepts, mapped to their defaults (read-only).
        head: ``"regression"`` (output: 2 encoded ab channels at the input size) or
            ``"classification"`` (output: Q ab-bin logits, trained with the ``cls_rebalanced`` loss).
    """

    name: str
    description: str
    family: str
    default_output_activation: str
    options: Mapping[str, Any]
    head: str = "regression"


@dataclass(frozen=True)
class _Entry:
    info: ModelInfo
    build: Callable[..., keras.Model]


_REGISTRY: dict[str, _Entry] = {}


def _options_of(fn: Callable[..., Any]) -> dict[str, Any]:
    """Keyword-only parameters of a builder with their defaults; checks the builder's signature."""
    params = list(inspect.signature(fn).parameters.values())
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(f"model builder {fn.__name__!r} must take input_size as its first positional argument")
    options: dict[str, Any] = {}
    for param in params[1:]:
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(
                f"model builder {fn.__name__!r}: option {param.name!r} must be keyword-only (after '*')"
            )
        if param.default is inspect.Parameter.empty:
            raise TypeError(f"model builder {fn.__name__!r}: option {param.name!r} needs a default")
        options[param.name] = param.default
    return options


def register_model(
    fn: Callable[..., keras.Model] | None = None,
    *,
    name: str | None = None,
    family: str = "custom",
    default_output_activation: str = "linear",
    head: str = "regression",
) -> Any:
    """Register a model builder by name; usable bare (``@register_model``) or with arguments.

    The builder's signature must be ``(input_size, *, opt=default, ...)``; the registered name is
    ``name`` or the function's name. ``head`` is ``"regression"`` or ``"classification"`` (see
    :class:`ModelInfo`). Registering a name twice raises ``ValueError``. Returns the builder unchanged.
    """
    if head not in HEADS:
        raise InvalidValueError(f"head must be one of {HEADS}, got {head!r}")

    def decorate(builder: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        key = name if name is not None else builder.__name__
        if not isinstance(key, str) or not key:
            raise InvalidValueError(f"model name must be a non-empty str, got {key!r}")
        if key in _REGISTRY:
            raise InvalidValueError(f"a model named {key!r} is already registered")
        doc = inspect.getdoc(builder) or ""
        info = ModelInfo(
            name=key,
            description=doc.splitlines()[0] if doc else "",
            family=family,
            default_output_activation=default_output_activation,
            options=types.MappingProxyType(_options_of(builder)),
            head=head,
        )
        _REGISTRY[key] = _Entry(info=info, build=builder)
        return builder

    if fn is not None:
        return decorate(fn)
    return decorate


def list_models() -> list[str]:
    """Names of all registered architectures, sorted."""
    return sorted(_REGISTRY)


def is_model(name: str) -> bool:
    """Whether ``name`` is a registered architecture."""
    return isinstance(name, str) and name in _REGISTRY


def _entry(name: str) -> _Entry:
    if not is_model(name):
        raise InvalidValueError(f"unknown model {name!r}{did_you_mean(name, list_models())}; known models: {', '.join(list_models())}")
    return _REGISTRY[name]


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of a registered architecture (``ValueError`` if unknown)."""
    return _entry(name).info


def check_input_size(input_size: Any) -> int:
    """Return ``input_size`` as an int if it is a positive multiple of 8, else raise ``ValueError``."""
    if (
        isinstance(input_size, bool)
        or not isinstance(input_size, numbers.Integral)
        or input_size <= 0
        or input_size % INPUT_MULTIPLE
    ):
        raise InvalidValueError(f"input_size must be a positive multiple of {INPUT_MULTIPLE}, got {input_size!r}")
    return int(input_size)


def create_model(name: str, input_size: int, **options: Any) -> keras.Model:
    """Build the architecture ``name`` for square ``input_size`` inputs (a positive multiple of 8).

    ``options`` are the architecture's own (see :func:`model_info`); an unknown one raises
    ``ValueError`` naming it and the allowed ones. The model is a fresh, uncompiled Keras functional
    model with input ``(input_size, input_size, 1)`` and output ``(input_size, input_size, 2)``
    (regression), or ``(input_size/s, input_size/s, Q)`` logits for an integer stride ``s``
    (classification).
    """
    entry = _entry(name)
    size = check_input_size(input_size)
    unknown = sorted(set(options) - set(entry.info.options))
    if unknown:
        allowed = ", ".join(sorted(entry.info.options)) or "none"
        raise InvalidValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for model {name!r}; allowed: {allowed}"
        )
    from colorize_core.losses import register_custom_objects

    register_custom_objects()  # Keras is loaded now: saved models of this session can be loaded back
    model = entry.build(size, **options)
    expected = (None, size, size, 2)
    if entry.info.head == "classification":
        from colorize_core.classification import num_bins

        out = tuple(model.output_shape)
        side = out[1] if len(out) == 4 and isinstance(out[1], int) and out[1] > 0 and size % out[1] == 0 else size
        expected = (None, side, side, num_bins())
    if tuple(model.output_shape) != expected:  # guards custom builders; the built-in ones always match
        raise RuntimeError(f"model {name!r} produced output shape {model.output_shape}, expected {expected}")
    return model
