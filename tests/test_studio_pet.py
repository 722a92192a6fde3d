"""Studio "your pet": upload a photo → inversion job → listed pet → animations that start from it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import wait_for_job
from fastapi.testclient import TestClient
from PIL import Image

pytestmark = pytest.mark.usefixtures("one_thread")  # the default fidelity tunes the decoder: small batches


def photo_png(side: int = 48) -> bytes:
    pixels = np.random.default_rng(3).integers(0, 256, (side, side + 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def flat_photo() -> bytes:
    """A grey square: no face for the detector to find."""
    buffer = io.BytesIO()
    Image.new("RGB", (120, 120), (128, 128, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


def invert(client: TestClient, data: bytes, name: str = "tom.png", **fields: str) -> dict:
    answer = client.post("/v1/pets", files={"photo": (name, data, "image/png")},
                         data={"class": "cat", "steps": "5", "detect": "false", **fields})
    assert answer.status_code == 202, answer.text
    return wait_for_job(client, answer.json()["id"])


def test_photo_becomes_a_listed_pet_that_animates(client: TestClient) -> None:
    job = invert(client, photo_png())
    assert job["status"] == "done", job["error"]
    pet_id = job["result"]["pet"]
    preview = Image.open(io.BytesIO(client.get(job["urls"][0]).content))
    assert preview.size == (4 * 32, 32)  # photo | encoder | refined | tuned: the default fidelity tunes
    pets = client.get("/v1/pets").json()
    assert [(p["id"], p["model"], p["class"], p["source"]) for p in pets] == [(pet_id, "tiny", "cat", "tom.png")]
    strip = client.get(pets[0]["preview"])
    assert strip.status_code == 200 and strip.headers["content-type"] == "image/png"

    started = client.post("/v1/animate", json={"model": "tiny", "mode": "loop", "pet": pet_id, "fps": 4,
                                               "duration": 1, "format": "gif"})
    assert started.status_code == 202, started.text
    assert started.json()["title"].startswith(f"loop pet-{pet_id}")
    animation = wait_for_job(client, started.json()["id"])
    assert animation["status"] == "done", animation["error"]
    gif = Image.open(io.BytesIO(client.get(animation["urls"][0]).content))
    assert gif.format == "GIF" and gif.n_frames == 4

    morph = client.post("/v1/animate", json={"model": "tiny", "mode": "morph", "pet": pet_id, "fps": 2,
                                             "duration": 1, "characters": ["cat:0", "dog:3"]})
    assert morph.status_code == 202 and morph.json()["title"] == f"morph pet-{pet_id} dog:3 (gif)"
    assert wait_for_job(client, morph.json()["id"])["status"] == "done"

    timeline = client.post("/v1/animate", json={"mode": "timeline", "pet": pet_id,
                                                "characters": ["cat:1", "dog:2"]})
    assert timeline.status_code == 400 and "loop, walk, morph and motion" in timeline.json()["error"]
    missing = client.post("/v1/animate", json={"mode": "loop", "pet": "nobody"})
    assert missing.status_code == 404 and "no pet 'nobody'" in missing.json()["error"]


def test_non_image_upload_is_refused_or_fails_in_one_line(client: TestClient) -> None:
    refused = client.post("/v1/pets", files={"photo": ("notes.txt", b"hello", "text/plain")})
    assert refused.status_code == 400 and "notes.txt: not a photo" in refused.json()["error"]
    too_many = client.post("/v1/pets", files={"photo": ("a.png", photo_png(), "image/png")}, data={"steps": "9999"})
    assert too_many.status_code == 400 and "steps 9999" in too_many.json()["error"]
    fidelities = client.get("/v1/pets/fidelities").json()
    assert [f["id"] for f in fidelities][0] == "balanced" and fidelities[0]["default"]
    assert {f["id"] for f in fidelities} == {"fast", "balanced", "exact"}
    unknown = client.post("/v1/pets", files={"photo": ("a.png", photo_png(), "image/png")},
                          data={"fidelity": "perfect"})
    assert unknown.status_code == 400 and "fidelity perfect: choose fast" in unknown.json()["error"]

    job = invert(client, b"this is not a png at all", name="fake.png")
    assert job["status"] == "failed"
    assert job["error"].startswith("fake.png: ") and "\n" not in job["error"]
    assert client.get("/v1/pets").json() == []


def test_no_face_error_names_the_checkbox(client: TestClient) -> None:
    job = invert(client, flat_photo(), name="wall.png", detect="true")
    assert job["status"] == "failed"
    assert job["error"] == ("wall.png: no cat face found; untick 'find the face' to use the centre square "
                            "of the photo instead, or give a crop box to frame it yourself")
