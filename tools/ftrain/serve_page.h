// The page ftrain serve shows at GET /: type a text (or drop an image) and see every label's score
// as a bar. Plain HTML and script, no external resources (the server may have no internet access).
#pragma once
#include <string>

namespace ft::cli {

inline const std::string& serve_page() {
  static const std::string page = R"PAGE(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ftrain serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 16px/1.4 system-ui, sans-serif; max-width: 46em; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } .muted { color: #666; font-size: 0.9em; }
textarea { width: 100%; height: 6em; font: inherit; box-sizing: border-box; }
#drop { border: 2px dashed #999; border-radius: 8px; padding: 2em; text-align: center; color: #555; }
#drop.over { background: #eef; } button { font: inherit; padding: 0.3em 1.2em; margin-top: 0.5em; }
.row { display: flex; align-items: center; margin: 0.3em 0; } .name { width: 12em; overflow: hidden; }
.bar { background: #4a7bd0; height: 1.2em; margin-right: 0.5em; min-width: 1px; } .err { color: #b00; }
input[type=password] { font: inherit; width: 20em; }
</style></head><body>
<h1>ftrain serve</h1><p id="model" class="muted">loading…</p>
<div id="textin" hidden><textarea id="text" placeholder="Type a review, a sentence…"></textarea></div>
<div id="imagein" hidden><div id="drop">Drop an image here, or <input type="file" id="file" accept="image/*"></div></div>
<p id="keyrow" hidden>API key <input type="password" id="key"></p>
<button id="go">Predict</button>
<div id="out"></div>
<script>
let task = null;
const $ = (id) => document.getElementById(id);
function headers(extra) {
  const h = Object.assign({}, extra || {});
  if ($('key').value) h['Authorization'] = 'Bearer ' + $('key').value;
  return h;
}
function show(scores) {
  const out = $('out'); out.innerHTML = '';
  // Probabilities on an absolute scale; raw scores (logits, regression values) relative to the largest.
  const probs = scores.every((s) => s.score >= 0 && s.score <= 1);
  const max = probs ? 1 : Math.max(...scores.map((s) => Math.abs(s.score)), 1e-9);
  for (const s of scores) {
    const row = document.createElement('div'); row.className = 'row';
    const name = document.createElement('span'); name.className = 'name'; name.textContent = s.label;
    const bar = document.createElement('span'); bar.className = 'bar';
    bar.style.width = (18 * Math.abs(s.score) / max) + 'em';
    const val = document.createElement('span'); val.textContent = s.score.toFixed(4);
    row.append(name, bar, val); out.append(row);
  }
}
function fail(msg) { $('out').innerHTML = ''; const p = document.createElement('p'); p.className = 'err'; p.textContent = msg; $('out').append(p); }
async function send(body, type) {
  const r = await fetch('predict', { method: 'POST', headers: headers({ 'Content-Type': type }), body });
  const j = await r.json();
  if (!r.ok) return fail(j.error || ('HTTP ' + r.status));
  show(j);
}
async function predictImage(f) { if (f) await send(await f.arrayBuffer(), f.type || 'image/png'); }
$('go').onclick = () => task === 'image-classification' ? predictImage($('file').files[0])
                                                         : send(JSON.stringify({ inputs: $('text').value }), 'application/json');
$('file').onchange = () => predictImage($('file').files[0]);
const drop = $('drop');
drop.ondragover = (e) => { e.preventDefault(); drop.className = 'over'; };
drop.ondragleave = () => { drop.className = ''; };
drop.ondrop = (e) => { e.preventDefault(); drop.className = ''; predictImage(e.dataTransfer.files[0]); };
fetch('health').then(() => fetch('info', { headers: headers() })).then(async (r) => {
  if (r.status === 401) { $('keyrow').hidden = false; $('textin').hidden = false; $('model').textContent = 'this server needs an API key'; return; }
  const i = await r.json(); task = i.task;
  $('model').textContent = i.model_id + ' — ' + i.task + ' (' + i.labels.join(', ') + ') on ' + i.device;
  $((task === 'image-classification') ? 'imagein' : 'textin').hidden = false;
  $('keyrow').hidden = !i.auth;
  const q = new URLSearchParams(location.search).get('text');
  if (q !== null && task !== 'image-classification') { $('text').value = q; $('go').click(); }
});
</script></body></html>
)PAGE";
  return page;
}

}  // namespace ft::cli
