"use strict";
const DATA = JSON.parse(document.getElementById("data").textContent);
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function thumb(id, caption, cls) {
  const src = DATA.thumbs[id];
  if (!src) return el("figure", { class: cls }, caption + " (no image)");
  return el("figure", { class: cls }, el("img", { src: src, alt: caption }), el("figcaption", {}, caption));
}

function strip(sequence) {
  const bar = el("div", { class: "strip", title: "haystack: needle green, look-alikes showing a lure red, decoys amber" });
  for (const ch of sequence) bar.append(el("span", { class: ch === "." ? "" : ch }));
  return bar;
}

function attentionStrip(a) {
  const top = Math.max(...a.frames, 1e-9);
  const bar = el("div", { class: "strip attention", title: "attention at the answer per frame (mean over layers and heads): darker is more" });
  for (const m of a.frames) bar.append(el("span", { style: `background: rgba(31, 119, 180, ${(m / top).toFixed(3)})` }));
  return bar;
}

function attentionLine(a) {
  const near = a.nearest === null ? "" : `, nearest look-alike ${a.nearest.toFixed(3)}`;
  const where = { needle: "the needle", lookalike: "a look-alike", haystack: "a haystack frame" }[a.top];
  return el("p", { class: "note" }, `attention at the answer: needle ${a.groups.needle.toFixed(3)}, look-alikes ` +
    `${a.groups.lookalike.toFixed(3)}${near}, haystack ${a.groups.haystack.toFixed(3)}, text ` +
    `${a.groups.text.toFixed(3)}; heaviest frame: ${where}`);
}

function sampleCard(s) {
  const card = el("div", { class: "sample " + (s.correct ? "right" : "wrong") });
  if (s.imported) {
    card.append(el("p", {}, `Published cell (imported): score ${Number(s.correct).toFixed(2)}; no per-sample records.`));
    return card;
  }
  const c = DATA.cells[s.cell];
  const lured = s.lured === true ? " — lured by a distractor" : s.lured === false ? " — not lured" : "";
  card.append(el("p", {}, el("b", {}, s.correct ? "right" : "wrong"),
    ` by ${s.metric} · ${s.task} · needle ${s.needle} · predicted ${s.prediction}, answer ${s.answer}${lured}`));
  const others = Object.entries(s.metrics || {}).filter(([name]) => name !== s.metric);
  if (others.length) card.append(el("p", {}, "other metrics: " + others.map(([name, o]) =>
    `${name} ${o.correct ? "right" : "wrong"} (${o.prediction || "none"}${o.degenerate ? ", degenerate" : ""})`).join(" · ")));
  if (s.scores && s.scores.generated !== undefined) card.append(el("p", {}, `generated: ${JSON.stringify(s.scores.generated)}`));
  if (c) {
    const options = c.options.map((o, i) => {
      const lure = c.lures.indexOf(i) >= 0 ? " (a look-alike's lure)" : "";
      return `${LETTERS[i]}. ${o}${i === c.answer ? "  ✓" : ""}${lure}`;
    });
    card.append(el("div", { class: "q" }, [c.question, ...options].join("\n")));
    const withDistractors = s.task !== "v-niah";
    const seq = withDistractors ? c.sequence : c.sequence.replace(/[DY]/g, "");
    card.append(strip(seq));
    if (s.attention) card.append(attentionStrip(s.attention), attentionLine(s.attention));
    const row = el("div", { class: "thumbs" });
    if (c.before) row.append(thumb(c.before, "frame before", "haystack"));
    const needles = c.needles && c.needles.length > 1 ? c.needles : [c.image].filter(Boolean);
    needles.forEach((image, j) => row.append(thumb(image, needles.length > 1 ? `needle ${j + 1}` : "needle", "needle")));
    if (c.after) row.append(thumb(c.after, "frame after", "haystack"));
    if (withDistractors) c.lookalikes.forEach((d, j) => {
      const shows = d.shows >= 0 ? ` ${LETTERS[d.shows]}` : "";
      row.append(thumb(d.image, `look-alike ${j + 1}: ` + (d.decoy ? `decoy${shows}` : `lure${shows}`),
        d.decoy ? "decoy" : "distractor"));
    });
    card.append(row);
  }
  const logprobs = s.scores && s.scores.option_logprobs;
  if (logprobs) {
    const table = el("table", { class: "scores" });
    const values = Array.isArray(logprobs) ? logprobs : Object.values(logprobs);
    const names = Array.isArray(logprobs) ? values.map((_, i) => LETTERS[i]) : Object.keys(logprobs);
    table.append(el("tr", {}, el("td", {}, "score"), ...names.map((n) => el("td", {}, n))));
    table.append(el("tr", {}, el("td", {}, ""), ...values.map((v) => el("td", {}, Number(v).toFixed(3)))));
    card.append(table);
  } else if (s.scores) {
    const text = Object.entries(s.scores).map(([k, v]) => `${k}: ${typeof v === "number" ? +v.toFixed(4) : v}`);
    card.append(el("p", { class: "note" }, text.join(" · ")));
  }
  return card;
}

function pick(td) {
  document.querySelectorAll("td.picked").forEach((x) => x.classList.remove("picked"));
  td.classList.add("picked");
  const ids = DATA.index[td.dataset.k] || [];
  const heading = td.closest(".heatmap").querySelector("h3").textContent;
  const [, frames, depth] = td.dataset.k.split("|");
  document.getElementById("picked").textContent = `${heading}: ${frames} frames, depth ${depth}% — ${ids.length} sample(s)`;
  const list = document.getElementById("list");
  list.replaceChildren(...ids.map((i) => sampleCard(DATA.samples[i])));
  list.scrollIntoView({ block: "start" });
}

document.querySelectorAll("td.cell").forEach((td) => td.addEventListener("click", () => pick(td)));
