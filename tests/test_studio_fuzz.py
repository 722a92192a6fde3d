"""No 500 reachable from any input: every route of the studio, driven with hypothesis-generated JSON bodies,
form fields, query strings and path parameters, answers below 500 and never shows a traceback.

Jobs are recorded but not run (their submission is replaced by a record marked done): what is fuzzed is the
checking every request goes through before a job is accepted, not the rendering or training behind it.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import SPRITES
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import BaseModel
from starlette.routing import Mount, Route

from muybridge.data import prepare_dataset
from muybridge.data.format import DATASET_FILE
from muybridge.studio import StudioSettings, create_app
from muybridge.studio.uploads import UploadLimits

LOCAL = "http://127.0.0.1"
EXAMPLES_PER_ROUTE = 25
DESTRUCTIVE = ("DELETE", "PATCH", "PUT")  # fuzzed last, so that the other routes find the model in place

NAMES = st.sampled_from(["tiny", "pets", "broken", "cat", "dog", "cat:1", "cat:2147483648", f"cat:{10**30}",
                         "cat*0.5+dog*0.5:3", "cat*1e999", "+".join(["cat"] * 80), "..", "../models", "a/b",
                         ".staging", "%00", "\x00", "images\x00.png", "ﬁ", "٣", "-1", "0", "1e309", "NaN",
                         "true", "9" * 60, "x" * 300, "", " ", "images/../../x", "outputs", "sprites.png"])
TEXT = st.one_of(NAMES, st.text(max_size=24))
NUMBERS = st.one_of(st.integers(-(2**70), 2**70), st.integers(-3, 100),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0, 1, 64, 1024, 2**31]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=10)
FIELD_VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(TEXT, SCALARS, max_size=3),
                         st.lists(st.dictionaries(st.sampled_from(["time", "class", "seed", "directions",
                                                                   "easing"]), SCALARS, max_size=5), max_size=3))


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[TestClient]:
    workspace = tmp_path_factory.mktemp("fuzz") / "ws"
    shutil.copytree(tiny_model_dir, workspace / "models" / "tiny")
    sprites = tmp_path_factory.mktemp("sprites")
    for sprite in sorted(SPRITES.glob("*.png"))[:4]:
        shutil.copy(sprite, sprites / sprite.name)
    prepare_dataset([sprites], workspace / "datasets" / "pets", size=32, class_name="cat", workers=1)
    broken = workspace / "datasets" / "broken"  # a hand-edited dataset.json: answered 400, never 500
    broken.mkdir(parents=True)
    (broken / DATASET_FILE).write_text(json.dumps({"count": 2, "classes": "cat"}))
    (workspace / "outputs" / "images").mkdir(parents=True)
    (workspace / "outputs" / "images" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    studio_settings = StudioSettings(workspace=workspace, bundled_dir=None, max_generate_pixels=8 * 64 * 64,
                                     upload=UploadLimits(max_bytes=256 * 1024, max_files=4))
    app = create_app(studio_settings)
    jobs = app.state.studio.jobs

    def record(kind: str, title: str) -> Any:
        job = jobs._add(kind, title)
        job.update(status="done", finished=time.time())
        return job

    jobs.submit = lambda kind, title, work, request=None, pixels=0: record(kind, title)
    jobs.start_process = lambda title, target, args: record("train", title)
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as client:
        yield client


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def _plausible(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values near what a field's JSON schema asks for (its bounds and one past them), to get past the parser."""
    if "anyOf" in prop:
        return st.one_of(*(_plausible(option) for option in prop["anyOf"]))
    if "enum" in prop or "const" in prop:
        return st.sampled_from(prop.get("enum") or [prop.get("const")])
    kind = prop.get("type")
    if kind == "integer":
        low, high = prop.get("minimum", -5), prop.get("maximum", 2**31)
        return st.one_of(st.integers(low, min(high, low + 70)), st.sampled_from([low - 1, high, high + 1]))
    if kind == "number":
        low, high = prop.get("minimum", prop.get("exclusiveMinimum", -10.0)), prop.get("maximum", 1e6)
        return st.one_of(st.floats(low, high), st.sampled_from([0.0, 1e-9, low, high, 1e308]))
    if kind == "string":
        return NAMES
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(_plausible(prop.get("items", {})) if prop.get("items") else SCALARS, max_size=4)
    if kind == "object":
        return st.dictionaries(st.sampled_from(["sefa:0", "sefa:1", "smile", "x"]), NUMBERS, max_size=3)
    return SCALARS


def _body_model(route: APIRoute) -> type[BaseModel] | None:
    body = route.dependant.body_params
    if len(body) == 1 and isinstance(body[0].field_info.annotation, type) and issubclass(
            body[0].field_info.annotation, BaseModel):
        return body[0].field_info.annotation
    return None


def _form_fields(route: APIRoute) -> list[str] | None:
    content = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
    schema = content.get("multipart/form-data", {}).get("schema")
    return list(schema["properties"]) if schema else None


def _requests(prefix: str, route: Any, method: str) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for ``client.request`` that exercise ``route`` (mounted under ``prefix``)."""
    if isinstance(route, Mount):
        tail = st.one_of(st.sampled_from(["app.js", "index.html", "vendor/swagger-ui/swagger-ui.css",
                                          "../app.py", "%2e%2e/app.py", "%00", "vendor"]), st.text(max_size=20))
        return st.builds(lambda t: {"url": f"{prefix}{route.path}/{quote(t, safe='/%')}"}, tail)
    path_format = prefix + route.path_format
    names = list(route.param_convertors)
    paths = st.fixed_dictionaries({name: TEXT for name in names}).map(
        lambda values: path_format.format(**{k: quote(v, safe="/" if route.param_convertors[k].regex == ".*"
                                                      else "") or "x" for k, v in values.items()}))
    query_names = [p.alias for p in route.dependant.query_params] if isinstance(route, APIRoute) else []
    queries = st.one_of(st.just({}), st.dictionaries(
        st.one_of(st.sampled_from([*query_names, "format", "confirm", "token"]), TEXT),
        st.one_of(TEXT, st.sampled_from(["json", "png", "tiny", "pets"])), max_size=3))
    body: st.SearchStrategy[dict[str, Any]] = st.just({})
    if isinstance(route, APIRoute) and method not in ("GET", "HEAD"):
        model = _body_model(route)
        fields = _form_fields(route)
        if model is not None:
            schema = model.model_json_schema()
            fields = {key: st.one_of(*[_plausible(prop)] * 6, FIELD_VALUES)
                      for key, prop in schema.get("properties", {}).items()}
            required = set(schema.get("required", []))
            shaped = st.fixed_dictionaries({k: v for k, v in fields.items() if k in required},
                                           optional={k: v for k, v in fields.items() if k not in required})
            body = st.one_of(shaped, shaped, shaped, JSON).map(lambda value: {"json": value})
        elif fields is not None:
            form = st.fixed_dictionaries({"name": st.one_of(st.just("new-set"), NAMES)}, optional={
                key: st.one_of(NAMES, st.sampled_from(["32", "64", "0.1", "true", "cat"]))
                for key in fields if key not in ("files", "photo", "name")})
            uploads = st.lists(st.tuples(st.sampled_from(["files", "photo"]), TEXT.map(lambda t: t or "f"),
                                         st.one_of(st.binary(max_size=200), st.just(_png()))), max_size=3)
            body = st.builds(lambda data, files: {"data": data, "files": [(k, (n, b)) for k, n, b in files]},
                             form, uploads)
        else:
            body = st.one_of(st.just({}), JSON.map(lambda value: {"json": value}))
    return st.builds(lambda url, params, extra: {"url": url, "params": params, **extra}, paths, queries, body)


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(prefix, route) for every route, into included routers (FastAPI includes them lazily)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _walk(included.routes, prefix + route.include_context.prefix)
        else:
            yield prefix, route


def _routes(app: Any) -> list[tuple[str, Any, str]]:
    """(prefix, route, method) for every route and method of the app, the destructive ones last."""
    triples = []
    for prefix, route in _walk(app.routes):
        if isinstance(route, Mount):
            triples.append((prefix, route, "GET"))
        elif isinstance(route, Route):
            triples.extend((prefix, route, method) for method in sorted(route.methods or ()) if method != "HEAD")
    return sorted(triples, key=lambda triple: triple[2] in DESTRUCTIVE)


def _fuzz(client: TestClient, prefix: str, route: Any, method: str, tried: dict[str, int]) -> None:
    label = f"{method} {prefix}{route.path}"

    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def drive(data: st.DataObject) -> None:
        request = data.draw(_requests(prefix, route, method), label="request")
        response = client.request(method, **request)
        tried[label] = tried.get(label, 0) + 1
        text = response.text if "image" not in response.headers.get("content-type", "") else ""
        assert response.status_code < 500, (label, request, response.status_code, text[:300])
        assert "Traceback" not in text, (label, request, text[:300])
        if response.status_code >= 400 and response.headers.get("content-type") == "application/json":
            error = response.json()
            assert isinstance(error, dict) and "\n" not in str(error.get("error", "")), (label, error)

    drive()


def test_no_route_answers_5xx_or_a_traceback(fuzz_client: TestClient) -> None:
    triples = _routes(fuzz_client.app)
    tried: dict[str, int] = {}
    for prefix, route, method in triples:
        _fuzz(fuzz_client, prefix, route, method, tried)
    fuzzed = {(prefix + route.path_format, method) for prefix, route, method in triples}
    schema = fuzz_client.get("/openapi.json").json()["paths"]
    documented = {(path, method.upper()) for path, operations in schema.items() for method in operations}
    assert documented <= fuzzed, documented - fuzzed  # every documented operation was driven
    assert {("/docs", "GET"), ("/static/{path}", "GET"), ("/v1/datasets/{name}", "DELETE")} <= fuzzed
    assert len(tried) == len(triples) and sum(tried.values()) >= len(triples) * EXAMPLES_PER_ROUTE // 2
