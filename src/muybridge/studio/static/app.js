/* muybridge studio front end: plain JavaScript, no build step, talks to /v1 only. */
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
const state = { models: [], modelInfo: {}, animMode: "loop", trainJob: null, pet: null };

/* ---------- helpers ---------- */
function toast(message, isError = false) {
  const box = $("#toast");
  box.textContent = message;
  box.className = "show" + (isError ? " error" : "");
  clearTimeout(box.timer);
  box.timer = setTimeout(() => { box.className = ""; }, isError ? 6000 : 2500);
}

async function api(path, options = {}) {
  const init = { ...options, headers: { ...(options.headers || {}) } };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}
const getJSON = async (path) => (await api(path)).json();

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

/* A tiny Markdown renderer for model cards: everything is escaped first, then a few constructs are styled. */
function renderMarkdown(text) {
  const lines = String(text).split("\n");
  const out = [];
  let inCode = false, inList = false, paragraph = [];
  const inline = (s) => escapeHtml(s)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<b>$1</b>")
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<i>$2</i>")
    .replace(/\[([^\]]+)\]\((https?:[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>');
  const flush = () => {
    if (paragraph.length) out.push(`<p>${inline(paragraph.join(" "))}</p>`);
    paragraph = [];
    if (inList) { out.push("</ul>"); inList = false; }
  };
  for (const line of lines) {
    if (line.startsWith("```")) {
      flush();
      out.push(inCode ? "</code></pre>" : "<pre><code>");
      inCode = !inCode;
      continue;
    }
    if (inCode) { out.push(escapeHtml(line) + "\n"); continue; }
    const summary = line.match(/^<details><summary>(.*)<\/summary>$/);
    if (summary) { flush(); out.push(`<details><summary>${escapeHtml(summary[1])}</summary>`); continue; }
    if (line.trim() === "</details>") { flush(); out.push("</details>"); continue; }
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    if (heading) { flush(); const level = Math.min(heading[1].length + 1, 5); out.push(`<h${level}>${inline(heading[2])}</h${level}>`); continue; }
    const item = line.match(/^\s*[-*]\s+(.*)$/);
    if (item) {
      if (paragraph.length) { out.push(`<p>${inline(paragraph.join(" "))}</p>`); paragraph = []; }
      if (!inList) { out.push("<ul>"); inList = true; }
      out.push(`<li>${inline(item[1])}</li>`);
      continue;
    }
    if (!line.trim()) { flush(); continue; }
    if (inList) { out.push("</ul>"); inList = false; }
    paragraph.push(line.trim());
  }
  flush();
  if (inCode) out.push("</code></pre>");
  return out.join("");
}

function setProgress(bar, job) {
  const fraction = job.fraction;
  bar.classList.toggle("indeterminate", fraction === null || fraction === undefined);
  bar.style.width = fraction === null || fraction === undefined ? "" : `${Math.round(fraction * 100)}%`;
}

const ENDED = ["done", "failed", "cancelled", "interrupted"];

/* Follow a job through server-sent events; when the stream breaks (a restarting studio), poll with backoff. */
function followJob(id, onUpdate) {
  let finished = false;
  const done = (job) => ENDED.includes(job.status);
  const source = new EventSource(`/v1/jobs/${id}/events`);
  source.onmessage = (event) => {
    const job = JSON.parse(event.data);
    onUpdate(job);
    if (done(job)) { finished = true; source.close(); }
  };
  source.onerror = () => {
    source.close();
    if (finished) return;
    let delay = 1000;
    const poll = async () => {
      try {
        const job = await getJSON(`/v1/jobs/${id}`);
        delay = 1000;
        onUpdate(job);
        if (!done(job)) setTimeout(poll, delay);
      } catch (error) {
        delay = Math.min(delay * 2, 30000);  // the studio may be restarting: keep trying, less often
        setTimeout(poll, delay);
      }
    };
    poll();
  };
  return source;
}

/* ---------- tabs ---------- */
const VIEWS = ["models", "generate", "animate", "train"];

function showView(name) {
  for (const tab of $$(".tabs button")) tab.classList.toggle("active", tab.dataset.view === name);
  for (const view of $$(".view")) view.hidden = view.id !== `view-${name}`;
  if (name === "models") refreshModels();
  if (name === "train") refreshTrain();
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
}

/* ---------- models ---------- */
async function loadModels() {
  state.models = (await getJSON("/v1/models")).filter((m) => !m.error);
  for (const select of $$(".model-select")) {
    const previous = select.value;
    select.replaceChildren(...state.models.map((m) =>
      element("option", { value: m.name, text: `${m.name}${m.bundled ? " (bundled)" : ""}` })));
    if (state.models.some((m) => m.name === previous)) select.value = previous;
  }
  if (!state.models.length) {
    for (const select of $$(".model-select")) select.replaceChildren(element("option", { value: "", text: "no models yet" }));
  }
  onGenerateModel();
  onAnimateModel();
}

function modelByName(name) { return state.models.find((m) => m.name === name); }

async function refreshModels(selected) {
  await loadModels();
  const list = $("#model-list");
  list.replaceChildren(...state.models.map((m) => {
    const item = element("li", { "data-name": m.name, onclick: () => showModel(m.name) }, [
      element("span", { class: "title", text: m.name }),
      element("span", { class: "muted small", text: `${m.classes.length} classes · ${m.resolution}px` }),
    ]);
    if (m.bundled) item.append(element("span", { class: "badge", text: "bundled" }));
    return item;
  }));
  if (!state.models.length) list.replaceChildren(element("li", { class: "muted", text: "No models yet: train one in the Train tab." }));
  const name = selected || $("#model-detail").dataset.name || (state.models[0] && state.models[0].name);
  if (name && modelByName(name)) showModel(name);
  else $("#model-detail").replaceChildren(element("p", { class: "empty", text: "Choose a model." }));
}

async function showModel(name) {
  for (const item of $$("#model-list li")) item.classList.toggle("selected", item.dataset.name === name);
  const panel = $("#model-detail");
  panel.dataset.name = name;
  let info;
  try { info = await getJSON(`/v1/models/${encodeURIComponent(name)}`); } catch (error) { toast(error.message, true); return; }
  const head = element("div", { class: "detail-head" }, [
    element("h2", { text: info.name }),
    element("a", { class: "button", href: `/v1/models/${encodeURIComponent(name)}/download`, text: "Download zip" }),
    element("a", { class: "button", href: `/v1/models/${encodeURIComponent(name)}/onnx`, text: "ONNX",
                   title: "The decoder as an ONNX graph (opset 15) for game engines: muybridge export-onnx" }),
  ]);
  if (!info.bundled) {
    head.append(element("button", { type: "button", text: "Rename", onclick: () => renameModel(name) }),
      element("button", { type: "button", class: "danger", text: "Delete…", onclick: () => deleteModel(name) }));
  } else {
    head.append(element("span", { class: "badge", text: "bundled · read-only" }));
  }
  const facts = element("p", { class: "muted", text:
    `${info.architecture} · ${info.resolution}×${info.resolution} px · classes: ${info.classes.join(", ")} · ` +
    `${(info.size_bytes / 2 ** 20).toFixed(1)} MiB` });
  const samples = element("img", { class: "samples", alt: `Samples of ${name}`,
    src: `/v1/models/${encodeURIComponent(name)}/samples.png` });
  const children = [head, facts, samples];
  const metrics = Object.entries(info.metrics || {});
  if (metrics.length) {
    const rows = metrics.map(([key, value]) => element("tr", {}, [
      element("th", { text: key }),
      element("td", { text: typeof value === "object" ? JSON.stringify(value) : String(value) })]));
    children.push(element("h3", { text: "Metrics" }), element("table", { class: "metrics" }, rows));
  }
  const card = element("div", { class: "card" });
  card.innerHTML = renderMarkdown(info.card || "*No model card.*");
  children.push(card);
  panel.replaceChildren(...children);
}

async function renameModel(name) {
  const newName = prompt(`New name for ${name}:`, name);
  if (!newName || newName === name) return;
  try {
    await api(`/v1/models/${encodeURIComponent(name)}`, { method: "PATCH", json: { name: newName } });
    toast(`Renamed to ${newName}`);
    refreshModels(newName);
  } catch (error) { toast(error.message, true); }
}

function confirmByTyping(title, text, expected) {
  return new Promise((resolve) => {
    const dialog = $("#confirm-dialog");
    $("#confirm-title").textContent = title;
    $("#confirm-text").textContent = text;
    const input = $("#confirm-input");
    input.value = "";
    input.placeholder = expected;
    const ok = $("#confirm-ok");
    ok.disabled = true;
    input.oninput = () => { ok.disabled = input.value !== expected; };
    dialog.onclose = () => resolve(dialog.returnValue === "ok" && input.value === expected);
    dialog.showModal();
  });
}

async function deleteModel(name) {
  const sure = await confirmByTyping(`Delete ${name}?`,
    `This removes the model folder from the workspace and cannot be undone. Type "${name}" to confirm.`, name);
  if (!sure) return;
  try {
    await api(`/v1/models/${encodeURIComponent(name)}?confirm=${encodeURIComponent(name)}`, { method: "DELETE" });
    toast(`Deleted ${name}`);
    delete $("#model-detail").dataset.name;
    refreshModels();
  } catch (error) { toast(error.message, true); }
}

/* ---------- generate ---------- */
function onGenerateModel() {
  const model = modelByName($("#gen-model").value);
  const select = $("#gen-class");
  const previous = select.value;
  const classes = model ? model.classes : [];
  select.replaceChildren(...classes.map((c) => element("option", { value: c, text: c })));
  if (classes.length > 1) {
    const mix = classes.slice(0, 2).map((c) => `${c}*0.5`).join("+");
    select.append(element("option", { value: mix, text: `${classes[0]} + ${classes[1]} mix` }));
  }
  if (classes.includes(previous)) select.value = previous;
}

async function generate(event) {
  event.preventDefault();
  const button = $("#gen-button");
  button.disabled = true;
  const count = Number($("#gen-count").value);
  const seedText = $("#gen-seed").value.trim();
  const size = $("#gen-size").value;
  const body = {
    model: $("#gen-model").value || null, class: $("#gen-class").value,
    seed: seedText === "" ? null : Number(seedText), n: count,
    truncation: Number($("#gen-truncation").value), save: $("#gen-save").checked,
    size: size ? Math.max(8, Math.round(Number(size) / Math.sqrt(count))) : null,
  };
  try {
    const result = await (await api("/v1/generate?format=json", { json: body })).json();
    const src = `data:image/png;base64,${result.image_base64}`;
    const image = element("img", { id: "gen-image", src, alt: `${result.class} seed ${result.seed}` });
    $("#gen-result").replaceChildren(image);
    $("#gen-download").href = src;
    $("#gen-download").download = `${result.model}-${result.class}-${result.seed}.png`.replace(/[^A-Za-z0-9._-]/g, "_");
    $("#gen-caption").textContent = `${result.class} · seed ${result.seed}${count > 1 ? `…${result.seed + count - 1}` : ""}` +
      (result.saved ? ` · saved to ${result.saved}` : "");
    $("#gen-actions").hidden = false;
    $("#gen-actions").dataset.key = `${result.class}:${result.seed}`;
    $("#gen-actions").dataset.model = result.model;
  } catch (error) {
    toast(error.message, true);
  } finally {
    button.disabled = false;
  }
}

function sendToAnimate() {
  const actions = $("#gen-actions");
  $("#anim-model").value = actions.dataset.model;
  $("#anim-characters").value = actions.dataset.key;
  showView("animate");
  onAnimateModel();
}

/* ---------- animate ---------- */
const MODE_HINTS = {
  loop: "One character drifts around a small circle and comes back: a seamless loop.",
  walk: "Walk from character to character (two or more keys).",
  morph: "Morph the first character into the second (exactly two keys); e.g. cat:3 dog:3. With \"use my pet\": your pet → the second.",
  motion: "One character makes a move (look left, nod, tilt, breathe...) and stays the same animal; or swings along a latent direction (which changes who it is).",
  character: "One character doing every move at once, side by side: download the pack (tagged sprite sheet, Godot SpriteFrames, GIFs).",
  timeline: "Characters spread evenly over the duration, eased between keys.",
};

function setMode(mode) {
  state.animMode = mode;
  for (const button of $$("#anim-mode button")) button.classList.toggle("active", button.dataset.mode === mode);
  for (const group of $$(".mode-options")) group.hidden = !group.dataset.for.split(" ").includes(mode);
  for (const label of $$("[data-not]")) label.hidden = label.dataset.not === mode;
  $("#anim-mode-hint").textContent = MODE_HINTS[mode];
  const keys = $("#anim-characters");
  const count = keys.value.trim().split(/\s+/).filter(Boolean).length;
  if ((mode === "walk" || mode === "timeline" || mode === "morph") && count < 2) {
    const model = modelByName($("#anim-model").value);
    const other = model && model.classes.length > 1 ? model.classes[1] : "cat";
    keys.value = `${keys.value.trim() || "cat:7"} ${other}:3`;
  }
}

const LATENT_MOVE = "latent direction…";

async function loadFidelities() {
  let fidelities = [];
  try { fidelities = await getJSON("/v1/pets/fidelities"); } catch (error) { toast(error.message, true); }
  $("#pet-fidelity").replaceChildren(...fidelities.map((f) => element("option", { value: f.id, text: `${f.id}: ${f.description}` })));
}

async function loadMotions() {
  let motions = [];
  try { motions = await getJSON("/v1/motions"); } catch (error) { toast(error.message, true); }
  $("#anim-motion").replaceChildren(...motions.map((m) => element("option", { value: m.id, text: m.id, title: m.description })),
    element("option", { value: "", text: LATENT_MOVE }));
  $("#anim-motions").replaceChildren(...motions.map((m) => element("label", { class: "check", title: m.description },
    [element("input", { type: "checkbox", value: m.id, checked: "" }), m.id])));
}

async function onAnimateModel() {
  const name = $("#anim-model").value;
  if (!name) return;
  let directions = [];
  try { directions = await getJSON(`/v1/models/${encodeURIComponent(name)}/directions`); } catch (error) { toast(error.message, true); }
  const select = $("#anim-direction");
  select.replaceChildren(...directions.map((d) => element("option", { value: d.id, text: d.label })));
  const sliders = $("#anim-sliders");
  sliders.replaceChildren(...directions.map((d) => {
    const value = element("output", { text: "0.0" });
    const input = element("input", { type: "range", min: "-5", max: "5", step: "0.25", value: "0", "data-direction": d.id });
    input.addEventListener("input", () => { value.textContent = Number(input.value).toFixed(1); schedulePreview(); });
    return element("label", {}, [d.label, value, input]);
  }));
  schedulePreview();
  await showPetsFor(name);
}

/* ---------- your pet ---------- */
function showPet(pet) {
  state.pet = pet;
  $("#pet-use").disabled = !pet;
  if (!pet) { $("#pet-use").checked = false; $("#pet-preview").hidden = true; return; }
  $("#pet-preview").src = `${pet.preview}?v=${pet.created}`;
  $("#pet-preview").hidden = false;
  const psnr = pet.losses && pet.losses.refined_psnr;
  $("#pet-status").textContent = `${pet.source || "photo"} as ${pet.class}${psnr ? ` · ${psnr.toFixed(1)} dB` : ""}`;
}

/* The class list follows the model; the newest pet inverted with this model comes back after a reload. */
async function showPetsFor(model) {
  const info = modelByName(model);
  const classes = info ? info.classes : [];
  const select = $("#pet-class");
  select.replaceChildren(...classes.map((c) => element("option", { value: c, text: c })));
  if (classes.includes("cat")) select.value = "cat";
  let pets = [];
  try { pets = await getJSON("/v1/pets"); } catch (error) { toast(error.message, true); }
  showPet(pets.find((p) => p.model === model && !p.error) || null);
}

async function invertPet() {
  const file = $("#pet-file").files[0];
  if (!file) { toast("Choose a photo of your pet first", true); return; }
  const form = new FormData();
  form.append("photo", file, file.name);
  form.append("model", $("#anim-model").value);
  form.append("class", $("#pet-class").value);
  form.append("detect", $("#pet-detect").checked ? "true" : "false");
  if ($("#pet-crop").value.trim()) form.append("crop", $("#pet-crop").value.trim());
  if ($("#pet-fidelity").value) form.append("fidelity", $("#pet-fidelity").value);
  const button = $("#pet-invert");
  button.disabled = true;
  $("#pet-job").hidden = false;
  $("#pet-status").textContent = "uploading…";
  try {
    const job = await (await api("/v1/pets", { method: "POST", body: form })).json();
    followJob(job.id, (update) => {
      setProgress($("#pet-progress"), update);
      $("#pet-status").textContent = `${update.status}${update.total ? ` · step ${update.done}/${update.total}` : ""}`;
      if (!ENDED.includes(update.status)) return;
      button.disabled = false;
      $("#pet-job").hidden = true;
      if (update.status === "failed") { toast(update.error, true); $("#pet-status").textContent = update.error; }
      if (update.status === "done") { showPet({ ...update.result, id: update.result.pet }); $("#pet-use").checked = true; }
    });
  } catch (error) {
    toast(error.message, true);
    $("#pet-status").textContent = error.message;
    $("#pet-job").hidden = true;
    button.disabled = false;
  }
}

function sliderOffsets() {
  const offsets = {};
  for (const input of $$("#anim-sliders input")) {
    const value = Number(input.value);
    if (value) offsets[input.dataset.direction] = value;
  }
  return offsets;
}

function characterKeys() { return $("#anim-characters").value.trim().split(/[\s,]+/).filter(Boolean); }

let previewUrl = null;
async function renderPreview() {
  const keys = characterKeys();
  if (!keys.length || !$("#anim-model").value) return;
  try {
    const response = await api("/v1/preview", { json: {
      model: $("#anim-model").value, character: keys[0].includes(":") ? keys[0] : `${keys[0]}:0`,
      offsets: sliderOffsets(), size: 128 } });
    const url = URL.createObjectURL(await response.blob());
    $("#anim-preview").src = url;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = url;
  } catch (error) { toast(error.message, true); }
}
const schedulePreview = debounce(renderPreview, 150);

let animSource = null;
async function renderCharacter() {
  const size = $("#anim-size").value;
  const keys = characterKeys();
  const body = {
    model: $("#anim-model").value || null, character: keys[0] || "cat:0",
    motions: $$("#anim-motions input:checked").map((input) => input.value),
    fps: Number($("#anim-fps").value), duration: Number($("#anim-duration").value),
    size: size ? Number(size) : null, strength: Number($("#anim-strength").value),
  };
  if ($("#pet-use").checked && state.pet) body.pet = state.pet.id;
  return (await api("/v1/character", { json: body })).json();
}

async function animate(event) {
  event.preventDefault();
  const mode = state.animMode;
  if (mode === "character") {
    const button = $("#anim-render");
    button.disabled = true;
    try {
      const job = await renderCharacter();
      $("#anim-job").hidden = false;
      $("#anim-job").dataset.id = job.id;
      if (animSource) animSource.close();
      animSource = followJob(job.id, showAnimationJob);
    } catch (error) { toast(error.message, true); button.disabled = false; }
    return;
  }
  const size = $("#anim-size").value;
  const body = {
    model: $("#anim-model").value || null, mode, characters: characterKeys(),
    fps: Number($("#anim-fps").value), duration: Number($("#anim-duration").value),
    format: $("#anim-format").value, size: size ? Number(size) : null,
    offsets: sliderOffsets(), easing: $("#anim-easing").value, loop: $("#anim-loop").checked,
    radius: Number($("#anim-radius").value), amplitude: Number($("#anim-amplitude").value),
    strength: Number($("#anim-strength").value),
  };
  if (mode === "motion" && $("#anim-motion").value) body.motion = $("#anim-motion").value;
  else if (mode === "motion") body.direction = $("#anim-direction").value || "0";
  if ($("#pet-use").checked && state.pet) body.pet = state.pet.id;
  const button = $("#anim-render");
  button.disabled = true;
  try {
    const job = await (await api("/v1/animate", { json: body })).json();
    $("#anim-job").hidden = false;
    $("#anim-job").dataset.id = job.id;
    if (animSource) animSource.close();
    animSource = followJob(job.id, showAnimationJob);
  } catch (error) {
    toast(error.message, true);
    button.disabled = false;
  }
}

function showAnimationJob(job) {
  setProgress($("#anim-progress"), job);
  const stage = job.info && job.info.stage ? ` · ${job.info.stage}` : "";
  $("#anim-status").textContent = `${job.status}${stage}${job.total ? ` · ${job.done}/${job.total}` : ""}`;
  if (!ENDED.includes(job.status)) return;
  $("#anim-render").disabled = false;
  $("#anim-job").hidden = job.status === "done";
  if (job.status === "interrupted") { offerRunAgain(job); return; }
  if (job.status === "failed") { toast(job.error, true); return; }
  if (job.status !== "done") return;
  if (job.result.motions) { showCharacter(job); return; }
  $("#anim-contact").hidden = true;
  const url = job.urls[0];
  const format = job.result.format;
  let media;
  if (format === "mp4") media = element("video", { id: "anim-output", src: url, autoplay: "", loop: "", muted: "", playsinline: "", controls: "" });
  else media = element("img", { id: "anim-output", src: url, alt: job.title });
  if (format === "mp4") media.muted = true;
  $("#anim-result").replaceChildren(media);
  $("#anim-download").href = `${url}?download=true`;
  $("#anim-atlas").hidden = job.urls.length < 2;
  if (job.urls.length > 1) $("#anim-atlas").href = `${job.urls[1]}?download=true`;
  $("#anim-caption").textContent = `${job.result.frames} frames · ${job.result.width}×${job.result.height} · ${job.result.fps} fps · ${format}`;
  $("#anim-actions").hidden = false;
}

/* An interrupted job (the studio restarted while it ran): say so, and offer to post its request again. */
function offerRunAgain(job) {
  const again = element("button", { type: "button", class: "button", text: "Run again", onclick: async () => {
    try {
      const next = await (await api(job.request.path, { json: job.request.body })).json();
      $("#anim-job").hidden = false;
      $("#anim-job").dataset.id = next.id;
      animSource = followJob(next.id, showAnimationJob);
    } catch (error) { toast(error.message, true); }
  } });
  $("#anim-result").replaceChildren(element("p", { class: "empty", text: `${job.title}: ${job.error}` }),
    ...(job.request ? [again] : []));
}

async function showInterruptedJobs() {
  let jobs = [];
  try { jobs = await getJSON("/v1/jobs"); } catch (error) { return; }
  const cut = jobs.find((job) => job.status === "interrupted" && job.request);
  if (cut) offerRunAgain(cut);
}

/* A character pack: every motion playing side by side, the pack to download. */
function showCharacter(job) {
  const result = job.result;
  const cells = result.motions.map((name) => element("figure", { class: "motion-cell" }, [
    element("img", { src: job.urls[result.previews[name]], alt: `${result.character}: ${name}` }),
    element("figcaption", { class: "muted small", text: name })]));
  $("#anim-result").replaceChildren(element("div", { class: "motion-grid" }, cells));
  $("#anim-download").href = `${job.urls[result.download]}?download=true`;
  $("#anim-atlas").hidden = true;
  $("#anim-contact").hidden = false;
  $("#anim-contact").href = `${job.urls[result.contact]}?download=true`;
  $("#anim-caption").textContent = `${result.character} · ${result.motions.length} motions · ${result.frames} frames · ${result.fps} fps`;
  $("#anim-actions").hidden = false;
}

async function cancelAnimation() {
  const id = $("#anim-job").dataset.id;
  if (id) { try { await api(`/v1/jobs/${id}/cancel`, { method: "POST" }); } catch (error) { toast(error.message, true); } }
}

/* ---------- datasets and training ---------- */
async function refreshTrain() {
  try {
    const [datasets, runs, jobs, models] = await Promise.all([getJSON("/v1/datasets"), getJSON("/v1/runs"),
      getJSON("/v1/jobs"), getJSON("/v1/models")]);
    const init = $("#train-init");
    const chosen = init.value;
    init.replaceChildren(element("option", { value: "", text: "nothing (train from scratch)" }),
      ...models.filter((m) => !m.error).map((m) => element("option", { value: m.name,
        text: `${m.name} (${m.classes.join(", ")} · ${m.resolution}px)` })));
    if (models.some((m) => m.name === chosen)) init.value = chosen;
    $("#train-arch").disabled = Boolean(init.value);
    const trainingOn = new Set(jobs.filter((j) => j.kind === "train" && !ENDED
      .includes(j.status)).map((j) => (j.result || {}).dataset));
    $("#dataset-list").replaceChildren(...datasets.map((d) => element("li", { "data-name": d.name }, [
      element("span", { class: "title", text: d.name }),
      element("span", { class: "muted small", text: `${d.count} images · ${d.classes.join(", ")} · ${d.resolution}px` }),
      trainingOn.has(d.name) ? element("span", { class: "badge", text: "in use" })
        : element("button", { type: "button", class: "danger small-button", text: "Delete…",
          title: `Delete the dataset ${d.name}`, onclick: () => deleteDataset(d.name) }),
    ])));
    const select = $("#train-dataset");
    const previous = select.value;
    select.replaceChildren(...datasets.map((d) => element("option", { value: d.name, text: d.name })));
    if (datasets.some((d) => d.name === previous)) select.value = previous;
    $("#run-list").replaceChildren(...runs.map((r) => element("li", {}, [
      element("span", { class: "title", text: r.name }),
      element("span", { class: "muted small", text: `${r.architecture} · ${r.kimg === null ? "–" : r.kimg.toFixed(2)} kimg` }),
      r.training ? element("span", { class: "badge", text: "training" })
        : element("button", { type: "button", text: "Resume", onclick: () => resumeRun(r.name) }),
    ])));
    if (!runs.length) $("#run-list").replaceChildren(element("li", { class: "muted", text: "No runs yet." }));
    const running = jobs.find((j) => j.kind === "train" && !ENDED.includes(j.status));
    if (running && state.trainJob !== running.id) watchTraining(running.id);
  } catch (error) { toast(error.message, true); }
}

async function deleteDataset(name) {
  const sure = await confirmByTyping(`Delete dataset ${name}?`,
    `This removes the prepared dataset from the workspace and cannot be undone; runs trained on it can no longer ` +
    `be resumed. Type "${name}" to confirm.`, name);
  if (!sure) return;
  try {
    await api(`/v1/datasets/${encodeURIComponent(name)}?confirm=${encodeURIComponent(name)}`, { method: "DELETE" });
    toast(`Deleted dataset ${name}`);
  } catch (error) { toast(error.message, true); }
  refreshTrain();
}

function updateUploadLabel() {
  const files = $("#upload-files").files;
  $("#upload-label").textContent = files.length ? `${files.length} file${files.length > 1 ? "s" : ""} chosen` :
    "Drop images or a zip here, or click to choose";
}

async function uploadDataset(event) {
  event.preventDefault();
  const files = $("#upload-files").files;
  if (!files.length) { toast("Choose images or a zip first", true); return; }
  const form = new FormData();
  form.append("name", $("#upload-name").value.trim());
  form.append("size", $("#upload-size").value);
  form.append("holdout", $("#upload-holdout").value);
  if ($("#upload-class").value.trim()) form.append("class_name", $("#upload-class").value.trim());
  for (const file of files) form.append("files", file, file.name);
  const button = $("#upload-button");
  button.disabled = true;
  $("#upload-job").hidden = false;
  $("#upload-status").textContent = "uploading…";
  try {
    const job = await (await api("/v1/datasets", { method: "POST", body: form })).json();
    followJob(job.id, (update) => {
      setProgress($("#upload-progress"), update);
      $("#upload-status").textContent = `${update.status}${update.total ? ` · ${update.done}/${update.total} files` : ""}`;
      if (update.status === "done") {
        toast(`Dataset ${update.result.dataset}: ${update.result.count} images`);
        $("#upload-status").textContent = (update.result.summary || []).join(" · ");
        refreshTrain();
      }
      if (update.status === "failed") { toast(update.error, true); $("#upload-status").textContent = update.error; }
      if (ENDED.includes(update.status)) button.disabled = false;
    });
  } catch (error) {
    toast(error.message, true);
    $("#upload-status").textContent = error.message;
    button.disabled = false;
  }
}

async function startTraining(event) {
  event.preventDefault();
  const initFrom = $("#train-init").value || null;
  const body = { dataset: $("#train-dataset").value, architecture: initFrom ? null : $("#train-arch").value,
    init_from: initFrom, minutes: Number($("#train-minutes").value), name: $("#train-name").value.trim() || null };
  try {
    const job = await (await api("/v1/train", { json: body })).json();
    watchTraining(job.id);
    refreshTrain();
  } catch (error) { toast(error.message, true); }
}

async function resumeRun(run) {
  try {
    const job = await (await api("/v1/train/resume", { json: { run, minutes: Number($("#train-minutes").value) } })).json();
    watchTraining(job.id);
    refreshTrain();
  } catch (error) { toast(error.message, true); }
}

function formatSeconds(seconds) {
  if (seconds === undefined || seconds === null) return "–";
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

let lastSampleRefresh = 0;
function watchTraining(id) {
  state.trainJob = id;
  $("#train-idle").hidden = true;
  $("#train-box").hidden = false;
  followJob(id, (job) => {
    const info = job.info || {};
    setProgress($("#train-progress"), job);
    const number = (v, digits) => (typeof v === "number" ? v.toFixed(digits) : "–");
    const ended = ENDED.includes(job.status);
    const stoppedEarly = job.result && job.result.stopped_by === "request";
    const stage = ended ? (stoppedEarly ? "stopped" : job.status) : info.stage || job.status;
    const stats = [["stage", stage], ["kimg", number(info.kimg, 2)], ["loss D", number(info.loss_d, 3)],
      ["loss G", number(info.loss_g, 3)], ["images/s", number(info.img_per_s, 1)],
      ["ETA", ended ? "–" : formatSeconds(info.eta_s)]];
    $("#train-stats").replaceChildren(...stats.map(([k, v]) => element("div", {}, [element("dt", { text: k }), element("dd", { text: v })])));
    $("#train-status").textContent = `${job.title} · ${job.status}`;
    const run = job.result && job.result.run;
    if (run && Date.now() - lastSampleRefresh > 5000) {
      lastSampleRefresh = Date.now();
      const image = $("#train-sample");
      const probe = new Image();
      probe.onload = () => { image.src = probe.src; };
      probe.src = `/v1/runs/${encodeURIComponent(run)}/sample.png?t=${Date.now()}`;
    }
    $("#train-stop").disabled = ended || job.stop_requested;
    if (ended) {
      state.trainJob = null;
      if (job.status === "failed") toast(job.error, true);
      else toast(job.result.model ? `Training ${stoppedEarly ? "stopped" : "finished"}: model ${job.result.model} is in Models` : "Training ended");
      if (run) $("#train-sample").src = `/v1/runs/${encodeURIComponent(run)}/sample.png?t=${Date.now()}`;
      refreshTrain();
      loadModels();
    }
  });
}

async function stopTraining() {
  $("#train-stop").disabled = true;
  try { await api("/v1/train/stop", { method: "POST" }); toast("Stopping after the current step…"); } catch (error) { toast(error.message, true); }
}

/* ---------- start ---------- */
function bindRange(id, digits) {
  const input = $(`#${id}`);
  const output = $(`#${id}-value`);
  const update = () => { output.textContent = Number(input.value).toFixed(digits); };
  input.addEventListener("input", update);
  update();
}

async function start() {
  for (const tab of $$(".tabs button")) tab.addEventListener("click", () => showView(tab.dataset.view));
  $("#gen-form").addEventListener("submit", generate);
  $("#gen-model").addEventListener("change", onGenerateModel);
  $("#gen-dice").addEventListener("click", () => { $("#gen-seed").value = Math.floor(Math.random() * 100000); });
  $("#gen-to-animate").addEventListener("click", sendToAnimate);
  bindRange("gen-truncation", 2);
  bindRange("anim-radius", 1);
  bindRange("anim-amplitude", 1);
  bindRange("anim-strength", 2);
  $("#anim-motion").addEventListener("change", () => { $("#anim-direction-box").hidden = Boolean($("#anim-motion").value); });
  loadMotions();
  loadFidelities();
  showInterruptedJobs();
  for (const button of $$("#anim-mode button")) button.addEventListener("click", () => setMode(button.dataset.mode));
  $("#anim-form").addEventListener("submit", animate);
  $("#anim-model").addEventListener("change", onAnimateModel);
  $("#anim-characters").addEventListener("input", schedulePreview);
  $("#anim-reset").addEventListener("click", () => {
    for (const input of $$("#anim-sliders input")) { input.value = 0; input.dispatchEvent(new Event("input")); }
  });
  $("#anim-cancel").addEventListener("click", cancelAnimation);
  $("#pet-invert").addEventListener("click", invertPet);
  $("#upload-form").addEventListener("submit", uploadDataset);
  $("#upload-files").addEventListener("change", updateUploadLabel);
  const drop = $("#upload-drop");
  for (const name of ["dragenter", "dragover"]) drop.addEventListener(name, () => drop.classList.add("over"));
  for (const name of ["dragleave", "drop"]) drop.addEventListener(name, () => drop.classList.remove("over"));
  drop.addEventListener("drop", () => setTimeout(updateUploadLabel, 0));
  $("#train-form").addEventListener("submit", startTraining);
  $("#train-init").addEventListener("change", () => { $("#train-arch").disabled = Boolean($("#train-init").value); });
  $("#train-stop").addEventListener("click", stopTraining);
  setMode("loop");
  if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", "/" + location.hash);
  try {
    const status = await getJSON("/v1/status");
    $("#server-status").textContent = `v${status.version} · ${status.workspace}`;
    await loadModels();
  } catch (error) { toast(error.message, true); }
  const viewFromHash = () => {
    const name = location.hash.slice(1);
    showView(VIEWS.includes(name) ? name : "generate");
  };
  window.addEventListener("hashchange", viewFromHash);
  viewFromHash();
  document.body.dataset.ready = "true";
}

start();
