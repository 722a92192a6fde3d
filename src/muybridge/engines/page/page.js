// A muybridge character page: picks a class, a seed and a motion, renders the motion's frames with
// onnxruntime-web (model.onnx, described by model.json) and plays them on a canvas. No server is involved.
import * as ort from "./vendor/onnxruntime-web/ort.wasm.bundle.min.mjs";

ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which a plain static server does not give
// The bundle finds its .wasm beside itself (import.meta.url); setting wasmPaths would make it fetch a loader too.

const $ = (id) => document.getElementById(id);

// One pose per frame, as muybridge's motion library computes it (animation/motions.py): each term is a pose
// field following "swing" sin(2 pi c t) or "there-and-back" sin(pi c t)^2, times its amplitude and the strength.
export function motionPoses(motion, poseFields, frames) {
  const poses = new Float32Array(frames * poseFields.length);
  for (let i = 0; i < frames; i++) {
    const row = new Float64Array(poseFields.length);
    for (const term of motion.terms) {
      const phase = Math.PI * term.cycles * (i / frames);
      const shape = term.curve === "swing" ? Math.sin(2 * phase) : Math.sin(phase) ** 2;
      row[poseFields.indexOf(term.field)] += motion.strength * (term.amplitude * shape);
    }
    poses.set(row, i * poseFields.length);
  }
  return poses;
}

// The latent a seed names, as muybridge draws it (keys.py; the rule is also in model.json's seed_rule): torch's
// randn written out. An MT19937 seeded by init_genrand; each 32-bit output x gives the uniform (x & 0xFFFFFF) / 2^24;
// every block of 16 uniforms u gives 16 normals by Box-Muller (j < 8: r = sqrt(-2 ln(1 - u[j])),
// t = 2 pi u[j + 8], z[j] = r cos t, z[j + 8] = r sin t); when the count is not a multiple of 16, the last 16
// values are redrawn from the 16 uniforms after the first `count` (a count under 16 takes the first values of one
// block).
export function seedLatent(seed, count) {
  const BLOCK = 16;
  const state = new Uint32Array(624);
  state[0] = seed >>> 0;
  for (let i = 1; i < 624; i++) {
    const previous = state[i - 1] ^ (state[i - 1] >>> 30);
    state[i] = (Math.imul(1812433253, previous) + i) >>> 0;
  }
  let next = 624;
  function output() {
    if (next >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (state[k] & 0x80000000) | (state[(k + 1) % 624] & 0x7fffffff);
        state[k] = state[(k + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      next = 0;
    }
    let y = state[next++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
  const f = Math.fround;
  function block() {
    const u = Array.from({ length: BLOCK }, () => f((output() & 0xffffff) * 2 ** -24));
    const z = new Float32Array(BLOCK);
    for (let j = 0; j < BLOCK / 2; j++) {
      const radius = f(Math.sqrt(f(-2 * f(Math.log(f(1 - u[j]))))));
      const angle = f(f(2 * Math.PI) * u[j + BLOCK / 2]);
      z[j] = f(radius * f(Math.cos(angle)));
      z[j + BLOCK / 2] = f(radius * f(Math.sin(angle)));
    }
    return z;
  }
  const size = Math.max(count, BLOCK);
  const values = new Float32Array(size);
  for (let start = 0; start + BLOCK <= size; start += BLOCK) values.set(block(), start);
  if (size % BLOCK) {
    for (let skipped = 0; skipped < size % BLOCK; skipped++) output(); // the tail block takes uniforms size..size+15
    values.set(block(), size - BLOCK);
  }
  return values.subarray(0, count);
}

function toImageData(rgb, index, side) {
  const plane = side * side;
  const offset = index * 3 * plane;
  const pixels = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    pixels[4 * p] = Math.round(rgb[offset + p] * 255);
    pixels[4 * p + 1] = Math.round(rgb[offset + plane + p] * 255);
    pixels[4 * p + 2] = Math.round(rgb[offset + 2 * plane + p] * 255);
    pixels[4 * p + 3] = 255;
  }
  return new ImageData(pixels, side, side);
}

async function start() {
  const meta = await (await fetch("model.json")).json();
  const session = await ort.InferenceSession.create(meta.onnx, { executionProviders: ["wasm"] });
  const side = meta.resolution;
  const latentDim = meta.latent_dim;
  const classCount = meta.classes.length;
  const batch = meta.web.batch;
  const poseDim = meta.web.pose_fields.length;

  async function render({ className, seed, motion }) {
    const classIndex = meta.classes.indexOf(className);
    if (classIndex < 0) throw new Error(`unknown class ${className}; known: ${meta.classes.join(", ")}`);
    if (!(Number.isInteger(seed) && seed >= 0 && seed <= meta.web.max_seed)) {
      throw new Error(`seed ${seed}: must be a whole number from 0 to ${meta.web.max_seed}`);
    }
    const latent = seedLatent(seed, latentDim);
    const move = meta.web.motions[motion];
    if (!move) throw new Error(`unknown motion ${motion}`);
    const frames = meta.web.frames;
    const poses = motionPoses(move, meta.web.pose_fields, frames);
    const images = [];
    for (let first = 0; first < frames; first += batch) {
      const n = Math.min(batch, frames - first);
      const latents = new Float32Array(n * latentDim);
      const weights = new Float32Array(n * classCount);
      for (let i = 0; i < n; i++) {
        latents.set(latent, i * latentDim);
        weights[i * classCount + classIndex] = 1;
      }
      const out = await session.run({
        latents: new ort.Tensor("float32", latents, [n, latentDim]),
        class_weights: new ort.Tensor("float32", weights, [n, classCount]),
        truncation: new ort.Tensor("float32", new Float32Array([meta.web.truncation]), [1]),
        pose: new ort.Tensor("float32", poses.subarray(first * poseDim, (first + n) * poseDim), [n, poseDim]),
      });
      for (let i = 0; i < n; i++) images.push(toImageData(out.rgb.data, i, side));
    }
    return images;
  }

  const canvas = $("stage");
  canvas.width = canvas.height = side;
  const context = canvas.getContext("2d");
  let clip = [];
  let shown = 0;
  setInterval(() => {
    if (clip.length) context.putImageData(clip[shown++ % clip.length], 0, 0);
  }, 1000 / meta.web.fps);

  for (const name of meta.classes) $("class").add(new Option(name, name));
  for (const [name, move] of Object.entries(meta.web.motions)) {
    $("motion").add(new Option(name, name));
    $("motion").lastChild.title = move.description;
  }
  $("seed").max = meta.web.max_seed;
  const query = new URLSearchParams(location.search);
  $("class").value = query.get("class") ?? meta.classes[0];
  $("seed").value = query.get("seed") ?? "0";
  $("motion").value = query.get("motion") ?? meta.web.motion;
  $("model").innerHTML = "";
  $("model").append(`${meta.model}: ${meta.classes.join(", ")} at ${side} px, any seed 0-${meta.web.max_seed}`);

  async function update() {
    const request = { className: $("class").value, seed: Number($("seed").value), motion: $("motion").value };
    const started = performance.now();
    try {
      clip = await render(request);
      shown = 0;
      const seconds = (performance.now() - started) / 1000;
      $("status").className = "";
      $("status").textContent = `${clip.length} frames rendered in ${seconds.toFixed(2)} s`;
    } catch (error) {
      $("status").className = "error";
      $("status").textContent = error.message;
    }
  }
  $("controls").addEventListener("change", update);
  await update();
  return { meta, render };
}

// For scripts and tests: `await muybridge.ready` gives {meta, render}; render resolves to ImageData frames.
window.muybridge = { ready: start() };
window.muybridge.ready.catch((error) => {
  $("model").textContent = `could not start: ${error.message}`;
  $("model").className = "error";
});
