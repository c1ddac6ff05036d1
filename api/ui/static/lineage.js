// The lineage explorer: pan (drag), zoom (wheel, around the pointer), fit, expand a node in
// place (the server lays the bigger graph out again; the view keeps its pan and zoom), and
// column mode. The SVG arrives drawn; this only moves it.
"use strict";
(function () {
  const canvas = document.getElementById("canvas");
  if (!canvas) return;
  const picker = document.getElementById("column-mode");
  if (picker) picker.addEventListener("change", () => {
    if (!picker.value) return;
    const p = new URLSearchParams({ns: picker.dataset.ns, name: picker.dataset.name, field: picker.value});
    window.location = "/ui/lineage?" + p;
  });
  const fieldPicker = document.getElementById("field-picker");
  if (fieldPicker) fieldPicker.addEventListener("change", () => fieldPicker.form.submit());

  let view = {x: 0, y: 0, k: 1};
  let svg = null, port = null;
  const apply = () => { port.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`); };
  const bind = () => {
    svg = canvas.querySelector("svg");
    port = svg.querySelector(".viewport");
    // The drawing fills the canvas; its own size goes into the transform instead.
    svg.removeAttribute("width"); svg.removeAttribute("height");
    svg.removeAttribute("viewBox");
    apply();
    document.getElementById("node-count").textContent = svg.dataset.nodes;
    document.getElementById("truncated").hidden = svg.dataset.truncated !== "true";
  };
  const fit = () => {
    // The drawing's size comes with it: no layout forced before the first paint.
    const box = {x: 0, y: 0, width: +svg.dataset.width, height: +svg.dataset.height};
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const k = Math.min(1.5, Math.max(0.05, Math.min(w / (box.width + 40), h / (box.height + 40))));
    view = {k, x: (w - box.width * k) / 2 - box.x * k, y: (h - box.height * k) / 2 - box.y * k};
    apply();
  };
  bind();
  fit();
  canvas.dataset.ready = "true";
  performance.mark("lineage-ready");
  document.getElementById("fit").addEventListener("click", fit);

  let drag = null, frame = 0;
  canvas.addEventListener("pointerdown", (e) => {
    if (e.target.closest("a, .expand")) return;
    drag = {x: e.clientX - view.x, y: e.clientY - view.y};
    canvas.setPointerCapture(e.pointerId);
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    view.x = e.clientX - drag.x; view.y = e.clientY - drag.y;
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; apply(); });
  });
  const stop = () => { drag = null; canvas.classList.remove("dragging"); };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    const px = e.clientX - r.left, py = e.clientY - r.top;
    const k = Math.min(4, Math.max(0.05, view.k * Math.exp(-e.deltaY * 0.0015)));
    view.x = px - (px - view.x) * (k / view.k);
    view.y = py - (py - view.y) * (k / view.k);
    view.k = k;
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; apply(); });
  }, {passive: false});

  canvas.addEventListener("click", (e) => {
    const button = e.target.closest(".expand");
    if (!button) return;
    e.preventDefault();
    const expanded = (svg.dataset.expanded || "").split("\n").filter(Boolean);
    expanded.push(button.dataset.expand);
    const url = new URL(canvas.dataset.src, window.location.origin);
    expanded.forEach((id) => url.searchParams.append("expand", id));
    canvas.classList.add("busy");
    fetch(url).then((r) => (r.ok ? r.text() : Promise.reject(r.status))).then((html) => {
      canvas.innerHTML = html;
      bind();
      const page = new URL(window.location.href);
      page.searchParams.delete("expand");
      expanded.forEach((id) => page.searchParams.append("expand", id));
      history.replaceState(null, "", page);
    }).catch((status) => { alert("Could not expand (" + status + ")"); })
      .finally(() => canvas.classList.remove("busy"));
  });
})();
