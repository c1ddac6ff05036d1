// Headwater's own page script: search as you type, copy buttons. No framework.
"use strict";
(function () {
  const box = document.getElementById("search");
  const results = document.getElementById("results");
  if (box && results) {
    let timer = null, pending = null;
    const ask = () => {
      const q = box.value.trim();
      if (pending) pending.abort();
      if (!q) { results.innerHTML = ""; return; }
      pending = new AbortController();
      fetch("/ui/search?q=" + encodeURIComponent(q), {signal: pending.signal})
        .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
        .then((html) => { results.innerHTML = html; })
        .catch((e) => { if (e && e.name === "AbortError") return; results.textContent = "Search failed (" + e + ")"; });
    };
    box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 150); });
    box.form.addEventListener("submit", (e) => {
      e.preventDefault();
      const first = results.querySelector("a.hit");
      if (first) window.location = first.href;
    });
    if (box.value) ask();
  }
  document.querySelectorAll("button.copy").forEach((b) => {
    b.addEventListener("click", () => {
      const text = document.getElementById(b.dataset.copy).textContent;
      const done = () => { b.textContent = "Copied"; setTimeout(() => { b.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, done);
      else { const r = document.createRange(); r.selectNodeContents(document.getElementById(b.dataset.copy));
             const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); document.execCommand("copy"); done(); }
    });
  });
})();
