"""A character pack: one character doing every move of the motion library, as game engines take it.

``muybridge animate character cat:7 -o cat7/`` writes, into one folder (built beside it and renamed into place):

- ``sheet.png`` + ``sheet.json``: one row per motion; the atlas (TexturePacker JSON hash) has one Aseprite frame tag
  per motion, so Phaser's ``createFromAseprite`` makes one animation per motion;
- ``sheet.tres`` (Godot 4) and ``sheet.godot3.tres`` (Godot 3): a ``SpriteFrames`` resource with one looping
  animation per motion at the pack's fps, each frame an ``AtlasTexture`` cut from ``sheet.png`` beside it;
- ``previews/MOTION.gif`` and ``contact.png`` (rows: motions, columns: moments of each);
- ``character.json``: what was drawn (model, character, motions, frames, fps), to render it again.

Torch draws the clips here (:func:`character_pack`); a ``CLASS:SEED`` character is drawn without torch from the
model's cached pose graph where there is one (:func:`muybridge.animation.light.light_character`). Writing the pack
needs neither.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw

from muybridge import __version__
from muybridge.animation.export import Tag, save_gif, save_sprite_sheet
from muybridge.animation.motions import MOTION_NAMES
from muybridge.animation.options import AnimationOptions, OptionError
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_dir
from muybridge.progress import Progress, report

if TYPE_CHECKING:
    from muybridge.animation.modes import Animation
    from muybridge.generator import Generator

SHEET = "sheet.png"
GODOT_FRAMES = "sheet.tres"  # Godot 4 (text resource format 3)
GODOT3_FRAMES = "sheet.godot3.tres"  # Godot 3 (format 2); each engine reads only its own
CONTACT_MOMENTS = 8
LABEL_WIDTH = 80


@dataclass(frozen=True)
class Pack:
    folder: Path
    files: list[Path]
    motions: tuple[str, ...]
    frames: int
    side: int


def render_motions(generator: Generator, animation: Animation, options: AnimationOptions,
                   motions: Sequence[str] = MOTION_NAMES, progress: Progress | None = None) -> np.ndarray:
    """Every motion of one character: uint8 ``(motions, F, S, S, 3)``, decoded together in one pass."""
    from muybridge.animation.modes import Animation
    from muybridge.animation.render import AnimationSpec, render_animation

    check_one_character(options)
    count = options.frame_count()
    paths = [Animation("motion", animation.characters, animation.source)
             .builder(options.replace(motion=name, direction=None))(generator, 0) for name in motions]
    spec = AnimationSpec(paths, count, options.fps, options.size, (len(paths), 1), options.truncation,
                         options.pixel_art)
    tiled = render_animation(generator, spec, progress)  # (F, motions*S, S, 3)
    side = tiled.shape[2]
    return tiled.reshape(count, len(paths), side, side, 3).transpose(1, 0, 2, 3, 4)


def check_one_character(options: AnimationOptions) -> None:
    if options.grid_shape() != (1, 1):
        raise OptionError("grid", "does not apply: a character pack draws one character")


def check_pack_folder(folder: str | os.PathLike[str]) -> None:
    """Refuse, in one line, a folder that holds anything but an earlier pack (which a new one replaces)."""
    target = Path(folder)
    if target.exists() and not (target / "character.json").is_file() and any(target.iterdir()):
        raise MuybridgeError(f"{target}: folder holds other files; a character pack goes to a new or empty folder, "
                             "or replaces an earlier pack")


def pack_facts(model: str, character: str, options: AnimationOptions) -> dict[str, Any]:
    """What ``character.json`` says was drawn, besides the motions and frames."""
    return {"model": model, "character": character, "strength": options.strength, "truncation": options.truncation}


def motion_tags(motions: Sequence[str], frames: int) -> list[Tag]:
    return [(name, row * frames, (row + 1) * frames - 1) for row, name in enumerate(motions)]


def frame_regions(tags: Sequence[Tag], columns: int, side: int) -> list[tuple[int, int, int, int]]:
    """``(x, y, w, h)`` in the sheet of every frame the tags cover, frames laid out row by row."""
    frame_count = max(last for _, _, last in tags) + 1
    return [(column * side, row * side, side, side)
            for row, column in (divmod(index, columns) for index in range(frame_count))]


def godot_sprite_frames(tags: Sequence[Tag], columns: int, side: int, fps: float, texture: str) -> str:
    """A Godot 4 ``SpriteFrames`` resource (text ``.tres``, format 3): one ``AtlasTexture`` per frame of the
    sheet at ``texture`` (a path relative to the ``.tres``), one looping animation per tag.

    No ``uid`` in the header: it is optional, and Godot gives the file one when it first saves it."""
    regions = frame_regions(tags, columns, side)
    lines = [f'[gd_resource type="SpriteFrames" load_steps={len(regions) + 2} format=3]', "",
             f'[ext_resource type="Texture2D" path={json.dumps(texture)} id="1_sheet"]', ""]
    for index, (x, y, w, h) in enumerate(regions):
        lines += [f'[sub_resource type="AtlasTexture" id="AtlasTexture_{index}"]', 'atlas = ExtResource("1_sheet")',
                  f"region = Rect2({x}, {y}, {w}, {h})", ""]
    animations = []
    for name, first, last in tags:
        frames = ", ".join(f'{{\n"duration": 1.0,\n"texture": SubResource("AtlasTexture_{i}")\n}}'
                           for i in range(first, last + 1))
        animations.append(f'{{\n"frames": [{frames}],\n"loop": true,\n"name": &{json.dumps(name)},\n'
                          f'"speed": {float(fps)!r}\n}}')
    lines += ["[resource]", f"animations = [{', '.join(animations)}]", ""]
    return "\n".join(lines)


def godot3_sprite_frames(tags: Sequence[Tag], columns: int, side: int, fps: float, texture: str) -> str:
    """The same ``SpriteFrames`` for Godot 3 (text ``.tres``, format 2), laid out as Godot 3.2's ResourceSaver
    writes it: integer ids, ``Texture`` for the sheet, frames as a plain list of ``SubResource( n )``.

    Godot 3 also saves ``flags = 7`` on each ``AtlasTexture`` (before ``atlas``, so loading it changes nothing);
    it is left out: an ``AtlasTexture``'s flags are its sheet's, and those belong to the project's import
    settings (filter off for pixel art), which a ``flags`` line after ``atlas`` would overwrite."""
    regions = frame_regions(tags, columns, side)
    lines = [f'[gd_resource type="SpriteFrames" load_steps={len(regions) + 2} format=2]', "",
             f'[ext_resource path={json.dumps(texture)} type="Texture" id=1]', ""]
    for index, (x, y, w, h) in enumerate(regions, start=1):
        lines += [f'[sub_resource type="AtlasTexture" id={index}]', "atlas = ExtResource( 1 )",
                  f"region = Rect2( {x}, {y}, {w}, {h} )", ""]
    animations = []
    for name, first, last in tags:
        frames = ", ".join(f"SubResource( {i + 1} )" for i in range(first, last + 1))
        animations.append(f'{{\n"frames": [ {frames} ],\n"loop": true,\n"name": {json.dumps(name)},\n'
                          f'"speed": {float(fps)!r}\n}}')
    lines += ["[resource]", f"animations = [ {', '.join(animations)} ]", ""]
    return "\n".join(lines)


def contact_sheet(clips: np.ndarray, motions: Sequence[str], moments: int = CONTACT_MOMENTS) -> np.ndarray:
    """Rows: motions (labelled); columns: ``moments`` evenly spaced frames of each. uint8 ``(H, W, 3)``."""
    count, frames, side = clips.shape[0], clips.shape[1], clips.shape[2]
    picks = np.linspace(0, frames, moments, endpoint=False).astype(int)
    grid = clips[:, picks].transpose(0, 2, 1, 3, 4).reshape(count * side, moments * side, 3)
    label = Image.new("RGB", (LABEL_WIDTH, count * side), (24, 24, 28))
    draw = ImageDraw.Draw(label)
    for row, name in enumerate(motions):
        draw.text((6, row * side + side // 2 - 6), name, fill=(230, 230, 230))
    return np.concatenate([np.asarray(label), grid], axis=1)


def write_pack(clips: np.ndarray, motions: Sequence[str], folder: str | os.PathLike[str], fps: float,
               facts: dict[str, object], progress: Progress | None = None) -> Pack:
    """Write the pack of ``clips`` ``(motions, F, S, S, 3)`` into ``folder`` (replaced only when complete)."""
    target = Path(folder)
    check_pack_folder(target)
    count, frames, side = clips.shape[0], clips.shape[1], clips.shape[2]
    tags = motion_tags(motions, frames)
    names = [SHEET, "sheet.json", GODOT_FRAMES, GODOT3_FRAMES, "contact.png", "character.json",
             *[f"previews/{name}.gif" for name in motions]]
    with atomic_dir(target) as tmp:
        save_sprite_sheet(clips.reshape(count * frames, side, side, 3), tmp / SHEET, fps, columns=frames, tags=tags)
        (tmp / GODOT_FRAMES).write_text(godot_sprite_frames(tags, frames, side, fps, SHEET), encoding="utf-8")
        (tmp / GODOT3_FRAMES).write_text(godot3_sprite_frames(tags, frames, side, fps, SHEET), encoding="utf-8")
        Image.fromarray(contact_sheet(clips, motions)).save(tmp / "contact.png", format="PNG")
        (tmp / "previews").mkdir()
        for done, (name, clip) in enumerate(zip(motions, clips, strict=True), start=1):
            save_gif(clip, tmp / "previews" / f"{name}.gif", fps)
            report(progress, done, count, stage="previews")
        manifest = {"muybridge": __version__, **facts, "motions": list(motions), "frames": frames, "fps": fps,
                    "size": side, "tags": [{"name": n, "from": a, "to": b} for n, a, b in tags]}
        (tmp / "character.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return Pack(target, [target / name for name in names], tuple(motions), frames, side)


def character_pack(generator: Generator, animation: Animation, folder: str | os.PathLike[str],
                   options: AnimationOptions, motions: Sequence[str] = MOTION_NAMES,
                   progress: Progress | None = None) -> Pack:
    """Render every motion of ``animation``'s character and write the pack; the folder is checked first."""
    checked = options.check()
    check_pack_folder(folder)
    generator = animation.generator_for(generator)
    clips = render_motions(generator, animation, checked, motions, progress)
    if animation.characters:
        who = animation.characters[0]
    else:
        who = f"latent file {animation.source.path}" if animation.source else ""
    return write_pack(clips, motions, folder, checked.fps, pack_facts(generator.name, who, checked), progress)
