"""Studio REST API: models, generate (PNG and JSON), preview, animate jobs, errors, and the queue limit."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import threading
import time
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import LOCAL, wait_for_job, workspace_with_model
from fastapi.testclient import TestClient
from PIL import Image

from muybridge.studio import StudioSettings, create_app
from muybridge.studio.batcher import GenerateBatcher


def test_models_list_get_and_samples(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    assert [m["name"] for m in models] == ["tiny"]
    assert models[0]["classes"] == ["cat", "dog"] and models[0]["bundled"] is False
    info = client.get("/v1/models/tiny").json()
    assert info["card"].startswith("# tiny") and info["resolution"] == 32
    grid = Image.open(io.BytesIO(client.get("/v1/models/tiny/samples.png").content))
    assert grid.size == (8 * 32, 2 * 32)


def test_rename_download_and_delete_with_confirmation(client: TestClient) -> None:
    renamed = client.patch("/v1/models/tiny", json={"name": "kitten"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "kitten"
    assert client.get("/v1/models/tiny").status_code == 404
    archive = zipfile.ZipFile(io.BytesIO(client.get("/v1/models/kitten/download").content))
    assert sorted(archive.namelist()) == ["kitten/config.json", "kitten/model.safetensors", "kitten/model_card.md"]
    unconfirmed = client.delete("/v1/models/kitten")
    assert unconfirmed.status_code == 400 and "confirm=kitten" in unconfirmed.json()["error"]
    assert client.delete("/v1/models/kitten?confirm=kitten").json() == {"deleted": "kitten"}
    assert client.get("/v1/models").json() == []


def test_the_models_page_downloads_the_decoder_as_onnx(client: TestClient, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'muybridge[onnx]')")
    for query, opset, inputs in (("", 15, 3), ("?pose=true", 20, 4)):
        response = client.get(f"/v1/models/tiny/onnx{query}")
        assert response.status_code == 200, response.text
        assert 'filename="tiny.onnx"' in response.headers["content-disposition"]
        model = onnx.load_from_string(response.content)
        assert {entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")} == {opset}
        assert len(model.graph.input) == inputs
        assert json.loads({p.key: p.value for p in model.metadata_props}["classes"]) == ["cat", "dog"]
    assert client.get("/v1/models/nobody/onnx").status_code == 404
    workspace = Path(client.get("/v1/status").json()["workspace"])
    assert not list(workspace.rglob("*.onnx")) and not list(workspace.rglob("onnx-*.json"))  # nothing left behind


def test_bundled_models_are_read_only(tmp_path: Path, tiny_model_dir: Path) -> None:
    zoo = tmp_path / "zoo"
    shutil.copytree(tiny_model_dir, zoo / "bundled-tiny")
    settings = StudioSettings(workspace=tmp_path / "ws", bundled_dir=zoo)
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        assert client.get("/v1/models").json()[0]["bundled"] is True
        refused = client.delete("/v1/models/bundled-tiny?confirm=bundled-tiny")
        assert refused.status_code == 400 and "read-only" in refused.json()["error"]
        assert (zoo / "bundled-tiny" / "config.json").is_file()
        assert client.post("/v1/generate", json={"class": "dog", "seed": 1}).status_code == 200


def test_generate_png_is_deterministic_per_seed(client: TestClient) -> None:
    first = client.post("/v1/generate", json={"model": "tiny", "class": "cat", "seed": 7})
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.headers["x-seed"] == "7"
    again = client.post("/v1/generate", json={"model": "tiny", "class": "cat", "seed": 7})
    other = client.post("/v1/generate", json={"model": "tiny", "class": "cat", "seed": 8})
    pixels = [np.asarray(Image.open(io.BytesIO(r.content))) for r in (first, again, other)]
    assert pixels[0].shape == (32, 32, 3)
    assert np.array_equal(pixels[0], pixels[1]) and not np.array_equal(pixels[0], pixels[2])


def test_generate_json_grid_and_save(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/v1/generate", json={"class": "dog", "seed": 3, "n": 4, "size": 40, "save": True},
                           headers={"Accept": "application/json"})
    body = response.json()
    assert body["seeds"] == [3, 4, 5, 6] and (body["width"], body["height"]) == (80, 80)
    image = Image.open(io.BytesIO(base64.b64decode(body["image_base64"])))
    assert image.size == (80, 80)
    assert (tmp_path / "ws" / body["saved"]).read_bytes() == base64.b64decode(body["image_base64"])
    assert client.get(f"/v1/outputs/{body['saved'].removeprefix('outputs/')}").content == (
        base64.b64decode(body["image_base64"]))
    random_seed = client.post("/v1/generate?format=json", json={"class": "cat"}).json()["seed"]
    assert isinstance(random_seed, int) and random_seed >= 0


def test_preview_moves_with_the_sliders(client: TestClient) -> None:
    directions = client.get("/v1/models/tiny/directions").json()
    assert directions[0]["id"] == "sefa:0"
    still = client.post("/v1/preview", json={"character": "cat:2", "size": 64})
    moved = client.post("/v1/preview", json={"character": "cat:2", "size": 64, "offsets": {"sefa:0": 3}})
    a, b = (np.asarray(Image.open(io.BytesIO(r.content)), dtype=np.int16) for r in (still, moved))
    assert a.shape == (64, 64, 3) and np.abs(a - b).mean() > 0.5


def test_animate_loop_job_gives_a_gif(client: TestClient) -> None:
    started = client.post("/v1/animate", json={"model": "tiny", "mode": "loop", "characters": ["cat:1"],
                                               "fps": 12, "duration": 1, "offsets": {"sefa:1": 1.0}})
    assert started.status_code == 202
    job = wait_for_job(client, started.json()["id"])
    assert job["status"] == "done", job["error"]
    assert job["result"]["frames"] == 12 and job["done"] == job["total"]
    gif = Image.open(io.BytesIO(client.get(job["urls"][0]).content))
    assert gif.format == "GIF" and gif.n_frames == 12


def test_animate_sprites_and_timeline(client: TestClient) -> None:
    started = client.post("/v1/animate", json={"mode": "timeline", "characters": ["cat:1", "dog:2", "cat:3"],
                                               "fps": 8, "duration": 1, "format": "sprites"})
    job = wait_for_job(client, started.json()["id"])
    assert job["status"] == "done", job["error"]
    assert job["result"]["frames"] == 9  # a timeline includes both ends
    atlas = client.get(job["urls"][1]).json()
    assert len(atlas["frames"]) == 9


def test_animate_refuses_bad_requests_before_queueing(client: TestClient) -> None:
    bad_key = client.post("/v1/animate", json={"mode": "morph", "characters": ["cat:1"]})
    assert bad_key.status_code == 400 and "2" in bad_key.json()["error"]
    too_long = client.post("/v1/animate", json={"fps": 60, "duration": 60})
    assert too_long.status_code == 400 and "limit" in too_long.json()["error"]
    assert client.get("/v1/jobs").json() == []


def test_cancel_a_queued_job(client: TestClient) -> None:
    studio = client.app.state.studio  # type: ignore[attr-defined]
    gate = studio.jobs.submit("animate", "blocker", lambda job: time.sleep(1.0))
    queued = client.post("/v1/animate", json={"characters": ["cat:1"], "fps": 4, "duration": 1}).json()
    cancelled = client.post(f"/v1/jobs/{queued['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert studio.jobs.wait(gate.id, 10).status == "done"


def test_errors_are_one_line_json(client: TestClient) -> None:
    cases = [
        (client.get("/v1/models/nope"), 404, "no model named 'nope'"),
        (client.post("/v1/generate", json={"class": "cow"}), 400, "unknown class 'cow'"),
        (client.post("/v1/generate", json={"class": "cat", "n": 100}), 422, "n: "),
        (client.post("/v1/generate", json={}), 422, "class: "),
        (client.get("/v1/jobs/unknown"), 404, "no job"),
        (client.get("/v1/no-such-route"), 404, "Not Found"),
    ]
    for response, status, fragment in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert list(body) == ["error"] and fragment in body["error"] and "\n" not in body["error"]


def test_internal_errors_hide_the_details(tmp_path: Path, tiny_model_dir: Path) -> None:
    settings = StudioSettings(workspace=workspace_with_model(tmp_path, tiny_model_dir), bundled_dir=None)
    app = create_app(settings)

    def broken(name: str) -> None:
        raise RuntimeError("secret internals")

    app.state.studio.catalog.load = broken
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as client:
        response = client.post("/v1/generate", json={"class": "cat", "seed": 1})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error; the server log has the details"}


def test_openapi_schema_lists_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/models", "/v1/generate", "/v1/animate", "/v1/jobs/{job_id}", "/v1/datasets", "/v1/train"):
        assert path in paths
    assert client.get("/").text.startswith("<!doctype html>")


def test_full_queue_answers_503_with_retry_after(tmp_path: Path, tiny_model_dir: Path) -> None:
    settings = StudioSettings(workspace=workspace_with_model(tmp_path, tiny_model_dir), bundled_dir=None,
                              max_queue=1)
    app = create_app(settings)
    batcher = app.state.studio.batcher

    async def stalled_worker(queue: asyncio.Queue) -> None:
        await asyncio.Event().wait()  # never drains: the queue fills up

    batcher._run = stalled_worker

    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL) as http:
            waiting = asyncio.create_task(http.post("/v1/generate", json={"class": "cat", "seed": 1}))
            while batcher._queue is None or batcher._queue.empty():
                await asyncio.sleep(0.01)
            refused = await http.post("/v1/generate", json={"class": "cat", "seed": 2})
            waiting.cancel()
            return refused

    try:
        refused = asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        app.state.studio.close()
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1" and "queue is full" in refused.json()["error"]


def test_batcher_merges_concurrent_requests(tiny_model_dir: Path) -> None:
    from muybridge.generator import Generator

    generator = Generator.load(tiny_model_dir)
    batcher = GenerateBatcher(lambda name: generator, max_queue=64, window_s=0.05)

    async def burst() -> list[np.ndarray]:
        return await asyncio.gather(*(batcher.submit("tiny", ["cat"], [seed]) for seed in range(12)))

    try:
        results = asyncio.run(burst())
    finally:
        batcher.close()
    assert batcher.batches <= 2 and batcher.images == 12
    expected = generator.generate("cat", list(range(12)))
    assert all(np.array_equal(result[0], expected[i]) for i, result in enumerate(results))


def test_a_restarted_studio_shows_interrupted_jobs_with_what_ran_them(tmp_path: Path, tiny_model_dir: Path) -> None:
    from muybridge.studio.jobs import INTERRUPTED

    settings = StudioSettings(workspace=workspace_with_model(tmp_path, tiny_model_dir), bundled_dir=None)
    with TestClient(create_app(settings), base_url=LOCAL) as first:
        studio = first.app.state.studio  # type: ignore[attr-defined]
        gate = threading.Event()
        studio.jobs.submit("animate", "blocker", lambda job: gate.wait(30))  # holds the one job thread
        started = first.post("/v1/animate", json={"model": "tiny", "characters": ["cat:2"], "fps": 4, "duration": 1})
        job_id = started.json()["id"]
        journal = studio.workspace.inside(".jobs", f"{job_id}.json")
        assert json.loads(journal.read_text())["status"] == "queued"
        # the studio dies here (no shutdown: its journal still says queued); a new one starts on the workspace
        with TestClient(create_app(settings), base_url=LOCAL) as second:
            restored = second.get(f"/v1/jobs/{job_id}").json()
            assert restored["status"] == "interrupted" and restored["error"] == INTERRUPTED
            assert restored["request"]["path"] == "/v1/animate"
            again = second.post(restored["request"]["path"], json=restored["request"]["body"])
            assert again.status_code == 202
            assert wait_for_job(second, again.json()["id"])["status"] == "done"
        gate.set()
