"""Typer options made from :class:`~muybridge.animation.options.AnimationOptions`: each field becomes a
``--flag`` with the field's type, default and help, on exactly the verbs whose mode uses it.

Typer reads a command's parameters from its signature; :func:`with_animation_options` appends the options to
the signature of a verb written as ``def verb(positional..., **options)``, so the verb's body receives them
as keyword arguments and turns them into one checked ``AnimationOptions``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from muybridge.animation.options import AnimationOptions, flag_name, option_fields, option_types, spec_of

Verb = TypeVar("Verb", bound=Callable[..., Any])

#: Bool options shown as an on/off pair rather than a single flag.
TOGGLES = {"pixel_art": "--pixel-art/--smooth"}


def typer_parameter(name: str) -> inspect.Parameter:
    """The keyword parameter (annotation ``Annotated[type, typer.Option(...)]``) of one option."""
    item = next(field for field in option_fields() if field.name == name)
    spec = spec_of(item)
    help_text = spec.help + (f" One of: {', '.join(spec.choices)}." if spec.choices else "")
    flags = TOGGLES.get(name, flag_name(name))
    info = typer.Option(flags, help=help_text, show_default=item.default is not None)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=item.default,
                             annotation=Annotated[option_types()[name], info])


def with_animation_options(mode: str | None = None, *, only: tuple[str, ...] | None = None,
                           exclude: tuple[str, ...] = ()) -> Callable[[Verb], Verb]:
    """Give a ``def verb(..., **options)`` the ``--options`` of ``mode`` (or ``only`` those named), less
    ``exclude``."""

    def decorate(verb: Verb) -> Verb:
        signature = inspect.signature(verb)
        hints = get_type_hints(verb, include_extras=True)  # the verb's own Annotated[...] types, resolved
        own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
               if p.kind is not inspect.Parameter.VAR_KEYWORD]
        names = [item.name for item in option_fields(mode) if only is None or item.name in only]
        added = [typer_parameter(name) for name in names if name not in exclude]
        verb.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        verb.__annotations__ = {**verb.__annotations__, **{p.name: p.annotation for p in added}}
        return verb

    return decorate


def animation_options(values: dict[str, Any]) -> AnimationOptions:
    """The verb's ``**options`` as one checked value."""
    return AnimationOptions(**values).check()
