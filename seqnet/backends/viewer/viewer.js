// The seqnet diagram viewer: lays out one cluster level at a time, so expanding a block re-lays
// out that block and its ancestors' levels only (each edge is filed under its level by
// seqnet/backends/viewer/hierarchy.py). Written for seqnet; no library is used.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("seqnet-data").textContent);
  const T = D.theme;
  const NODES = D.nodes, CLUSTERS = D.clusters;
  const FONT = 11, LINE = 14, PAD_X = 10, PAD_Y = 6, GAP_X = 18, GAP_Y = 30;
  const CPAD = 10, CTITLE = 20, BIG = 200;
  const svg = document.getElementById("diagram");
  const tip = document.getElementById("tip");
  const measure = document.createElement("canvas").getContext("2d");
  measure.font = FONT + "px sans-serif";

  // -- the tree: each cluster's items (nodes and child clusters) in order of first appearance
  const items = CLUSTERS.map(() => []);
  const ops = CLUSTERS.map(() => 0);
  const chains = [];  // node -> its clusters, outermost first (the root left out)
  const seen = new Set();
  NODES.forEach((n, i) => {
    const chain = [];
    for (let c = n.cluster; c > 0; c = CLUSTERS[c].parent) chain.unshift(c);
    chains.push(chain);
    let parent = 0;
    for (const c of chain) {
      ops[c] += 1;
      if (!seen.has(c)) { seen.add(c); items[parent].push("c" + c); }
      parent = c;
    }
    items[n.cluster].push("n" + i);
  });
  const levelEdges = CLUSTERS.map(() => []);
  D.edges.forEach((e) => {
    if (e.back) return;
    const a = e.itemFrom >= 0 ? "c" + e.itemFrom : "n" + e.from;
    const b = e.itemTo >= 0 ? "c" + e.itemTo : "n" + e.to;
    if (a !== b) levelEdges[e.level].push([a, b]);
  });

  // open at first: the blocks at most `depth` deep (--depth K), else every block of a small spec
  const expanded = new Set();
  const level = (c) => { let d = 0; for (; c > 0; c = CLUSTERS[c].parent) d++; return d; };
  CLUSTERS.forEach((c, i) => {
    if (i > 0 && (D.depth !== null ? level(i) <= D.depth : NODES.length <= BIG)) expanded.add(i);
  });

  // -- sizes
  function textWidth(lines) {
    let w = 0;
    for (const l of lines) w = Math.max(w, measure.measureText(l).width);
    return w;
  }
  function nodeLines(i) { return NODES[i].label.split("\n"); }
  function clusterLines(c) {
    const cl = CLUSTERS[c];
    return [cl.title, ops[c] + " op" + (ops[c] === 1 ? "" : "s"), cl.paramsText];
  }
  const nodeSize = new Map();
  function sizeOfNode(i) {
    let s = nodeSize.get(i);
    if (!s) {
      const lines = nodeLines(i);
      let w = textWidth(lines) + 2 * PAD_X, h = lines.length * LINE + 2 * PAD_Y;
      const shape = NODES[i].shape;
      if (shape === "circle") { w = h = Math.max(w, h); }
      else if (shape === "ellipse") { w *= 1.25; h += 6; }
      s = { w: Math.max(w, 30), h: h };
      nodeSize.set(i, s);
    }
    return s;
  }

  // -- layout of one level: longest-path layers, barycentre ordering, centred placement
  const cache = new Map();  // cluster -> its layout while nothing inside it changes
  function sizeOf(item) {
    if (item[0] === "n") return sizeOfNode(+item.slice(1));
    const c = +item.slice(1);
    if (expanded.has(c)) { const L = layout(c); return { w: L.w, h: L.h }; }
    const lines = clusterLines(c);
    return { w: textWidth(lines) + 2 * PAD_X + 6, h: lines.length * LINE + 2 * PAD_Y + 6 };
  }
  function layout(c) {
    let L = cache.get(c);
    if (L) return L;
    const list = items[c], index = new Map(list.map((it, k) => [it, k]));
    const succ = list.map(() => []), pred = list.map(() => []);
    for (const [a, b] of levelEdges[c]) {
      const ia = index.get(a), ib = index.get(b);
      if (ia === undefined || ib === undefined || ia >= ib) continue;  // items come in topo order
      succ[ia].push(ib); pred[ib].push(ia);
    }
    const layer = list.map(() => 0);
    let depth = 0;
    for (let k = 0; k < list.length; k++) {
      for (const p of pred[k]) layer[k] = Math.max(layer[k], layer[p] + 1);
      depth = Math.max(depth, layer[k] + 1);
    }
    const rows = Array.from({ length: depth }, () => []);
    list.forEach((_, k) => rows[layer[k]].push(k));
    const rank = new Float64Array(list.length);
    const setRanks = (row) => row.forEach((k, j) => { rank[k] = j; });
    rows.forEach(setRanks);
    for (let sweep = 0; sweep < 2; sweep++) {
      for (const row of rows) {
        const bary = (k) => pred[k].length ? pred[k].reduce((s, p) => s + rank[p], 0) / pred[k].length : rank[k];
        const key = new Map(row.map((k) => [k, bary(k)]));
        row.sort((a, b) => key.get(a) - key.get(b) || a - b);
        setRanks(row);
      }
    }
    const size = list.map(sizeOf);
    const x = new Float64Array(list.length), y = new Float64Array(list.length);
    let top = 0;
    for (const row of rows) {
      let h = 0;
      for (const k of row) h = Math.max(h, size[k].h);
      // wanted centre: the mean of the predecessors' centres; then pushed apart left to right
      const want = row.map((k) => pred[k].length ? pred[k].reduce((s, p) => s + x[p], 0) / pred[k].length : 0);
      let right = -Infinity;
      row.forEach((k, j) => {
        const half = size[k].w / 2;
        x[k] = Math.max(want[j], right + GAP_X + half);
        right = x[k] + half;
        y[k] = top + h / 2;
      });
      top += h + GAP_Y;
    }
    let minX = Infinity, maxX = -Infinity;
    list.forEach((_, k) => { minX = Math.min(minX, x[k] - size[k].w / 2); maxX = Math.max(maxX, x[k] + size[k].w / 2); });
    if (!list.length) { minX = 0; maxX = 60; }
    const pad = c === 0 ? 0 : CPAD, head = c === 0 ? 0 : CTITLE;
    const pos = new Map();
    list.forEach((it, k) => {
      pos.set(it, { x: x[k] - minX + pad - size[k].w / 2, y: y[k] - size[k].h / 2 + head + pad, w: size[k].w, h: size[k].h });
    });
    const titleW = c === 0 ? 0 : textWidth([CLUSTERS[c].title + "  ·  " + CLUSTERS[c].paramsText]) + 2 * CPAD;
    L = { w: Math.max(maxX - minX + 2 * pad, titleW), h: Math.max(top - GAP_Y, 0) + 2 * pad + head, pos: pos };
    cache.set(c, L);
    return L;
  }
  function invalidate(c) {
    for (; c >= 0; c = CLUSTERS[c].parent) { cache.delete(c); if (c === 0) break; }
  }

  // -- drawing: one SVG string for what is on screen (and a screen around it); labels only when
  // they are big enough to read. Every visible item is still placed (abs), for edges and search.
  const LOD = 0.35;  // below this zoom, text is left out
  let region = null, detail = true;
  const meets = (b) => !region || (b.x < region.x1 && b.x + b.w > region.x0 && b.y < region.y1 && b.y + b.h > region.y0);
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  let abs = new Map();  // visible item -> absolute box
  function textBlock(lines, cx, y0, cls) {
    let out = "";
    if (!detail) return out;
    lines.forEach((l, j) => {
      out += `<text x="${cx}" y="${y0 + j * LINE + FONT}" class="${cls || ""}">${esc(l)}</text>`;
    });
    return out;
  }
  function drawNode(i, b) {
    const n = NODES[i], cx = b.x + b.w / 2, lines = nodeLines(i);
    let shape;
    if (n.shape === "box") shape = `<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="5"/>`;
    else shape = `<ellipse cx="${cx}" cy="${b.y + b.h / 2}" rx="${b.w / 2}" ry="${b.h / 2}"/>`;
    return `<g class="node" data-node="${i}" style="fill:${n.fill}">${shape}` +
      textBlock(lines, cx, b.y + (b.h - lines.length * LINE) / 2 - 1) + "</g>";
  }
  function drawCluster(c, ox, oy, out, back) {
    const L = layout(c);
    for (const it of items[c]) {
      const p = L.pos.get(it), b = { x: ox + p.x, y: oy + p.y, w: p.w, h: p.h };
      abs.set(it, b);
      const shown = meets(b);
      if (it[0] === "n") { if (shown) out.push(drawNode(+it.slice(1), b)); continue; }
      const k = +it.slice(1), cl = CLUSTERS[k], rep = cl.kind === "repeat";
      const fill = rep ? T.repeat_fill : T.clusters[depthOf(k) % 2];
      const line = rep ? T.repeat_line : T.cluster_line;
      if (expanded.has(k)) {
        if (shown) back.push(`<g class="cluster expanded${rep ? " repeat" : ""}" data-cluster="${k}">` +
          `<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="8" style="fill:${fill};stroke:${line}"/>` +
          (detail ? `<text x="${b.x + CPAD}" y="${b.y + 15}" class="ctitle" style="fill:${line}">` +
          `${esc("▾ " + cl.title + "  ·  " + cl.paramsText)}</text>` : "") + "</g>");
        drawCluster(k, b.x, b.y, out, back);
      } else if (shown) {
        const lines = clusterLines(k);
        lines[0] = "▸ " + lines[0];
        out.push(`<g class="cluster collapsed${rep ? " repeat" : ""}" data-cluster="${k}">` +
          `<rect x="${b.x + 4}" y="${b.y}" width="${b.w - 4}" height="${b.h - 4}" rx="3" style="fill:${fill};stroke:${line}"/>` +
          `<rect x="${b.x}" y="${b.y + 4}" width="${b.w - 4}" height="${b.h - 4}" rx="3" style="fill:${fill};stroke:${line}"/>` +
          textBlock(lines, b.x + (b.w - 4) / 2, b.y + 4 + PAD_Y) + "</g>");
      }
    }
  }
  const depthCache = new Map();
  function depthOf(c) {
    let d = depthCache.get(c);
    if (d === undefined) { d = c === 0 ? 0 : depthOf(CLUSTERS[c].parent) + 1; depthCache.set(c, d); }
    return d;
  }
  function visibleItem(i) {  // the node itself, or the outermost collapsed cluster holding it
    for (const c of chains[i]) if (!expanded.has(c)) return "c" + c;
    return "n" + i;
  }
  function drawEdges(out) {
    const done = new Set();
    for (const e of D.edges) {
      const a = visibleItem(e.from), b = visibleItem(e.to);
      if (a === b) continue;
      const key = a + ">" + b + (e.back ? "!" : "");
      if (done.has(key)) continue;
      done.add(key);
      const p = abs.get(a), q = abs.get(b);
      if (!p || !q) continue;
      const x0 = Math.min(p.x, q.x), y0 = Math.min(p.y, q.y);
      if (!meets({ x: x0, y: y0, w: Math.max(p.x + p.w, q.x + q.w) + 80 - x0, h: Math.max(p.y + p.h, q.y + q.h) - y0 })) continue;
      const x1 = p.x + p.w / 2, y1 = p.y + p.h, x2 = q.x + q.w / 2, y2 = q.y;
      let d;
      if (e.back || y2 < y1) {  // upwards: round the right-hand side
        const sx = Math.max(p.x + p.w, q.x + q.w) + 30;
        d = `M${p.x + p.w},${p.y + p.h / 2} C${sx},${p.y + p.h / 2} ${sx},${q.y + q.h / 2} ${q.x + q.w},${q.y + q.h / 2}`;
      } else {
        const dy = Math.max((y2 - y1) / 2, 10);
        // an edge past a layer bows out to the right instead of running through the nodes
        const bow = y2 - y1 > 2 * GAP_Y + 10 && Math.abs(x2 - x1) < 40 ? Math.min(p.w, q.w) / 2 + 40 : 0;
        d = `M${x1},${y1} C${x1 + bow},${y1 + dy} ${x2 + bow},${y2 - dy} ${x2},${y2}`;
      }
      out.push(`<path class="edge${e.back ? " back" : ""}" d="${d}" marker-end="url(#arrow)"/>`);
      if (detail && e.label && a[0] === "n" && b[0] === "n" && !e.back) {
        out.push(`<text class="elabel" x="${(x1 + x2) / 2 + 4}" y="${(y1 + y2) / 2 + 3}">${esc(e.label.split("\n")[0])}</text>`);
      }
    }
  }
  const view = { k: 1, tx: 0, ty: 0 };
  function viewRect(margin) {  // the window in diagram coordinates, `margin` windows around it
    const r = svg.getBoundingClientRect(), w = r.width / view.k, h = r.height / view.k;
    const x = -view.tx / view.k, y = -view.ty / view.k;
    return { x0: x - margin * w, y0: y - margin * h, x1: x + (1 + margin) * w, y1: y + (1 + margin) * h };
  }
  function draw() {
    abs = new Map();
    region = viewRect(1);
    detail = view.k >= LOD;
    const body = [], back = [], edges = [];
    const L = layout(0);
    drawCluster(0, 0, 0, body, back);
    drawEdges(edges);
    svg.innerHTML = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" style="fill:${T.edge}"/></marker></defs>` +
      `<g id="viewport">${back.join("")}${edges.join("")}${body.join("")}</g>`;
    applyView();
    let visible = 0, open = 0, closed = 0;
    abs.forEach((_, it) => {
      if (it[0] === "n") visible++; else if (expanded.has(+it.slice(1))) open++; else closed++;
    });
    Object.assign(document.body.dataset, { visibleNodes: visible, openBlocks: open, closedBlocks: closed });
    document.body.dataset.width = String(Math.round(L.w));
    document.body.dataset.height = String(Math.round(L.h));
    markMatches();
  }
  function applyView() {
    const g = document.getElementById("viewport");
    if (g) g.setAttribute("transform", `translate(${view.tx},${view.ty}) scale(${view.k})`);
    const v = viewRect(0);  // past what was drawn, or zoomed across the level of detail: redraw
    if (g && region && (v.x0 < region.x0 || v.y0 < region.y0 || v.x1 > region.x1 || v.y1 > region.y1 ||
        (view.k >= LOD) !== detail)) draw();
  }
  function fit() {
    const L = layout(0), r = svg.getBoundingClientRect(), m = 20;
    let k = Math.min((r.width - 2 * m) / L.w, (r.height - 2 * m) / L.h, 1.5);
    if (k < 0.3) k = Math.min((r.width - 2 * m) / L.w, 1);  // a long chain: fit the width, start at the top
    view.k = k;
    view.tx = (r.width - L.w * k) / 2;
    view.ty = L.h * k < r.height ? (r.height - L.h * k) / 2 : m;
    applyView();
  }

  // -- expand and collapse
  function toggle(c, open) {
    if (open === undefined) open = !expanded.has(c);
    if (open === expanded.has(c)) return;
    if (open) expanded.add(c); else expanded.delete(c);
    invalidate(c);
    draw();
  }
  function setAll(open) {
    expanded.clear();
    if (open) CLUSTERS.forEach((_, i) => { if (i > 0) expanded.add(i); });
    cache.clear();
    draw();
    fit();
  }

  // -- hover
  function where(span) {
    return span ? `${D.files[span[0]].name}:${span[1]}:${span[2]}` : "(no source)";
  }
  function tipText(el) {
    if (el.dataset.node !== undefined) return NODES[+el.dataset.node].tip;
    const c = +el.dataset.cluster, cl = CLUSTERS[c];
    return `${where(cl.span)}\n${cl.kind} ${cl.title}: ${ops[c]} op${ops[c] === 1 ? "" : "s"}, ${cl.paramsText}` +
      `\n(click to ${expanded.has(c) ? "collapse" : "expand"})`;
  }
  function target(ev) {
    const el = ev.target.closest ? ev.target.closest(".node, .cluster") : null;
    if (el && el.classList.contains("cluster") && el.classList.contains("expanded") &&
        ev.target.tagName !== "rect" && !ev.target.classList.contains("ctitle")) return null;
    return el;
  }
  svg.addEventListener("mousemove", (ev) => {
    if (drag) return;
    const el = target(ev);
    if (!el) { tip.hidden = true; return; }
    tip.textContent = tipText(el);
    tip.hidden = false;
    const w = window.innerWidth, h = window.innerHeight;
    tip.style.left = Math.min(ev.clientX + 14, w - tip.offsetWidth - 4) + "px";
    tip.style.top = Math.min(ev.clientY + 14, h - tip.offsetHeight - 4) + "px";
  });
  svg.addEventListener("mouseleave", () => { tip.hidden = true; });

  // -- click: a node shows its source line, a cluster expands or collapses
  const panel = document.getElementById("source");
  const built = new Map();
  function showSource(span) {
    if (!span) return;
    const [fi, line, col] = span;
    let pre = built.get(fi);
    if (!pre) {
      pre = document.createElement("div");
      pre.className = "file";
      pre.innerHTML = D.files[fi].text.split("\n").map((l, j) =>
        `<div class="ln" data-line="${j + 1}"><span class="no">${j + 1}</span>${esc(l) || " "}</div>`).join("");
      built.set(fi, pre);
    }
    const body = document.getElementById("source-body");
    if (body.firstChild !== pre) { body.innerHTML = ""; body.appendChild(pre); }
    pre.querySelectorAll(".ln.at").forEach((el) => el.classList.remove("at"));
    const el = pre.querySelector(`.ln[data-line="${line}"]`);
    document.getElementById("source-name").textContent = `${D.files[fi].name}:${line}:${col}`;
    panel.hidden = false;
    if (el) { el.classList.add("at"); el.scrollIntoView({ block: "center" }); }
  }
  document.getElementById("source-close").addEventListener("click", () => { panel.hidden = true; });
  let drag = null, moved = false;
  svg.addEventListener("mousedown", (ev) => {
    drag = { x: ev.clientX, y: ev.clientY, tx: view.tx, ty: view.ty };
    moved = false;
  });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
    if (moved) { view.tx = drag.tx + dx; view.ty = drag.ty + dy; applyView(); tip.hidden = true; }
  });
  window.addEventListener("mouseup", () => { drag = null; });
  svg.addEventListener("click", (ev) => {
    if (moved) return;
    const el = target(ev);
    if (!el) return;
    if (el.dataset.node !== undefined) { select(el); showSource(NODES[+el.dataset.node].span); return; }
    const c = +el.dataset.cluster;
    showSource(CLUSTERS[c].span);
    toggle(c);
  });
  function select(el) {
    svg.querySelectorAll(".selected").forEach((x) => x.classList.remove("selected"));
    if (el) el.classList.add("selected");
  }

  // -- zoom
  function zoomAt(factor, cx, cy) {
    const k = Math.min(Math.max(view.k * factor, 0.02), 8);
    view.tx = cx - (cx - view.tx) * (k / view.k);
    view.ty = cy - (cy - view.ty) * (k / view.k);
    view.k = k;
    applyView();
  }
  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect();
    zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });
  const centre = () => { const r = svg.getBoundingClientRect(); return [r.width / 2, r.height / 2]; };
  document.getElementById("zoom-in").addEventListener("click", () => zoomAt(1.25, ...centre()));
  document.getElementById("zoom-out").addEventListener("click", () => zoomAt(0.8, ...centre()));
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("expand-all").addEventListener("click", () => setAll(true));
  document.getElementById("collapse-all").addEventListener("click", () => setAll(false));

  // -- search by name: nodes (their names and labels) and blocks
  const search = document.getElementById("search"), results = document.getElementById("results");
  let matches = [], cursor = -1, asked = null;
  function find(q) {
    q = q.trim().toLowerCase();
    if (!q) return [];
    const out = [];
    NODES.forEach((n, i) => {
      if (n.name.toLowerCase().includes(q) || n.label.toLowerCase().includes(q)) out.push("n" + i);
    });
    CLUSTERS.forEach((c, i) => {
      if (i > 0 && (c.title.toLowerCase().includes(q) || String(c.name).toLowerCase().includes(q))) out.push("c" + i);
    });
    return out;
  }
  function markMatches() {
    const want = new Set(matches);
    svg.querySelectorAll(".node, .cluster").forEach((el) => {
      const it = el.dataset.node !== undefined ? "n" + el.dataset.node : "c" + el.dataset.cluster;
      el.classList.toggle("match", want.has(it));
    });
  }
  function nameOf(it) {
    const i = +it.slice(1);
    return it[0] === "n" ? [NODES[i].name, where(NODES[i].span)] : [CLUSTERS[i].kind + " " + CLUSTERS[i].title, where(CLUSTERS[i].span)];
  }
  function runSearch() {
    if (search.value === asked) return;  // Enter on the same words steps to the next match
    asked = search.value;
    matches = find(search.value);
    cursor = -1;
    results.innerHTML = matches.slice(0, 50).map((it, j) => {
      const [name, at] = nameOf(it);
      return `<li data-k="${j}"><b>${esc(name)}</b> <span>${esc(at)}</span></li>`;
    }).join("") + (matches.length > 50 ? `<li class="more">${matches.length - 50} more</li>` : "");
    results.hidden = !search.value.trim();
    document.getElementById("count").textContent = search.value.trim() ? `${matches.length} found` : "";
    markMatches();
  }
  function reveal(it) {  // expand what holds the item, centre on it, flash it
    const i = +it.slice(1);
    const chain = [];
    if (it[0] === "n") chain.push(...chains[i]);
    else for (let c = CLUSTERS[i].parent; c > 0; c = CLUSTERS[c].parent) chain.unshift(c);
    let changed = false;
    for (const c of chain) {
      if (!expanded.has(c)) { expanded.add(c); invalidate(c); changed = true; }
    }
    if (changed) draw();
    const b = abs.get(it), r = svg.getBoundingClientRect();
    if (!b) return;
    view.k = Math.max(view.k, 0.8);
    view.tx = r.width / 2 - (b.x + b.w / 2) * view.k;
    view.ty = r.height / 2 - (b.y + b.h / 2) * view.k;
    applyView();
    const sel = it[0] === "n" ? `.node[data-node="${i}"]` : `.cluster[data-cluster="${i}"]`;
    select(svg.querySelector(sel));
  }
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(runSearch, 80); });
  search.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    clearTimeout(timer);
    runSearch();
    if (!matches.length) return;
    cursor = (cursor + 1) % matches.length;
    reveal(matches[cursor]);
  });
  results.addEventListener("click", (ev) => {
    const li = ev.target.closest("li[data-k]");
    if (!li) return;
    cursor = +li.dataset.k;
    reveal(matches[cursor]);
    const it = matches[cursor];
    const span = it[0] === "n" ? NODES[+it.slice(1)].span : CLUSTERS[+it.slice(1)].span;
    showSource(span);
  });

  document.getElementById("title").textContent = D.title;
  draw();
  fit();
  document.body.dataset.ready = "1";
})();
