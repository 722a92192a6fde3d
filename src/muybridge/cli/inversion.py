"""The ``invert`` verb: your pet's photo → a latent file to animate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional  # noqa: F401  (Optional is read by typer)

import typer

from muybridge.cli.common import app, out, progress_bar, use_threads
from muybridge.errors import MuybridgeError


@app.command()
def invert(
    photos: Annotated[list[Path], typer.Argument(metavar="PHOTO...", help="Photos of your pet (JPEG, PNG, ...).")],
    latents_out: Annotated[Path, typer.Option("--out", "-o", help="Latent file to write (.json); a "
                                              "side-by-side PNG per photo is written beside it.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model folder, or a bundled model's name.")
                     ] = "default",
    class_name: Annotated[Optional[str], typer.Option(  # noqa: UP045 (typer reads the annotation)
        "--class", help="The pet's class (default: cat when the model has it, else its first class).")] = None,
    steps: Annotated[int, typer.Option(help="Refinement steps after the encoder's guess (0: encoder only).")
                     ] = 200,
    lr: Annotated[float, typer.Option("--lr", help="Refinement step size (Adam, cosine-decayed).")] = 0.05,
    no_detect: Annotated[bool, typer.Option("--no-detect", help="Use the centre square instead of finding "
                                            "the cat's face.")] = False,
    threads: Annotated[int, typer.Option(help="CPU threads; a few photos refine fastest on one.")] = 1,
) -> None:
    """Find your pet's face in a photo and fit a latent that makes the model draw it, to animate it.

    Example: muybridge invert my-cat.jpg --out pet.json
    Then: muybridge animate loop --from-latent pet.json -o pet.gif   (or: animate morph --from-latent pet.json dog)
    """

    from muybridge.generator import Generator
    from muybridge.inversion import RefineSettings, invert_photos, write_latent_file

    settings = RefineSettings(steps=steps, lr=lr).check()
    use_threads(threads)
    if latents_out.suffix.lower() != ".json":
        raise MuybridgeError(f"{latents_out}: the latent file must end in .json")
    generator = Generator.load(model)
    with progress_bar("invert") as bar:
        results = invert_photos(generator, photos, class_name, settings, detect=not no_detect, progress=bar)
    files = write_latent_file(latents_out, generator, results)
    for result in results:
        how = "face found" if result.detected else "centre square"
        out.print(f"{result.source}: {result.class_name}, {how}; PSNR encoder {result.losses['encoder_psnr']:.1f} "
                  f"dB → refined {result.losses['refined_psnr']:.1f} dB", markup=False, highlight=False)
    out.print(f"wrote {latents_out} and {len(files) - 1} preview PNG{'s' * (len(files) > 2)} "
              f"(photo | encoder | refined)", markup=False, highlight=False)
