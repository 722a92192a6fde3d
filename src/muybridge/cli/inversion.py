"""The ``invert`` verb: your pet's photo → a latent file to animate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional  # noqa: F401  (Optional is read by typer)

import typer

from muybridge.cli.common import app, out, progress_bar, use_threads
from muybridge.errors import MuybridgeError
from muybridge.inversion.fidelity import DEFAULT_FIDELITY, FIDELITIES


@app.command()
def invert(
    photos: Annotated[list[Path], typer.Argument(metavar="PHOTO...", help="Photos of your pet (JPEG, PNG, ...).")],
    latents_out: Annotated[Path, typer.Option("--out", "-o", help="Latent file to write (.json); a "
                                              "side-by-side PNG per photo is written beside it.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model folder, or a bundled model's name.")
                     ] = "default",
    class_name: Annotated[Optional[str], typer.Option(  # noqa: UP045 (typer reads the annotation)
        "--class", help="The pet's class (default: cat when the model has it, else its first class).")] = None,
    fidelity: Annotated[str, typer.Option(help="; ".join(f"{name}: {preset.description}"
                                                        for name, preset in FIDELITIES.items()))
                        ] = DEFAULT_FIDELITY,
    steps: Annotated[Optional[int], typer.Option(  # noqa: UP045
        help="Refinement steps after the encoder's guess (0: encoder only; default: the fidelity's).")] = None,
    lr: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--lr", help="Refinement step size (Adam, cosine-decayed; default: the fidelity's).")] = None,
    no_detect: Annotated[bool, typer.Option("--no-detect", help="Use the centre square instead of finding "
                                            "the cat's face.")] = False,
    crop: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Frame the face yourself: LEFT,TOP,SIDE of a square in photo pixels (one photo).")] = None,
    threads: Annotated[int, typer.Option(help="CPU threads; a few photos refine fastest on one.")] = 1,
) -> None:
    """Find your pet's face in a photo and fit a latent that makes the model draw it, to animate it.

    Example: muybridge invert my-cat.jpg --out pet.json      (or frame it yourself: --crop 120,40,300)
    Then: muybridge animate loop --from-latent pet.json -o pet.gif   (or: animate morph --from-latent pet.json dog)
    Compare: muybridge generate --from-latent pet.json -o pet.png
    """
    from dataclasses import replace

    from muybridge.generator import Generator
    from muybridge.inversion import invert_photos, write_latent_file
    from muybridge.inversion.fidelity import get_fidelity
    from muybridge.inversion.photo import parse_crop

    chosen = get_fidelity(fidelity)
    box = parse_crop(crop) if crop is not None else None
    refine = replace(chosen.refine, steps=chosen.refine.steps if steps is None else steps,
                     lr=chosen.refine.lr if lr is None else lr).check()
    use_threads(threads)
    if latents_out.suffix.lower() != ".json":
        raise MuybridgeError(f"{latents_out}: the latent file must end in .json")
    generator = Generator.load(model)
    with progress_bar("invert") as bar:
        results = invert_photos(generator, photos, class_name, refine, detect=not no_detect, progress=bar,
                                tune=chosen.tune, crop=box)
    files = write_latent_file(latents_out, generator, results)
    for result in results:
        how = "face found" if result.detected else "your crop" if box else "centre square"
        stages = [("encoder", "encoder_psnr"), ("refined", "refined_psnr"), ("tuned", "tuned_psnr")]
        psnrs = " → ".join(f"{name} {result.losses[key]:.1f}" for name, key in stages if key in result.losses)
        out.print(f"{result.source}: {result.class_name}, {how}; PSNR dB {psnrs}", markup=False, highlight=False)
    previews = [path for path in files if path.suffix == ".png"]
    out.print(f"wrote {latents_out} and {len(previews)} preview PNG{'s' * (len(previews) > 1)} "
              f"({' | '.join(results[0].stage_names())})", markup=False, highlight=False)
