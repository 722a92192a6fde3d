"""The character pack's Godot ``SpriteFrames``: the Godot 3 resource loads in a real Godot 3 runtime (Debian's
headless ``godot3-server``), and the Godot 4 resource passes a strict reading of Godot 4's documented text
resource format (docs.godotengine.org, "TSCN file format"; there is no Godot 4 package in Debian to load it).

Both are written by ``write_pack`` from synthetic clips, so no model is needed: frame ``f`` of motion ``m`` is one
flat colour, and the runtime reads that colour back through each ``AtlasTexture``'s region.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from debian_packages import require_programs

from muybridge.animation.pack import (
    GODOT3_FRAMES,
    GODOT_FRAMES,
    SHEET,
    godot3_sprite_frames,
    motion_tags,
    write_pack,
)

GODOT3 = "godot3-server"
MOTIONS = ("idle", "nod", "look-left")
FRAMES, SIDE, FPS = 4, 16, 7.5


def colour(motion: int, frame: int) -> tuple[int, int, int]:
    return motion * 80 + 10, frame * 60 + 10, 200


def region(motion: int, frame: int) -> tuple[int, int, int, int]:
    """Where frame ``frame`` of motion ``motion`` sits in the sheet: one row per motion."""
    return frame * SIDE, motion * SIDE, SIDE, SIDE


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clips = np.zeros((len(MOTIONS), FRAMES, SIDE, SIDE, 3), np.uint8)
    for m in range(len(MOTIONS)):
        for f in range(FRAMES):
            clips[m, f] = colour(m, f)
    return write_pack(clips, MOTIONS, tmp_path_factory.mktemp("pack") / "cat", FPS, {}).folder


# --- Godot 3: a real load ------------------------------------------------------------------------------------

CHECK_GD = """extends SceneTree

# Loads the pack's SpriteFrames through ResourceLoader, prints what Godot sees, saves it back with ResourceSaver.
func _init():
	var frames = ResourceLoader.load("res://cat/%(resource)s")
	if frames == null:
		print("FAILED\\tload")
		quit(1)
		return
	var sheet = load("res://cat/%(sheet)s")
	for name in frames.get_animation_names():
		print("ANIM\\t%%s\\t%%d\\t%%s\\t%%s" %% [name, frames.get_frame_count(name), frames.get_animation_speed(name),
				frames.get_animation_loop(name)])
		for i in range(frames.get_frame_count(name)):
			var frame = frames.get_frame(name, i)
			var image = frame.atlas.get_data()
			image.lock()
			var at = image.get_pixelv(frame.region.position + frame.region.size / 2)
			print("FRAME\\t%%s\\t%%d\\t%%s\\t%%d\\t%%d\\t%%d\\t%%d\\t%%d\\t%%d\\t%%d" %% [name, i, frame.get_class(),
					frame.region.position.x, frame.region.position.y, frame.region.size.x, frame.region.size.y,
					at.r8, at.g8, at.b8])
		print("SHEET\\t%%s\\t%%s" %% [frames.get_frame(name, 0).atlas == sheet, sheet.get_size()])
	print("SAVED\\t%%d" %% ResourceSaver.save("res://resaved.tres", frames))
	print("DONE")
	quit()
"""


def godot3(*args: str, home: Path, project: Path) -> str:
    """Run the headless Godot 3 on ``project``, its user and editor settings kept under ``home``."""
    (binary,) = require_programs((GODOT3,), (GODOT3,))  # Debian's Godot 3 headless server
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache")}
    done = subprocess.run([binary, "--path", str(project), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_godot3_loads_the_pack_sprite_frames(pack: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "project.godot").write_text('config_version=4\n\n[application]\n\nconfig/name="pack check"\n')
    shutil.copytree(pack, project / "cat")  # the whole pack, as a user drops it into a project
    (project / "check.gd").write_text(CHECK_GD % {"resource": GODOT3_FRAMES, "sheet": SHEET})
    # A Godot 3 project loads a PNG only once the editor has imported it (.import/): the server build carries
    # the editor, so `--editor --quit` does that pass headless. Without it, res://cat/sheet.png is not the sheet.
    godot3("--editor", "--quit", home=tmp_path / "home", project=project)
    out = godot3("--script", "res://check.gd", home=tmp_path / "home", project=project)
    assert "DONE" in out.splitlines(), out

    animations = {}
    for row in re.findall(r"^ANIM\t(.*)$", out, re.M):
        name, count, speed, loop = row.split("\t")
        animations[name] = (int(count), float(speed), loop)
    assert animations == {name: (FRAMES, FPS, "True") for name in MOTIONS}

    seen = {}
    for row in re.findall(r"^FRAME\t(.*)$", out, re.M):
        name, index, kind, *numbers = row.split("\t")
        x, y, w, h, r, g, b = map(int, numbers)
        seen[name, int(index)] = (kind, (x, y, w, h), (r, g, b))
    assert seen == {(name, f): ("AtlasTexture", region(m, f), colour(m, f))
                    for m, name in enumerate(MOTIONS) for f in range(FRAMES)}
    sheets = re.findall(r"^SHEET\t(.*)$", out, re.M)
    assert sheets == [f"True\t({FRAMES * SIDE}, {len(MOTIONS) * SIDE})"] * len(MOTIONS)  # the imported sheet

    # What Godot 3 itself saves for what it loaded is our file, but for two lines it adds: the sheet's path made
    # absolute, and each AtlasTexture's flags (the import's; left out on purpose, see godot3_sprite_frames).
    assert "SAVED\t0" in out.splitlines()
    resaved = (project / "resaved.tres").read_text()
    resaved = re.sub(r"^flags = \d+\n", "", resaved, flags=re.M).replace('"res://cat/sheet.png"', '"sheet.png"')
    assert resaved == (pack / GODOT3_FRAMES).read_text()


# --- Godot 4: the documented text format ---------------------------------------------------------------------


class FormatError(AssertionError):
    pass


@dataclass(frozen=True)
class Ref:
    kind: str  # "SubResource" or "ExtResource"
    id: str


@dataclass(frozen=True)
class Name:  # a StringName, &"..."
    text: str


@dataclass
class Section:
    tag: str
    attrs: dict[str, str]  # raw: quoted strings keep their quotes
    body: dict[str, Any]


TOKEN = re.compile(r'\s*(?:(?P<string>&?"(?:[^"\\\n]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)'
                   r"|(?P<word>[A-Za-z_]\w*)|(?P<punct>[\[\]{}(),:=]))")
HEADING = re.compile(r'\[(?P<tag>\w+)(?P<attrs>(?: \w+=(?:"[^"\\\n]*"|[^\s"\]]+))*)\]\n')
ATTR = re.compile(r' (\w+)=("[^"]*"|[^\s"\]]+)')
KEY = re.compile(r"(?P<key>[A-Za-z_]\w*) = ")


class Reader:
    """A strict reader of a Godot 4 text resource: only the value kinds a SpriteFrames needs."""

    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def fail(self, why: str) -> FormatError:
        line = self.text.count("\n", 0, self.at) + 1
        return FormatError(f"line {line}: {why}: {self.text[self.at:self.at + 40]!r}")

    def token(self) -> tuple[str, str]:
        match = TOKEN.match(self.text, self.at)
        if not match or match.lastgroup is None:
            raise self.fail("unexpected text")
        self.at = match.end()
        return match.lastgroup, match.group(match.lastgroup)

    def expect(self, punct: str) -> None:
        if self.token() != ("punct", punct):
            raise self.fail(f"expected {punct!r}")

    def peek(self, punct: str) -> bool:
        match = TOKEN.match(self.text, self.at)
        return bool(match and match.group("punct") == punct)

    def items(self, close: str, item: Any) -> list[Any]:
        out: list[Any] = []
        while not self.peek(close):
            out.append(item())
            if not self.peek(close):
                self.expect(",")
        self.expect(close)
        return out

    def value(self) -> Any:
        kind, text = self.token()
        if kind == "string":
            inner = text.lstrip("&")[1:-1].encode().decode("unicode_escape")
            return Name(inner) if text.startswith("&") else inner
        if kind == "number":
            return float(text) if re.search(r"[.e]", text) else int(text)
        if kind == "punct" and text == "[":
            return self.items("]", self.value)
        if kind == "punct" and text == "{":
            return dict(self.items("}", self.entry))
        if kind == "word" and text in ("true", "false"):
            return text == "true"
        if kind == "word" and text in ("SubResource", "ExtResource"):
            self.expect("(")
            ref = self.value()
            self.expect(")")
            if not isinstance(ref, str):
                raise self.fail(f"{text} takes a string id in format 3")
            return Ref(text, ref)
        if kind == "word" and text == "Rect2":
            self.expect("(")
            numbers = self.items(")", self.value)
            if len(numbers) != 4 or not all(isinstance(n, int | float) for n in numbers):
                raise self.fail("Rect2 takes four numbers")
            return tuple(numbers)
        raise self.fail(f"not a value this reader knows ({text})")

    def entry(self) -> tuple[str, Any]:
        key = self.value()
        if not isinstance(key, str):
            raise self.fail("dictionary keys here are strings")
        self.expect(":")
        return key, self.value()

    def sections(self) -> list[Section]:
        out: list[Section] = []
        while self.at < len(self.text):
            if self.text[self.at] == "\n":
                self.at += 1
                continue
            heading = HEADING.match(self.text, self.at)
            if heading:
                attrs = dict(ATTR.findall(heading.group("attrs")))
                if len(attrs) != heading.group("attrs").count("="):
                    raise self.fail("repeated heading key")
                out.append(Section(heading.group("tag"), attrs, {}))
                self.at = heading.end()
                continue
            key = KEY.match(self.text, self.at)
            if not key or not out:
                raise self.fail("expected a [heading] or a `key = value` line")
            self.at = key.end()
            if key.group("key") in out[-1].body:
                raise self.fail("repeated key")
            out[-1].body[key.group("key")] = self.value()
            if not self.text.startswith("\n", self.at):
                raise self.fail("a value ends its line")
        return out


def quoted(section: Section, key: str) -> str:
    value = section.attrs.get(key, "")
    if not re.fullmatch(r'"[^"]*"', value):
        raise FormatError(f"[{section.tag}] {key}= must be a quoted string, got {value!r}")
    return value[1:-1]


def exactly(what: str, keys: Any, allowed: set[str], required: set[str] | None = None) -> None:
    keys = set(keys)
    if not keys <= allowed or not (required if required is not None else allowed) <= keys:
        raise FormatError(f"{what}: keys {sorted(keys)}, expected {sorted(allowed)}")


def read_godot4_sprite_frames(text: str) -> dict[str, Any]:
    """Check ``text`` against Godot 4's text resource format for a SpriteFrames of AtlasTextures cut from one
    external Texture2D; return the sheet's path and, per animation, its name, speed, loop and frame regions."""
    sections = Reader(text).sections()
    head, *rest = sections
    if head.tag != "gd_resource" or head.body:
        raise FormatError("the file starts with a [gd_resource ...] heading and nothing under it")
    exactly("gd_resource", head.attrs, {"type", "load_steps", "format", "uid"}, {"type", "format"})
    if quoted(head, "type") != "SpriteFrames" or head.attrs["format"] != "3":
        raise FormatError(f"header: {head.attrs}")
    if "uid" in head.attrs and not re.fullmatch(r"uid://[0-9a-z]+", quoted(head, "uid")):
        raise FormatError(f"bad uid {head.attrs['uid']}")
    order = [s.tag for s in rest]
    if not re.fullmatch(r"(ext_resource,)*(sub_resource,)*resource,", "".join(f"{t}," for t in order)):
        raise FormatError(f"sections out of order: {order}")
    external, internal = {}, {}
    for section in rest:
        if section.tag == "ext_resource":
            exactly("ext_resource", section.attrs, {"type", "uid", "path", "id"}, {"type", "path", "id"})
            if section.body or quoted(section, "type") != "Texture2D" or quoted(section, "id") in external:
                raise FormatError(f"ext_resource {section.attrs}")
            external[quoted(section, "id")] = quoted(section, "path")
        elif section.tag == "sub_resource":
            exactly("sub_resource", section.attrs, {"type", "id"})
            exactly("AtlasTexture", section.body, {"atlas", "region"})
            atlas, rect = section.body["atlas"], section.body["region"]
            if quoted(section, "type") != "AtlasTexture" or quoted(section, "id") in internal:
                raise FormatError(f"sub_resource {section.attrs}")
            if not (isinstance(atlas, Ref) and atlas.kind == "ExtResource" and atlas.id in external):
                raise FormatError(f"atlas {atlas} is not a declared ExtResource")
            if not isinstance(rect, tuple):
                raise FormatError(f"region {rect} is not a Rect2")
            internal[quoted(section, "id")] = rect
    steps = len(external) + len(internal) + 1  # the docs: every resource, internal and external, plus the file
    if int(head.attrs.get("load_steps", "0")) != steps:
        raise FormatError(f"load_steps={head.attrs.get('load_steps')}, expected {steps}")
    body = rest[-1].body
    exactly("[resource]", body, {"animations"})
    animations = []
    for animation in body["animations"]:
        exactly("animation", animation, {"frames", "loop", "name", "speed"})
        name, speed, loop = animation["name"], animation["speed"], animation["loop"]
        if not (isinstance(name, Name) and isinstance(speed, float) and isinstance(loop, bool)):
            raise FormatError(f"animation {name!r}: name is a StringName, speed a float, loop a bool")
        regions = []
        for frame in animation["frames"]:
            exactly("frame", frame, {"duration", "texture"})
            texture, duration = frame["texture"], frame["duration"]
            if not (isinstance(texture, Ref) and texture.kind == "SubResource" and texture.id in internal):
                raise FormatError(f"frame texture {texture} is not a declared SubResource")
            if not (isinstance(duration, float) and duration > 0):
                raise FormatError(f"frame duration {duration!r}")
            regions.append(internal[texture.id])
        animations.append({"name": name.text, "speed": speed, "loop": loop, "regions": regions})
    return {"textures": list(external.values()), "animations": animations}


def test_the_godot4_sprite_frames_follow_the_documented_format(pack: Path) -> None:
    text = (pack / GODOT_FRAMES).read_text()
    read = read_godot4_sprite_frames(text)
    assert read["textures"] == [SHEET] and (pack / SHEET).is_file()  # relative to the .tres, as the docs allow
    assert read["animations"] == [{"name": name, "speed": FPS, "loop": True,
                                   "regions": [region(m, f) for f in range(FRAMES)]}
                                  for m, name in enumerate(MOTIONS)]
    assert text.count("[sub_resource ") == len(MOTIONS) * FRAMES  # one AtlasTexture per frame, each used once


@pytest.mark.parametrize(("old", "new", "why"), [
    ("load_steps=14", "load_steps=13", "load_steps"),
    ("format=3", "format=2", "header"),
    ('type="Texture2D"', 'type="Texture"', "ext_resource"),
    ('id="1_sheet"]', "id=1]", "quoted string"),
    ('"name": &"nod"', '"name": "nod"', "StringName"),
    ('SubResource("AtlasTexture_5")\n}', 'SubResource("AtlasTexture_99")\n}', "not a declared SubResource"),
    ('"duration": 1.0,\n', "", "keys"),
    ('"speed": 7.5', '"speed": "7.5"', "speed a float"),
    ("region = Rect2(16, 0, 16, 16)", "region = Rect2(16, 0, 16)", "four numbers"),
])
def test_the_godot4_reader_refuses_what_godot4_would_not_write(pack: Path, old: str, new: str, why: str) -> None:
    text = (pack / GODOT_FRAMES).read_text()
    assert old in text
    with pytest.raises(FormatError, match=why):
        read_godot4_sprite_frames(text.replace(old, new, 1))


def test_the_godot4_reader_refuses_the_godot3_resource() -> None:
    text = godot3_sprite_frames(motion_tags(MOTIONS, FRAMES), FRAMES, SIDE, FPS, SHEET)
    with pytest.raises(FormatError):
        read_godot4_sprite_frames(text)


def test_the_pack_writes_both_godot_resources(pack: Path) -> None:
    assert (pack / GODOT_FRAMES).read_text().startswith('[gd_resource type="SpriteFrames" load_steps=14 format=3]\n')
    assert (pack / GODOT3_FRAMES).read_text().startswith('[gd_resource type="SpriteFrames" load_steps=14 format=2]\n')
