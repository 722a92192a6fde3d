"""The ``animate`` verbs: loop, walk, morph, motion, timeline, character.

Each verb names *what* to animate (its positional keys, ``--from-latent``, ``--seed``); *how* comes from
:class:`~muybridge.animation.options.AnimationOptions`, added to every verb by ``with_animation_options``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional  # noqa: F401  (Optional is read by typer)

import typer

from muybridge.cli.common import KEY_HELP, CharacterArgument, FromLatentOption, ModelOption, app, out, progress_bar
from muybridge.cli.options import animation_options, with_animation_options
from muybridge.errors import MuybridgeError

if TYPE_CHECKING:
    from muybridge.animation.export import Rendered
    from muybridge.animation.light import Draw
    from muybridge.animation.modes import Animation
    from muybridge.animation.options import AnimationOptions
    from muybridge.animation.pack import Pack
    from muybridge.progress import Progress

OutputOption = Annotated[Path, typer.Option(
    "--output", "-o", help="Output: NAME.gif, .mp4, .webp, .png (sprite sheet + .json atlas) or a folder "
                           "(PNG frames).")]
SeedOption = Annotated[Optional[int], typer.Option(help="Seed naming the character (default: 0).")]  # noqa: UP045
IndexOption = Annotated[int, typer.Option("--index", help="Which latent of the --from-latent file (0 = first); "
                                                           "grid cell i takes index+i.")]

animate_app = typer.Typer(
    help="Animate characters: loop, walk, morph, motion along a direction, or a keyframe timeline. "
         "The format follows -o: .gif .mp4 .webp, .png (sprite sheet + JSON atlas) or a folder of PNGs.",
    no_args_is_help=True)
app.add_typer(animate_app, name="animate")


def one_character(mode: str, key: str | None, seed: int | None, from_latent: Path | None,
                  index: int) -> Animation:
    """Loop and motion: a ``CLASS[:SEED]`` key (``--seed`` may give the seed), or a latent file's character
    (then ``CLASS`` alone renders it in that class)."""
    from muybridge.animation.modes import Animation, LatentSource
    from muybridge.keys import character_key, format_key

    if from_latent is not None:
        if seed is not None:
            raise MuybridgeError("--from-latent gives the character: it takes no seed (a CLASS alone renders "
                                 "the latent in that class)")
        return Animation(mode, source=LatentSource(from_latent, index, key))
    if key is None:
        raise MuybridgeError("name a character as CLASS[:SEED], or give --from-latent FILE")
    return Animation(mode, (format_key(*character_key(key, seed)),))


def keys_animation(mode: str, keys: tuple[str, ...], from_latent: Path | None, index: int) -> Animation:
    """Walk and morph: keys, and optionally a latent file's character to start from."""
    from muybridge.animation.modes import Animation, LatentSource

    return Animation(mode, keys, LatentSource(from_latent, index) if from_latent is not None else None)


def render(animation: Animation, output: Path, model: str, values: dict[str, Any]) -> None:
    from muybridge.animation.modes import animate_to_file

    options = animation_options(values)
    animation.builder(options)  # bad keys fail before the model is loaded
    write(lambda bar: animate_to_file(model, animation, output, options, progress=bar), output, options)


def write(draw: Callable[[Progress], Rendered], output: Path, options: AnimationOptions) -> None:
    """Draw under a progress bar, then say what was written."""
    with progress_bar("animate") as bar:
        result = draw(bar)
    names = " + ".join(str(f) for f in result.files) if len(result.files) == 2 else str(output)
    out.print(f"wrote {names} ({result.frames} frames, {result.width}x{result.height}, {options.fps:g} fps)",
              markup=False, highlight=False)


@animate_app.command("loop")
@with_animation_options("loop")
def animate_loop(output: OutputOption, character: CharacterArgument = None, from_latent: FromLatentOption = None,
                 index: IndexOption = 0, seed: SeedOption = None, model: ModelOption = "default",
                 **options: Any) -> None:
    """A seamless loop: the character drifts around a small circle in latent space and comes back.

    Example: muybridge animate loop cat --seed 7 -o cat.gif      (four cats: --grid 2x2; video: -o cat.mp4)
    Your pet (see `muybridge invert`): muybridge animate loop --from-latent pet.json -o pet.gif
    Starts about 2 s sooner, without torch, once the model's graph is cached: muybridge export-onnx default --cache
    """
    if from_latent is None and character is not None:
        from muybridge.animation.light import light_loop
        from muybridge.keys import character_key

        key = character_key(character, seed)
        if drew_without_torch(lambda settings: light_loop(model, key, output, settings), output, options):
            return
    render(one_character("loop", character, seed, from_latent, index), output, model, options)


def drew_without_torch(light: Callable[[AnimationOptions], Draw | None], output: Path,
                       values: dict[str, Any]) -> bool:
    """Drawn from the model's cached graph where ``light`` finds one (animation/light.py); False: torch must."""
    settings = animation_options(values)
    draw = light(settings)
    if draw is not None:
        write(draw, output, settings)
    return draw is not None


@animate_app.command("motion")
@with_animation_options("motion")
def animate_motion(output: OutputOption, character: CharacterArgument = None, from_latent: FromLatentOption = None,
                   index: IndexOption = 0, seed: SeedOption = None, model: ModelOption = "default",
                   **options: Any) -> None:
    """Move a character: a move of the motion library (it stays itself), or a swing back and forth along one
    semantic direction (a seamless loop).

    Example: muybridge animate motion cat:7 --motion look-left -o look.gif   (a move of the motion library)
    Along a latent direction: muybridge animate motion cat:7 --direction nod --amplitude 3 -o nod.gif
    Both start about 2 s sooner, without torch, once the model's graphs are cached (directions: named ones and the
    strongest of each method): muybridge export-onnx default --cache
    """
    if from_latent is None and character is not None:
        from muybridge.animation.light import light_motion
        from muybridge.keys import character_key

        key = character_key(character, seed)
        if drew_without_torch(lambda settings: light_motion(model, key, output, settings), output, options):
            return
    render(one_character("motion", character, seed, from_latent, index), output, model, options)


@animate_app.command("walk")
@with_animation_options("walk")
def animate_walk(
    characters: Annotated[list[str], typer.Argument(metavar="CLASS:SEED...", help=f"2 or more. {KEY_HELP}")],
    output: OutputOption, from_latent: FromLatentOption = None, index: IndexOption = 0,
    model: ModelOption = "default", **options: Any,
) -> None:
    """Walk through latent space from key to key; across classes the class blends on the way.

    Example: muybridge animate walk cat:1 cat:2 dog:3 --loop --easing ease-in-out -o walk.webp
    With --from-latent the walk starts at your pet; a key without a seed is your pet in that class.
    Starts about 2 s sooner, without torch, once the model's graph is cached: muybridge export-onnx default --cache
    """
    if from_latent is None:
        from muybridge.animation.light import light_walk
        from muybridge.keys import character_key

        keys = [character_key(text) for text in characters]
        if drew_without_torch(lambda settings: light_walk(model, keys, output, settings), output, options):
            return
    render(keys_animation("walk", tuple(characters), from_latent, index), output, model, options)


@animate_app.command("morph")
@with_animation_options("morph")
def animate_morph(
    start: Annotated[str, typer.Argument(metavar="FROM", help=KEY_HELP + " With --from-latent, give only TO.")],
    output: OutputOption,
    end: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        metavar="TO", help="Like FROM; without a seed it keeps FROM's seed (same identity noise, only the "
                           "class changes).")] = None,
    from_latent: FromLatentOption = None, index: IndexOption = 0, model: ModelOption = "default", **options: Any,
) -> None:
    """Morph one character into another, across classes: the class weights blend, the latent follows.

    Example: muybridge animate morph cat:3 dog:5 -o morph.mp4      (cat:3 dog = the dog of seed 3)
    Your pet into a dog: muybridge animate morph --from-latent pet.json dog -o pet-dog.gif  (or dog:3)
    Starts about 2 s sooner, without torch, once the model's graph is cached: muybridge export-onnx default --cache
    """
    if from_latent is not None:
        if end is not None:
            raise MuybridgeError("with --from-latent, morph takes only TO (the start is your latent)")
        keys: tuple[str, ...] = (start,)
    elif end is None:
        raise MuybridgeError("morph needs FROM and TO, e.g. `animate morph cat:3 dog -o morph.gif`")
    else:
        from muybridge.animation.light import light_walk
        from muybridge.keys import character_key

        first = character_key(start)
        pair = [first, character_key(end, default_seed=first[1])]
        if drew_without_torch(lambda settings: light_walk(model, pair, output, settings), output, options):
            return
        keys = (start, end)
    render(keys_animation("morph", keys, from_latent, index), output, model, options)


@animate_app.command("timeline")
@with_animation_options("timeline", exclude=("interpolation",))  # the file sets it
def animate_timeline(
    keyframes: Annotated[Path, typer.Argument(
        metavar="KEYS.yaml", help="Keyframes, YAML or JSON: a list of {time, class, seed, directions, "
                                  "easing}; see docs/animation.md.")],
    output: OutputOption, model: ModelOption = "default", from_latent: FromLatentOption = None,
    index: IndexOption = 0, **options: Any,
) -> None:
    """Render a keyframe file: characters, classes and direction offsets at given times, eased between.
    Keyframes without a seed take the --from-latent character (your pet).

    Example: muybridge animate timeline keys.yaml --fps 24 -o film.mp4
    Keyframes of seeds start about 2 s sooner, without torch, once the model's graph is cached (directions: named
    ones and the strongest of each method): muybridge export-onnx default --cache
    """
    from muybridge.animation.timeline import read_timeline

    timeline = read_timeline(keyframes)
    if from_latent is None:
        from muybridge.animation.light import light_timeline

        if drew_without_torch(lambda settings: light_timeline(model, timeline, output, settings), output, options):
            return
    from muybridge.animation.modes import Animation, LatentSource

    source = LatentSource(from_latent, index) if from_latent is not None else None
    render(Animation("timeline", (), source, timeline), output, model, options)


MotionsOption = Annotated[Optional[str], typer.Option(  # noqa: UP045
    help="Comma-separated motions to include (default: all of the library).")]


@animate_app.command("character")
@with_animation_options("motion", exclude=("motion", "direction", "amplitude", "cycles", "grid"))
def animate_character(output: OutputOption, character: CharacterArgument = None,
                      from_latent: FromLatentOption = None, index: IndexOption = 0, seed: SeedOption = None,
                      model: ModelOption = "default", motions: MotionsOption = None, **options: Any) -> None:
    """One character doing every motion, as a pack for games: a sprite sheet with one tag per motion (Phaser's
    createFromAseprite, Aseprite), Godot SpriteFrames resources (Godot 4 and 3), GIF previews and a contact sheet.

    Example: muybridge animate character cat:7 -o cat7/      (your pet: --from-latent pet.json -o pet/)
    Starts about 2 s sooner, without torch, once the model's graphs are cached: muybridge export-onnx default --cache
    """
    from muybridge.animation.motions import MOTION_NAMES

    chosen = [name.strip() for name in motions.split(",")] if motions else list(MOTION_NAMES)
    unknown = [name for name in chosen if name not in MOTION_NAMES]
    if unknown or not chosen:
        raise MuybridgeError(f"--motions: unknown motion '{(unknown or [''])[0]}'; known: {', '.join(MOTION_NAMES)}")
    settings = animation_options(options)
    draw: Callable[[Progress], Pack] | None = None
    if from_latent is None and character is not None:
        from muybridge.animation.light import light_character
        from muybridge.keys import character_key

        draw = light_character(model, character_key(character, seed), output, settings, chosen)
    if draw is None:
        draw = torch_character_pack(one_character("motion", character, seed, from_latent, index), output, model,
                                    settings, chosen)
    with progress_bar("character") as bar:
        pack = draw(bar)
    out.print(f"wrote {pack.folder}/ ({len(pack.motions)} motions x {pack.frames} frames, {pack.side} px: "
              "sheet.png + sheet.json, sheet.tres (Godot 4) + sheet.godot3.tres, previews/, contact.png)",
              markup=False, highlight=False)


def torch_character_pack(animation: Animation, output: Path, model: str, settings: AnimationOptions,
                         motions: list[str]) -> Callable[[Progress], Pack]:
    """The pack drawn by torch (a latent file's character, or no cached graph); bad keys and a folder that holds
    other files fail before the model is loaded."""
    from muybridge.animation.pack import character_pack, check_pack_folder
    from muybridge.generator import Generator

    animation.builder(settings)
    check_pack_folder(output)
    return lambda bar: character_pack(Generator.load(model), animation, output, settings, motions, bar)
