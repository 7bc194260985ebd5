// The browser page at / (one HTML, one script, one style sheet; no build step, no CDN, works
// offline). It drives the server's own A1111-compatible routes: prompt, style picker, style
// reference upload (drag and drop) with weights, style strength and guidance sliders, steps,
// seed with a lock, a convert tab (img2img), a progress bar with the live preview, a gallery
// with each image's parameters, PNG download (with stylediff's metadata) and "use as style
// reference". `?prompt=...&steps=...&seed=...&run=1` fills the form and runs it.

enum WebPage {
    struct File: Sendable {
        let type: String
        let text: String
    }

    static let files: [String: File] = [
        "/": File(type: "text/html; charset=utf-8", text: #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stylediff</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header>
  <h1>stylediff</h1>
  <span id="model" class="muted"></span>
  <label id="key-box" class="hidden">API key <input id="api-key" type="password" autocomplete="off"></label>
</header>
<main>
<section id="controls">
  <nav class="tabs">
    <button type="button" id="tab-generate" class="tab active" data-mode="generate">Generate</button>
    <button type="button" id="tab-convert" class="tab" data-mode="convert">Convert</button>
  </nav>
  <div id="convert-box" class="hidden">
    <div id="init-drop" class="drop">Drop the picture to convert here, or <label class="link">choose a PNG<input id="init-file" type="file" accept="image/png" hidden></label></div>
    <img id="init-preview" class="hidden" alt="picture to convert">
    <label>Denoising strength <output id="strength-value">0.75</output>
      <input id="strength" type="range" min="0" max="1" step="0.05" value="0.75"></label>
    <label>Resize <select id="resize-mode"><option value="1">crop and resize</option><option value="0">stretch</option></select></label>
  </div>
  <label>Prompt <textarea id="prompt" rows="3" placeholder="a folder icon"></textarea></label>
  <label>Negative prompt <input id="negative" type="text"></label>
  <label>Style <select id="style"><option value="">(none)</option></select></label>
  <fieldset>
    <legend>Style references</legend>
    <div id="style-drop" class="drop">Drop reference images here, or <label class="link">choose PNGs<input id="style-files" type="file" accept="image/png" multiple hidden></label></div>
    <ul id="references"></ul>
  </fieldset>
  <label>Style strength <output id="style-strength-value">1</output>
    <input id="style-strength" type="range" min="0" max="4" step="0.05" value="1"></label>
  <label>Guidance <output id="guidance-value">default</output>
    <input id="guidance" type="range" min="0" max="20" step="0.5" value="0" data-default="1"></label>
  <div class="row">
    <label>Steps <input id="steps" type="number" min="1" max="200" value="20"></label>
    <label>Seed <input id="seed" type="number" min="-1" value="-1"></label>
    <label class="inline"><input id="seed-lock" type="checkbox"> lock</label>
  </div>
  <button type="button" id="run" class="primary">Generate</button>
  <div id="progress" class="hidden"><progress id="progress-bar" max="1" value="0"></progress>
    <span id="progress-text"></span> <button type="button" id="interrupt">Stop</button>
    <img id="live-preview" alt="live preview" class="hidden"></div>
  <p id="error" class="error hidden"></p>
</section>
<section id="gallery" aria-live="polite"></section>
</main>
<script src="/app.js"></script>
</body>
</html>
"""#),
        "/app.js": File(type: "text/javascript; charset=utf-8", text: #"""
// stylediff's page: talks to the server's own A1111-compatible routes (no build step, no CDN).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { mode: "generate", init: null, references: [], busy: false };

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = localStorage.getItem("stylediff-api-key");
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function api(path, body) {
  const response = await fetch(path, body === undefined ? { headers: headers() }
    : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  if (response.status === 401) $("key-box").classList.remove("hidden");
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(json.detail || response.status + " " + response.statusText);
  return json;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").classList.toggle("hidden", !message);
}

function readAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",")[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function addReference(base64, name) {
  state.references.push({ image: base64, weight: 1, name });
  renderReferences();
}

function renderReferences() {
  const list = $("references");
  list.textContent = "";
  state.references.forEach((ref, i) => {
    const li = document.createElement("li");
    const img = document.createElement("img");
    img.src = "data:image/png;base64," + ref.image;
    img.alt = ref.name;
    img.title = ref.name;
    const weight = document.createElement("input");
    weight.type = "number"; weight.min = "0"; weight.step = "0.1"; weight.value = ref.weight;
    weight.title = "weight";
    weight.oninput = () => { ref.weight = Number(weight.value); };
    const remove = document.createElement("button");
    remove.type = "button"; remove.textContent = "remove";
    remove.onclick = () => { state.references.splice(i, 1); renderReferences(); };
    li.append(img, weight, remove);
    list.append(li);
  });
}

function dropZone(zone, input, onFiles) {
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault(); zone.classList.remove("over");
    onFiles([...e.dataTransfer.files].filter((f) => f.type === "image/png" || f.name.endsWith(".png")));
  });
  input.addEventListener("change", () => onFiles([...input.files]));
}

function setMode(mode) {
  state.mode = mode;
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.mode === mode));
  $("convert-box").classList.toggle("hidden", mode !== "convert");
  $("run").textContent = mode === "convert" ? "Convert" : "Generate";
}

function request() {
  const body = {
    prompt: $("prompt").value, negative_prompt: $("negative").value, steps: Number($("steps").value),
    cfg_scale: Number($("guidance").value), seed: $("seed-lock").checked ? Number($("seed").value) : -1,
  };
  if ($("style").value) body.style = $("style").value;
  if (state.references.length) {
    body.style_images = state.references.map((r) => ({ image: r.image, weight: r.weight }));
  }
  if (state.references.length || $("style").value) body.style_strength = Number($("style-strength").value);
  if (state.mode === "convert") {
    if (!state.init) throw new Error("choose a picture to convert first");
    body.init_images = [state.init];
    body.denoising_strength = Number($("strength").value);
    body.resize_mode = Number($("resize-mode").value);
  }
  return body;
}

async function pollProgress() {
  while (state.busy) {
    try {
      const p = await api("/sdapi/v1/progress");
      $("progress-bar").value = p.progress || 0;
      const s = p.state || {};
      $("progress-text").textContent = s.sampling_steps ? `step ${s.sampling_step}/${s.sampling_steps}` +
        (p.eta_relative ? `, ${p.eta_relative.toFixed(1)} s left` : "") : "waiting";
      if (p.current_image) {
        $("live-preview").src = "data:image/png;base64," + p.current_image;
        $("live-preview").classList.remove("hidden");
      }
    } catch (e) { /* progress is best effort */ }
    await new Promise((r) => setTimeout(r, 400));
  }
}

function addResult(base64, infotext, seed) {
  const card = document.createElement("article");
  card.className = "result";
  const img = document.createElement("img");
  img.className = "result-image";
  img.src = "data:image/png;base64," + base64;
  img.alt = infotext.split("\n")[0];
  const parameters = document.createElement("pre");
  parameters.className = "parameters";
  parameters.textContent = infotext;
  const actions = document.createElement("div");
  actions.className = "actions";
  const download = document.createElement("a");
  download.href = img.src; download.download = `stylediff-${seed}.png`; download.textContent = "Download PNG";
  const reuse = document.createElement("button");
  reuse.type = "button"; reuse.textContent = "Use as style reference";
  reuse.onclick = () => addReference(base64, `result ${seed}`);
  const seedButton = document.createElement("button");
  seedButton.type = "button"; seedButton.textContent = "Reuse seed";
  seedButton.onclick = () => { $("seed").value = seed; $("seed-lock").checked = true; };
  actions.append(download, reuse, seedButton);
  card.append(img, parameters, actions);
  $("gallery").prepend(card);
}

async function run() {
  showError("");
  let body;
  try { body = request(); } catch (e) { showError(e.message); return; }
  state.busy = true;
  $("run").disabled = true;
  $("progress").classList.remove("hidden");
  $("live-preview").classList.add("hidden");
  pollProgress();
  try {
    const result = await api(state.mode === "convert" ? "/sdapi/v1/img2img" : "/sdapi/v1/txt2img", body);
    const info = JSON.parse(result.info);
    result.images.forEach((image, i) => addResult(image, info.infotexts[i], info.all_seeds[i]));
    if (!$("seed-lock").checked) $("seed").value = info.seed;
    document.body.dataset.done = String(Number(document.body.dataset.done || 0) + 1);
  } catch (e) {
    showError(e.message);
  } finally {
    state.busy = false;
    $("run").disabled = false;
    $("progress").classList.add("hidden");
  }
}

async function start() {
  $("api-key").value = localStorage.getItem("stylediff-api-key") || "";
  $("api-key").onchange = () => { localStorage.setItem("stylediff-api-key", $("api-key").value); start(); };
  document.querySelectorAll(".tab").forEach((t) => t.onclick = () => setMode(t.dataset.mode));
  for (const [id, out] of [["strength", "strength-value"], ["style-strength", "style-strength-value"], ["guidance", "guidance-value"]]) {
    $(id).oninput = () => { $(out).textContent = $(id).value; };
  }
  $("run").onclick = run;
  $("interrupt").onclick = () => api("/sdapi/v1/interrupt", {}).catch(() => {});
  dropZone($("style-drop"), $("style-files"), async (files) => {
    for (const f of files) addReference(await readAsBase64(f), f.name);
  });
  dropZone($("init-drop"), $("init-file"), async (files) => {
    if (!files.length) return;
    state.init = await readAsBase64(files[0]);
    $("init-preview").src = "data:image/png;base64," + state.init;
    $("init-preview").classList.remove("hidden");
  });
  try {
    const [options, styles] = await Promise.all([api("/sdapi/v1/options"), api("/sdapi/v1/prompt-styles")]);
    $("model").textContent = options.sd_model_checkpoint;
    $("guidance").value = options.stylediff_guidance;
    $("guidance-value").textContent = options.stylediff_guidance;
    $("steps").value = options.stylediff_steps;
    $("style-strength").value = options.stylediff_style_strength;
    $("style-strength-value").textContent = options.stylediff_style_strength;
    const select = $("style");
    select.length = 1;
    for (const s of styles) select.add(new Option(s.name, s.name));
  } catch (e) {
    showError(e.message);
    return;
  }
  // ?prompt=...&style=...&steps=...&seed=...&run=1 fills the form (and runs it): links and tests.
  const query = new URLSearchParams(location.search);
  if (query.has("prompt")) $("prompt").value = query.get("prompt");
  if (query.has("style")) $("style").value = query.get("style");
  if (query.has("steps")) $("steps").value = query.get("steps");
  if (query.has("seed")) { $("seed").value = query.get("seed"); $("seed-lock").checked = true; }
  document.body.dataset.ready = "1";
  if (query.get("run") === "1") run();
}

start();
"""#),
        "/app.css": File(type: "text/css; charset=utf-8", text: #"""
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f4f5f8; }
header { display: flex; align-items: baseline; gap: 1em; padding: .6em 1.2em; background: #1d2330; color: #fff; }
header h1 { font-size: 1.3em; margin: 0; }
.muted { color: #9aa3b5; font-size: .9em; }
main { display: grid; grid-template-columns: minmax(280px, 380px) 1fr; gap: 1.2em; padding: 1.2em; }
#controls { display: flex; flex-direction: column; gap: .7em; background: #fff; padding: 1em; border-radius: 8px; box-shadow: 0 1px 3px #0002; }
label { display: flex; flex-direction: column; gap: .25em; font-size: .9em; }
label.inline { flex-direction: row; align-items: center; }
textarea, input[type=text], input[type=number], input[type=password], select { font: inherit; padding: .35em; border: 1px solid #c5cad6; border-radius: 4px; }
.row { display: flex; gap: .6em; align-items: end; }
.row label { flex: 1; }
.tabs { display: flex; gap: .3em; }
.tab { flex: 1; padding: .45em; border: 1px solid #c5cad6; background: #eef0f4; border-radius: 4px; cursor: pointer; }
.tab.active { background: #3656d6; color: #fff; border-color: #3656d6; }
.primary { padding: .7em; font-size: 1em; background: #3656d6; color: #fff; border: 0; border-radius: 6px; cursor: pointer; }
.primary:disabled { background: #8a97c9; cursor: wait; }
.drop { border: 2px dashed #aab2c5; border-radius: 6px; padding: .8em; text-align: center; font-size: .85em; color: #566; }
.drop.over { border-color: #3656d6; background: #eef2ff; }
.link { display: inline; color: #3656d6; text-decoration: underline; cursor: pointer; }
fieldset { border: 1px solid #d8dce5; border-radius: 6px; }
#references { list-style: none; padding: 0; margin: .4em 0 0; display: flex; flex-wrap: wrap; gap: .4em; }
#references li { display: flex; flex-direction: column; align-items: center; gap: .2em; font-size: .8em; }
#references img, #init-preview { width: 64px; height: 64px; object-fit: cover; border-radius: 4px; image-rendering: pixelated; }
#references input { width: 4.5em; }
#progress { display: flex; flex-wrap: wrap; align-items: center; gap: .5em; }
#progress-bar { flex: 1; }
#live-preview { width: 64px; height: 64px; image-rendering: pixelated; }
.error { color: #b00020; white-space: pre-wrap; }
.hidden { display: none !important; }
#gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 1em; align-content: start; }
.result { background: #fff; border-radius: 8px; padding: .6em; box-shadow: 0 1px 3px #0002; display: flex; flex-direction: column; gap: .4em; }
.result img { width: 100%; image-rendering: pixelated; border-radius: 4px; background: #ddd; }
.result pre { white-space: pre-wrap; font-size: .75em; margin: 0; max-height: 9em; overflow: auto; }
.result .actions { display: flex; gap: .5em; }
.result .actions a, .result .actions button { font-size: .8em; }
@media (max-width: 700px) { main { grid-template-columns: 1fr; } }
"""#),
    ]
}
