"""Studio datasets and training: upload a zip → prepared dataset; train in a process → progress → stop → model."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from muybridge.studio import StudioSettings, create_app

LOCAL = "http://127.0.0.1"
TINY_TRAINING = {"params": {"channel_base": 128, "channel_min": 8, "channel_max": 32, "embed_dim": 8},
                 "latent_dim": 16, "batch": 8, "tick_kimg": 0.008, "snapshot_kimg": 0.032,
                 "sample_kimg": 0.016, "r1_every": 2, "encoder_every": 2}


def pets_zip(per_class: int = 12) -> bytes:
    """A zip like an artist would make: a wrapper folder holding one folder per class."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, colour in (("cat", (200, 120, 40)), ("dog", (60, 90, 200))):
            for i in range(per_class):
                pixels = np.clip(rng.normal(colour, 30, size=(40, 40, 3)), 0, 255).astype(np.uint8)
                image = io.BytesIO()
                Image.fromarray(pixels).save(image, format="PNG")
                archive.writestr(f"pets/{name}/{i}.png", image.getvalue())
        archive.writestr("__MACOSX/pets/._junk", b"ignored")
        archive.writestr("pets/cat/notes.txt", b"not an image: skipped by prepare")
    return buffer.getvalue()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = StudioSettings(workspace=tmp_path / "ws", bundled_dir=None, train_threads=1)
    with TestClient(create_app(settings), base_url=LOCAL) as test_client:
        yield test_client


def wait_for(client: TestClient, job_id: str, condition: object, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if condition(job) or job["status"] in ("failed", "cancelled"):  # type: ignore[operator]
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id}: condition not met in {timeout} s (last: {job})")


def upload_pets(client: TestClient, name: str = "pets") -> dict:
    response = client.post("/v1/datasets", data={"name": name, "size": "32"},
                           files=[("files", ("pets.zip", pets_zip(), "application/zip"))])
    assert response.status_code == 202, response.text
    return wait_for(client, response.json()["id"], lambda job: job["status"] == "done", 60)


def test_upload_zip_gives_a_prepared_dataset(client: TestClient, tmp_path: Path) -> None:
    job = upload_pets(client)
    assert job["status"] == "done", job["error"]
    assert job["result"]["classes"] == ["cat", "dog"] and job["result"]["count"] == 24
    listed = client.get("/v1/datasets").json()
    assert listed == [{"name": "pets", "count": 24, "classes": ["cat", "dog"], "resolution": 32}]
    info = client.get("/v1/datasets/pets").json()
    assert info["counts"]["per_class"] == {"cat": 12, "dog": 12}
    assert sum(info["skipped"].values()) == 1  # notes.txt
    assert Image.open(io.BytesIO(client.get("/v1/datasets/pets/sheet.png").content)).width > 0
    again = client.post("/v1/datasets", data={"name": "pets"}, files=[("files", ("a.zip", pets_zip(2)))])
    assert again.status_code == 409
    assert list((tmp_path / "ws" / ".staging").iterdir()) == []


def test_loose_images_with_a_class_and_unusable_files(client: TestClient) -> None:
    good = io.BytesIO()
    Image.fromarray(np.full((48, 48, 3), 90, np.uint8)).save(good, format="PNG")
    files = [("files", ("one.png", good.getvalue(), "image/png")),
             ("files", ("broken.jpg", b"not really a jpeg", "image/jpeg"))]
    response = client.post("/v1/datasets", data={"name": "owls", "class_name": "owl", "size": "32"}, files=files)
    job = wait_for(client, response.json()["id"], lambda job: job["status"] == "done", 60)
    assert job["status"] == "done" and job["result"]["classes"] == ["owl"] and job["result"]["count"] == 1
    refused = client.post("/v1/datasets", data={"name": "docs"}, files=[("files", ("a.pdf", b"%PDF", "x"))])
    assert refused.status_code == 400 and "not an image" in refused.json()["error"]


def test_training_refuses_bad_settings_and_missing_datasets(client: TestClient) -> None:
    missing = client.post("/v1/train", json={"dataset": "nothing", "minutes": 1})
    assert missing.status_code == 404
    assert upload_pets(client)["status"] == "done"
    unknown = client.post("/v1/train", json={"dataset": "pets", "settings": {"colour": 1}})
    assert unknown.status_code == 400 and "unknown training setting" in unknown.json()["error"]
    no_source = client.post("/v1/train", json={"dataset": "pets", "init_from": "nope"})
    assert no_source.status_code == 404 and "no model named 'nope'" in no_source.json()["error"]
    assert client.post("/v1/train/stop").status_code == 404


@pytest.mark.slow
def test_training_streams_progress_stops_exports_and_resumes(client: TestClient) -> None:
    assert upload_pets(client)["status"] == "done"
    started = client.post("/v1/train", json={"dataset": "pets", "name": "pets-run", "minutes": 5,
                                             "settings": TINY_TRAINING})
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    second = client.post("/v1/train", json={"dataset": "pets", "name": "other", "minutes": 1})
    assert second.status_code == 409  # one training job at a time
    training = wait_for(client, job_id, lambda job: job["info"].get("stage") == "training"
                        and job["info"].get("kimg", 0) > 0.02, 90)
    assert training["status"] == "running", training["error"]
    assert {"loss_d", "loss_g", "eta_s"} <= set(training["info"])
    with client.stream("GET", f"/v1/jobs/{job_id}/events") as events:
        first = next(line for line in events.iter_lines() if line.startswith("data: "))
    assert json.loads(first.removeprefix("data: "))["id"] == job_id
    assert client.get("/v1/runs/pets-run/sample.png").headers["content-type"] == "image/png"
    assert client.post("/v1/train/stop").json()["stop_requested"] is True
    stopped = wait_for(client, job_id, lambda job: job["status"] == "done", 60)
    assert stopped["status"] == "done", stopped["error"]
    assert stopped["result"]["stopped_by"] == "request" and stopped["result"]["model"] == "pets-run"
    model = client.get("/v1/models/pets-run").json()
    assert model["classes"] == ["cat", "dog"] and model["metrics"]["kimg"] > 0
    assert client.post("/v1/generate", json={"model": "pets-run", "class": "dog", "seed": 1}).status_code == 200
    runs = client.get("/v1/runs").json()
    assert runs[0]["name"] == "pets-run" and runs[0]["model"] == "pets-run" and not runs[0]["training"]
    resumed = client.post("/v1/train/resume", json={"run": "pets-run", "minutes": 0.001})
    assert resumed.status_code == 202, resumed.text
    ended = wait_for(client, resumed.json()["id"], lambda job: job["status"] == "done", 90)
    assert ended["status"] == "done", ended["error"]
    assert ended["result"]["step"] >= stopped["result"]["step"]
    # Fine-tuning the exported model: a new run that takes its network shape (no settings given).
    tuned = client.post("/v1/train", json={"dataset": "pets", "name": "pets-tuned", "minutes": 0.001,
                                           "init_from": "pets-run"})
    assert tuned.status_code == 202, tuned.text
    finished = wait_for(client, tuned.json()["id"], lambda job: job["status"] == "done", 90)
    assert finished["status"] == "done", finished["error"]
    assert client.get("/v1/models/pets-tuned").json()["metrics"]["init_from"] == "pets-run"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")
def test_a_trainer_ends_when_its_studio_is_killed(tmp_path: Path) -> None:
    """The studio's training process asks for SIGTERM on its parent's death: kill -9 of the studio must not leave
    a trainer writing the run (it then checkpoints and stops; here it just ends)."""
    pid_file = tmp_path / "child.pid"
    parent = ("import multiprocessing, time\n"
              "from muybridge.studio.training import end_with_parent\n"
              "def child(path):\n"
              "    end_with_parent()\n"
              "    open(path, 'w').write(str(__import__('os').getpid()))\n"
              "    time.sleep(120)\n"
              "if __name__ == '__main__':\n"
              f"    multiprocessing.get_context('spawn').Process(target=child, args=({str(pid_file)!r},)).start()\n"
              "    time.sleep(120)\n")
    script = tmp_path / "studio_stand_in.py"
    script.write_text(parent)
    studio = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 60
        while not pid_file.is_file() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the child did not start"
            time.sleep(0.1)
        child = int(pid_file.read_text())
    finally:
        studio.kill()
        studio.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and "zombie" not in Path(f"/proc/{child}/status").read_text().lower():
        assert time.monotonic() < deadline, "the trainer outlived its studio"
        time.sleep(0.1)
