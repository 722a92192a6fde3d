"""Still images and semantic directions: ``generate`` and ``directions`` (find, name, list)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional  # noqa: F401  (Optional is read by typer)

import typer

from muybridge.animation.options import TOP_DIRECTIONS
from muybridge.cli.common import CharacterArgument, FromLatentOption, ModelOption, app, out, progress_bar
from muybridge.cli.options import animation_options, with_animation_options
from muybridge.errors import MuybridgeError


@app.command()
@with_animation_options(only=("truncation", "size", "pixel_art"))
def generate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file: .png, .jpg or .webp.")],
    character: CharacterArgument = None,
    from_latent: FromLatentOption = None,
    model: ModelOption = "default",
    seed: Annotated[Optional[int], typer.Option(help="Seed naming the character (default: 0).")] = None,  # noqa: UP045
    n: Annotated[int, typer.Option("--n", help="Render N characters (seeds SEED..SEED+N-1) in a grid.")] = 1,
    **options: Any,
) -> None:
    """Render one character, or a grid of N, to an image file; with --from-latent, every latent of the file
    (your pet, drawn by its tuned decoder: compare it with the photo).

    Example: muybridge generate cat --seed 7 -o cat.png      (a grid: generate cat:7 --n 16 -o cats.png)
    Example (your pet): muybridge generate --from-latent pet.json -o pet.png
    """
    from muybridge.animation.export import check_image_output, save_image
    from muybridge.animation.render import render_grid
    from muybridge.generator import Generator
    from muybridge.keys import character_key

    if not 1 <= n <= 256:
        raise MuybridgeError(f"--n must be between 1 and 256, got {n}")
    chosen = animation_options(options)
    check_image_output(output)
    if from_latent is not None:
        latents, weights, generator = _latent_file_characters(from_latent, character, seed, n, model)
    else:
        if character is None:
            raise MuybridgeError("name a character as CLASS[:SEED], or give --from-latent FILE")
        class_spec, first = character_key(character, seed)
        generator = Generator.load(model)
        latents = generator.latents(list(range(first, first + n)))
        weights = generator.class_weights([class_spec] * n)
    picture = render_grid(generator, latents, weights, chosen.size, chosen.truncation, chosen.pixel_art)
    save_image(picture, output)
    count = len(latents)
    out.print(f"wrote {output} ({count} image{'s' * (count > 1)}, {picture.shape[1]}x{picture.shape[0]})",
              markup=False, highlight=False)


def _latent_file_characters(path: Path, class_key: str | None, seed: int | None, n: int,
                            model: str) -> tuple[Any, Any, Any]:
    """Latents, class weights and the generator (tuned decoder applied) of every character in a latent file."""
    import torch

    from muybridge.animation.modes import latent_picker
    from muybridge.generator import Generator
    from muybridge.inversion.latent_file import generator_for_latents, read_latent_file

    if seed is not None or n != 1:
        raise MuybridgeError("--from-latent renders the file's characters: it takes neither --seed nor --n")
    count = len(read_latent_file(path)["latents"])
    pick = latent_picker(path, 0, class_key)
    generator = generator_for_latents(path, Generator.load(model))
    characters = [pick(generator, i) for i in range(count)]
    return (torch.stack([c.latent for c in characters]), torch.stack([c.class_weights for c in characters]),
            generator)


@app.command("export-onnx")
def export_onnx(
    model: Annotated[str, typer.Argument(help="Model folder or bundled name.")] = "default",
    output: Annotated[Path, typer.Option("--output", "-o", help="The .onnx file; its metadata is also "
                                         "written beside it as .json.")] = Path("muybridge.onnx"),
    pose: Annotated[bool, typer.Option("--pose", help="Add the head-pose input that the motions move (opset 20, "
                                       "for onnxruntime; Unity's Inference Engine takes only the plain graph, "
                                       "opset 15).")] = False,
    cache: Annotated[bool, typer.Option("--cache", help="Write the graphs into muybridge's cache instead of "
                                        "--output (the plain one and, for a model with motions, the pose one): "
                                        "`muybridge animate loop`, walk, morph and motion then draw this model "
                                        "without loading torch (start about 2 s sooner).")] = False,
) -> None:
    """Write the model's decoder as an ONNX graph for game engines and browsers: latents + class weights +
    truncation (+ pose) in, RGB in [0, 1] out; classes, resolution and the seed latents in its metadata.

    Example: muybridge export-onnx default -o cat-dog.onnx       (needs: pip install 'muybridge[onnx]')
    Faster animations from the CLI: muybridge export-onnx default --cache
    """
    from muybridge.engines.onnx import cache_runtime_graphs
    from muybridge.engines.onnx import export_onnx as write_onnx
    from muybridge.generator import Generator

    if cache and pose:
        raise MuybridgeError("--cache keeps the pose graph too where the model has motions: drop --pose")
    generator = Generator.load(model, precision="fp32")
    with progress_bar("export-onnx") as bar:
        bar(0, 1)
        files = cache_runtime_graphs(generator) if cache else write_onnx(generator, output, pose=pose)
        bar(1, 1)
    for path in files:
        out.print(f"wrote {path}", markup=False, highlight=False)


@app.command("export-web")
def export_web(
    model: Annotated[str, typer.Argument(help="Model folder or bundled name.")] = "default",
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the page (new, empty, or an "
                                         "earlier page).")] = Path("site"),
) -> None:
    """Write a static web page that draws the model's characters in the browser, with no server: a visitor
    picks a class, a seed and a motion and watches it move (onnxruntime-web, included).

    Example: muybridge export-web default -o site/ && python -m http.server -d site 8000
    (then open http://localhost:8000; needs: pip install 'muybridge[onnx]')
    """
    from muybridge.engines.web import export_web as write_web
    from muybridge.generator import Generator

    generator = Generator.load(model, precision="fp32")
    with progress_bar("export-web") as bar:
        folder = write_web(generator, output, progress=bar)
    out.print(f"wrote {folder}/: serve it with `python -m http.server -d {folder} 8000` and open "
              "http://localhost:8000", markup=False, highlight=False)


directions_app = typer.Typer(help="Find semantic directions (SeFa, GANSpace), preview them, and name them.")
app.add_typer(directions_app, name="directions")


@directions_app.callback(invoke_without_command=True)
def directions(
    ctx: typer.Context,
    model: ModelOption = "default",
    method: Annotated[str, typer.Option(help="sefa (closed-form) or ganspace (PCA).")] = "sefa",
    top: Annotated[int, typer.Option(help="How many directions, strongest first.")] = TOP_DIRECTIONS,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the preview strips.")] = Path("dirs"),
    amplitude: Annotated[float, typer.Option(help="Largest offset shown in the previews.")] = 3.0,
    truncation: Annotated[float, typer.Option(help="0-2: below 1 trades variety for typical faces.")] = 1.0,
) -> None:
    """Write a preview strip PNG per direction (rows: characters, columns: offsets), to name them.

    Example: muybridge directions --top 8 --out dirs/      then: muybridge directions name MODEL sefa:0 nod
    """
    if ctx.invoked_subcommand is not None:
        return
    from muybridge.animation.directions import write_previews
    from muybridge.generator import Generator

    if out_dir.exists() and not out_dir.is_dir():
        raise MuybridgeError(f"{out_dir}: exists and is not a folder")
    generator = Generator.load(model)
    with progress_bar("directions") as bar:
        files = write_previews(generator, out_dir, method, top, amplitude, truncation,
                               progress=bar)
    out.print(f"wrote {len(files)} strips to {out_dir}/ (rows: characters; columns: offsets -{amplitude:g} … "
              f"+{amplitude:g})", markup=False, highlight=False)
    out.print(f"name one with: muybridge directions name {generator.path or model} {method}:0 NAME",
              markup=False, highlight=False)


@directions_app.command("name")
def directions_name(
    model: Annotated[str, typer.Argument(help="Model folder (its directions.json is written).")],
    index: Annotated[str, typer.Argument(help="Direction index (SeFa), or METHOD:INDEX such as ganspace:2.")],
    name: Annotated[str, typer.Argument(help="The name, e.g. nod, ears, fluffy.")],
) -> None:
    """Save a name for a direction beside the model, for `animate motion --direction NAME` and timelines.

    Example: muybridge directions name my-model sefa:0 nod
    """
    from muybridge.animation import name_direction
    from muybridge.generator import Generator

    path = name_direction(Generator.load(model), index, name)
    out.print(f"named {index} '{name}' in {path}", markup=False, highlight=False)


@directions_app.command("list")
def directions_list(
    model: Annotated[str, typer.Argument(help="Model folder or bundled name.")] = "default",
) -> None:
    """List a model's named directions.  Example: muybridge directions list my-model"""
    from muybridge.animation.directions import named_directions
    from muybridge.zoo import resolve_model_path

    named = named_directions(resolve_model_path(model))
    for label, direction in sorted(named.items()):
        out.print(f"{label}\t{direction.method}:{direction.index}", markup=False, highlight=False)
    if not named:
        out.print("no named directions yet: see `muybridge directions --help`", markup=False, highlight=False)


@app.command()
def motions(
    model: Annotated[str, typer.Argument(help="Model folder or bundled name (its motions.json is written).")
                     ] = "default",
    per_class: Annotated[int, typer.Option(help="Characters per class to measure each motion on.")] = 8,
    write: Annotated[bool, typer.Option("--write/--dry-run", help="Store the results in the model folder.")
                     ] = True,
) -> None:
    """Measure every motion of the library on a model's characters with optical flow, check that each does
    what its name says (look-left moves the face left, nod down, tilt turns it, lean-in grows it), and store
    the motions with their strengths and measurements in MODEL/motions.json.

    Example: muybridge motions my-model      then: muybridge animate character cat:7 -m my-model -o cat7/
    """
    from muybridge.animation.survey import describe, survey, write_motions
    from muybridge.generator import Generator

    if not 1 <= per_class <= 256:
        raise MuybridgeError(f"--per-class must be between 1 and 256, got {per_class}")
    generator = Generator.load(model)
    if not generator.takes_pose:
        raise MuybridgeError(f"model {generator.name} ({generator.config.architecture}) has no pose input: "
                             "its characters cannot move without changing (use directions instead)")
    with progress_bar("motions") as bar:
        found = survey(generator, per_class, progress=bar)
    for name, entry in found.items():
        out.print(describe(name, entry), markup=False, highlight=False)
    if write and generator.path is not None:
        out.print(f"wrote {write_motions(generator.path, found, per_class)}", markup=False, highlight=False)
