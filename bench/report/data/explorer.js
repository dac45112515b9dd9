// zsbench explorer: draws the leaderboard, per-class views, image grids and A-vs-B views from the JSON
// blocks zsbench report embeds (bench/report/explorer.py). Every text from the data is set with
// textContent, never as markup. A task's block is parsed when the task is opened, its thumbnails when a
// grid is drawn.
(function () {
  "use strict";
  var root = document.getElementById("explorer");
  var B = JSON.parse(document.getElementById("zs-board").textContent);
  var taskCache = {}, imgCache = {};
  var state = { sortCol: "mean", sortDir: -1, filter: "", arch: "", data: "", group: "", protocol: "" };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else if (k === "on") for (var ev in attrs.on) e.addEventListener(ev, attrs.on[ev]);
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function clear() { while (root.firstChild) root.removeChild(root.firstChild); }
  function fmt(v) { return v == null ? "" : v.toFixed(2); }
  function task(j) {
    if (!(j in taskCache)) { var s = document.getElementById("zs-task-" + j); taskCache[j] = s ? JSON.parse(s.textContent) : null; }
    return taskCache[j];
  }
  function images(j) {
    if (!(j in imgCache)) { var s = document.getElementById("zs-img-" + j); imgCache[j] = s ? JSON.parse(s.textContent) : null; }
    return imgCache[j];
  }
  function bit(b64, i) {  // numpy.packbits order
    var bytes = bitCache[b64] || (bitCache[b64] = Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); }));
    return (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  }
  var bitCache = {};

  // -- the paired test: McNemar's exact (two-sided binomial on the discordant pairs) --------------------
  function logChoose(n, k) { return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1); }
  function lgamma(x) {  // Lanczos (g=7, n=9), |error| < 1e-13 for x > 0
    var c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
      12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
    if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
    x -= 1; var a = c[0], t = x + 7.5;
    for (var i = 1; i < 9; i++) a += c[i] / (x + i);
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
  }
  function mcnemar(b, c) {
    var n = b + c; if (n === 0) return 1;
    var k = Math.min(b, c), s = 0;
    for (var i = 0; i <= k; i++) s += Math.exp(logChoose(n, i) - n * Math.LN2);
    return Math.min(1, 2 * s);
  }
  window.zsMcnemar = mcnemar;

  // -- leaderboard ----------------------------------------------------------------------------------------
  var cellAt = {};
  B.cells.forEach(function (c) { cellAt[c[0] + "," + c[1]] = c; });
  function visibleTasks() {
    return B.tasks.map(function (t, j) { return j; }).filter(function (j) {
      return !state.group || B.tasks[j].groups.indexOf(state.group) >= 0;
    });
  }
  function rowMean(i, cols) {
    var s = 0;
    for (var k = 0; k < cols.length; k++) { var c = cellAt[i + "," + cols[k]]; if (!c || c[2] == null) return null; s += c[2]; }
    return cols.length ? s / cols.length : null;
  }
  function options(values, label) {
    var sel = el("select", { "aria-label": label }, [el("option", { value: "", text: "all " + label })]);
    values.forEach(function (v) { sel.appendChild(el("option", { value: v, text: v })); });
    return sel;
  }
  function uniq(a) { return a.filter(function (v, i) { return a.indexOf(v) === i; }).sort(); }
  function drawBoard() {
    clear();
    root.appendChild(el("h2", { text: "Explorer: leaderboard" }));
    root.appendChild(el("p", { cls: "muted", text: "Click a column to sort, a cell to open the task's classes; bars: 95% interval. " +
      "Mean: over the tasks shown, for rows that have all of them. A row is one classifier (a model, its template set " +
      "and, for probes, its features and training subset); ×N: N records of it on that task, the newest shown." }));
    var q = el("input", { type: "search", placeholder: "filter models", "aria-label": "filter models", value: state.filter });
    var arch = options(uniq(B.models.map(function (m) { return m.arch; })), "architectures");
    var data = options(uniq(B.models.map(function (m) { return m.pretrained; })), "pretrained data");
    var groups = [];
    B.tasks.forEach(function (t) { groups = groups.concat(t.groups); });
    var grp = options(uniq(groups), "task groups");
    var proto = options(uniq(B.models.map(function (m) { return m.protocol; })), "protocols");
    arch.value = state.arch; data.value = state.data; grp.value = state.group; proto.value = state.protocol;
    proto.addEventListener("change", function () { state.protocol = proto.value; drawTable(); });
    q.addEventListener("input", function () { state.filter = q.value; drawTable(); });
    arch.addEventListener("change", function () { state.arch = arch.value; drawTable(); });
    data.addEventListener("change", function () { state.data = data.value; drawTable(); });
    grp.addEventListener("change", function () { state.group = grp.value; drawTable(); });
    root.appendChild(el("div", { cls: "bar-controls" }, [q, arch, data, proto, grp]));
    var wrap = el("div", { cls: "lb-wrap", id: "zs-board-table" });
    root.appendChild(wrap);
    function drawTable() {
      while (wrap.firstChild) wrap.removeChild(wrap.firstChild);
      var cols = visibleTasks(), f = state.filter.toLowerCase();
      var rows = B.models.map(function (m, i) { return i; }).filter(function (i) {
        var m = B.models[i];
        return (!f || (m.label + " " + m.arch + " " + m.pretrained).toLowerCase().indexOf(f) >= 0) &&
          (!state.arch || m.arch === state.arch) && (!state.data || m.pretrained === state.data) &&
          (!state.protocol || m.protocol === state.protocol);
      });
      function key(i) {
        if (state.sortCol === "model") return B.models[i].label;
        if (state.sortCol === "mean") return rowMean(i, cols);
        var c = cellAt[i + "," + state.sortCol]; return c ? c[2] : null;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x == null && y == null) return a - b; if (x == null) return 1; if (y == null) return -1;
        return (x < y ? -1 : x > y ? 1 : a - b) * state.sortDir;
      });
      var head = el("tr", null, []);
      function th(text, col) {
        var h = el("th", { text: text, cls: state.sortCol === col ? "sorted" : "", title: "sort" });
        h.addEventListener("click", function () {
          state.sortDir = state.sortCol === col ? -state.sortDir : (col === "model" ? 1 : -1);
          state.sortCol = col; drawTable();
        });
        head.appendChild(h);
      }
      th("model", "model"); th("mean", "mean");
      cols.forEach(function (j) { th(B.tasks[j].name, j); });
      var body = el("tbody");
      rows.forEach(function (i) {
        var tr = el("tr", null, [el("td", { text: B.models[i].label })]);
        var mean = rowMean(i, cols);
        tr.appendChild(el("td", { text: fmt(mean) }));
        cols.forEach(function (j) {
          var c = cellAt[i + "," + j];
          if (!c) { tr.appendChild(el("td")); return; }
          var behind = c[6] > 1 ? c[6] + " records of this classifier on this task; the newest is shown" : "1 record";
          var td = el("td", { cls: "cell", "data-model": String(i), "data-task": String(j), "data-records": String(c[6] || 1),
            title: (c[5] ? c[5] + ": " + fmt(c[3]) + "–" + fmt(c[4]) + "; " : "") + behind },
            [fmt(c[2]), c[6] > 1 ? el("sup", { cls: "muted", text: "\u00d7" + c[6] }) : null]);
          if (c[3] != null) {
            var bar = el("span", { cls: "ci" });
            var lo = Math.max(0, c[3]), hi = Math.min(100, c[4]);
            bar.appendChild(el("i", { style: "left:" + (lo / 2) + "px;width:" + Math.max(1, (hi - lo) / 2) + "px" }));
            bar.appendChild(el("b", { style: "left:" + (c[2] / 2 - 1) + "px" }));
            td.appendChild(bar);
          }
          td.addEventListener("click", function () { openTask(j, i); });
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      wrap.appendChild(el("table", { cls: "lb" }, [el("thead", null, [head]), body]));
    }
    drawTable();
  }

  // -- a task: its classes -----------------------------------------------------------------------------
  function modelSelect(T, value, label, onchange) {
    var sel = el("select", { "aria-label": label });
    T.models.forEach(function (mi, k) { sel.appendChild(el("option", { value: String(k), text: B.models[mi].label })); });
    sel.value = String(value);
    sel.addEventListener("change", function () { onchange(+sel.value); });
    return sel;
  }
  function nav(j, T) {
    return el("div", { cls: "bar-controls" }, [
      el("button", { text: "← leaderboard", on: { click: drawBoard } }),
      T ? el("button", { text: (T.items ? "items of " : "classes of ") + B.tasks[j].name, on: { click: function () { openTask(j, T.models[state.m || 0]); } } }) : null,
      T && !T.items ? el("button", { text: "flagged label issues (" + T.issues + ")", id: "zs-flagged", on: { click: function () { drawGrid(j, "flagged"); } } }) : null,
      T && T.models.length > 1 ? el("button", { text: "A vs B", id: "zs-ab", on: { click: function () { drawAB(j, 0, 1); } } }) : null,
    ]);
  }
  function openTask(j, modelIndex) {
    var T = task(j);
    clear();
    root.appendChild(el("h2", { text: B.tasks[j].name }));
    if (!T) {
      root.appendChild(nav(j, null));
      root.appendChild(el("p", { cls: "muted", text: "No per-sample results for this task (its records keep none)." }));
      return;
    }
    var k = Math.max(0, T.models.indexOf(modelIndex));
    state.m = k;
    if (T.items) { drawGrid(j, "items"); return; }
    root.appendChild(nav(j, T));
    T.notes.forEach(function (n) { root.appendChild(el("p", { cls: "muted", text: n })); });
    root.appendChild(el("p", { cls: "muted", text: T.n + " samples, " + T.classnames.length + " classes, " + T.models.length +
      " models; " + T.issues + " flagged as likely label errors (confident learning on the models' mean probabilities). Click a class for its images." }));
    root.appendChild(el("div", { cls: "bar-controls" }, ["model: ", modelSelect(T, k, "model", function (v) { openTask(j, T.models[v]); })]));
    if ((T.calibration || []).some(function (c) { return c; })) {  // from each record's stored probabilities
      var cal = el("table", { id: "zs-calibration" });
      cal.appendChild(el("tr", null, ["model", "ECE % (15 equal-mass bins)", "ECE % (equal width)", "NLL", "Brier"].map(function (h) { return el("th", { text: h }); })));
      T.calibration.forEach(function (c, m) {
        cal.appendChild(el("tr", { cls: "cal" }, [el("td", { text: B.models[T.models[m]].label })].concat(
          (c || [null, null, null, null]).map(function (v) { return el("td", { cls: "num", text: v == null ? "-" : String(v) }); }))));
      });
      root.appendChild(el("details", null, [el("summary", { text: "calibration" }), cal]));
    }
    var rows = T.classnames.map(function (name, c) {
      var accs = T.per_class.map(function (pc) { return pc[c]; }).filter(function (v) { return v != null; });
      var mean = accs.length ? accs.reduce(function (a, b) { return a + b; }, 0) / accs.length : null;
      return { c: c, name: name, n: T.class_counts[c], flagged: T.issues_per_class[c], acc: T.per_class[k][c], mean: mean,
        min: accs.length ? Math.min.apply(null, accs) : null, max: accs.length ? Math.max.apply(null, accs) : null };
    });
    var sortKey = "acc", dir = 1;
    var wrap = el("div", { cls: "lb-wrap", id: "zs-classes" });
    root.appendChild(wrap);
    function draw() {
      while (wrap.firstChild) wrap.removeChild(wrap.firstChild);
      rows.sort(function (a, b) {
        var x = a[sortKey], y = b[sortKey];
        if (x == null) return 1; if (y == null) return -1;
        return (x < y ? -1 : x > y ? 1 : a.c - b.c) * dir;
      });
      var head = el("tr");
      [["name", "class"], ["n", "images"], ["flagged", "flagged"], ["acc", "top-1 (" + B.models[T.models[k]].label + ")"],
        ["mean", "mean of models"], ["min", "worst"], ["max", "best"]].forEach(function (h) {
        head.appendChild(el("th", { text: h[1], cls: sortKey === h[0] ? "sorted" : "", on: { click: function () {
          dir = sortKey === h[0] ? -dir : 1; sortKey = h[0]; draw(); } } }));
      });
      var body = el("tbody");
      rows.forEach(function (r) {
        var tr = el("tr", { cls: "cls", "data-class": String(r.c) }, [el("td", { text: r.name }), el("td", { text: String(r.n) }),
          el("td", { text: r.flagged ? String(r.flagged) : "" }), el("td", { text: fmt(r.acc) }), el("td", { text: fmt(r.mean) }),
          el("td", { text: fmt(r.min) }), el("td", { text: fmt(r.max) })]);
        tr.addEventListener("click", function () { drawGrid(j, "class", r.c); });
        body.appendChild(tr);
      });
      wrap.appendChild(el("table", { cls: "lb" }, [el("thead", null, [head]), body]));
    }
    draw();
  }

  // -- image grids -------------------------------------------------------------------------------------
  function figure(j, T, s, emphasis) {
    // names: the task's classes, or (T.items) this item's own answers, e.g. its caption and its negative
    var S = T.shown, imgs = images(j), k = state.m || 0, label = S.label[s], flag = S.flag[String(s)];
    var names = T.items ? S.answers[s] : T.classnames;
    function ok(m) { return bit(T.correct[m], S.pos[s]) === 1; }  // right as the task's metric counts
    var right = 0;
    S.pred.forEach(function (p, m) { if (ok(m)) right++; });
    var f = el("figure", { cls: flag ? "flagged" : "", "data-key": S.key[s] });
    if (imgs && imgs[s]) f.appendChild(el("img", { src: imgs[s], alt: S.key[s], loading: "lazy", decoding: "async" }));
    else f.appendChild(el("div", { cls: "noimg", text: "no image" }));
    f.appendChild(el("div", { cls: "key", text: S.key[s] }));
    if (T.items) names.forEach(function (a, c) {
      f.appendChild(el("div", { cls: "answer", text: (c === label ? "caption: " : "other: ") + a }));
    });
    else f.appendChild(el("div", { text: "label: " + names[label] }));
    if (flag) f.appendChild(el("div", { cls: "bad", text: "flagged: likely " + names[flag[0]] + " (normalized margin " + flag[1] + ")" }));
    if (flag && !T.items) f.appendChild(reviewBar(T, s));
    (emphasis || [k]).forEach(function (m) {
      var p = S.pred[m][s];
      f.appendChild(el("div", { cls: ok(m) ? "ok" : "bad" }, [el("b", { text: B.models[T.models[m]].label + ": " }), names[p]]));
    });
    f.appendChild(el("div", { cls: "muted", text: right + " of " + T.models.length + " models right" }));
    var list = el("ul");
    S.pred.forEach(function (p, m) {
      list.appendChild(el("li", { cls: ok(m) ? "ok" : "bad", text: B.models[T.models[m]].label + ": " + names[p[s]] }));
    });
    f.appendChild(el("details", null, [el("summary", { text: "every model's prediction" }), list]));
    return f;
  }
  function drawGrid(j, mode, c) {
    var T = task(j);
    clear();
    var S = T.shown, picked = [];
    for (var s = 0; s < S.key.length; s++) {
      if (mode === "items" || (mode === "flagged" ? S.flag[String(s)] : S.label[s] === c)) picked.push(s);
    }
    if (mode === "flagged") picked.sort(function (a, b) { return S.flag[String(a)][1] - S.flag[String(b)][1]; });
    root.appendChild(el("h2", { text: B.tasks[j].name + ": " + (mode === "flagged" ? "flagged label issues" :
      mode === "items" ? "items" : T.classnames[c]) }));
    root.appendChild(nav(j, T));
    T.notes.forEach(function (n) { if (mode === "items") root.appendChild(el("p", { cls: "muted", text: n })); });
    var total = mode === "flagged" ? T.issues : mode === "items" ? T.n : T.class_counts[c];
    root.appendChild(el("p", { cls: "muted", text: picked.length + " of " + total + (mode === "items" ? " items" : " images") +
      " shown (the explorer keeps, per task, " + (mode === "items" ? "" : "flagged label issues first, then ") +
      "the most disputed samples; zsbench report --samples-per-task raises it)" + (mode === "items" ?
      ". Each item: its (first) image, its caption and the others; each model's choice, right when it is right on both sides" : "") }));
    if (mode === "flagged" && !T.items) root.appendChild(el("p", { cls: "review-bar" }, [
      el("button", { id: "zs-review-download", text: "download review.json", on: { click: function () { download(T); } } }),
      " ", el("span", { id: "zs-review-count", text: reviewCount(T) }),
      el("span", { cls: "muted", text: " (marks stay in this browser; apply them with: zsbench samples " + B.results +
        " --task " + T.task + " --review review.json)" })]));
    var grid = el("div", { cls: "grid", id: "zs-grid" });
    picked.forEach(function (s) { grid.appendChild(figure(j, T, s)); });
    root.appendChild(grid);
  }

  // -- label review: a reviewer's marks, kept in the browser's storage, downloaded as review.json --------
  var reviewMemory = {};  // where the page cannot keep storage (a locked-down browser): this session only
  function reviewKey(T) { return "zsbench-review:" + T.task + ":" + T.fingerprint; }
  function marks(T) {
    var k = reviewKey(T);
    try { var v = window.localStorage.getItem(k); if (v) return JSON.parse(v); } catch (e) { /* no storage */ }
    return reviewMemory[k] || {};
  }
  function saveMark(T, mark) {
    var all = marks(T), k = reviewKey(T);
    all[mark.key] = mark;
    reviewMemory[k] = all;
    try { window.localStorage.setItem(k, JSON.stringify(all)); } catch (e) { /* kept in memory */ }
  }
  function reviewCount(T) {
    var all = marks(T), n = { wrong: 0, right: 0, unsure: 0 };
    Object.keys(all).forEach(function (k) { n[all[k].verdict]++; });
    return Object.keys(all).length + " marked (" + n.wrong + " wrong, " + n.right + " right, " + n.unsure + " unsure)";
  }
  function reviewBar(T, s) {
    var S = T.shown, key = S.key[s], flag = S.flag[String(s)], mark = marks(T)[key];
    var sel = el("select", { cls: "review-class", "aria-label": "correct class" });
    T.classnames.forEach(function (name) { sel.appendChild(el("option", { value: name, text: name })); });
    sel.value = mark && mark.correct ? mark.correct : T.classnames[flag[0]];
    var bar = el("div", { cls: "review", "data-verdict": mark ? mark.verdict : "" });
    function set(verdict) {
      var m = { key: key, label: T.classnames[S.label[s]], verdict: verdict };
      if (verdict === "wrong") m.correct = sel.value;
      saveMark(T, m);
      bar.setAttribute("data-verdict", verdict);
      var c = document.getElementById("zs-review-count");
      if (c) c.textContent = reviewCount(T);
    }
    bar.appendChild(el("button", { cls: "mark-wrong", text: "label wrong \u2192", on: { click: function () { set("wrong"); } } }));
    bar.appendChild(sel);
    bar.appendChild(el("button", { cls: "mark-right", text: "label right", on: { click: function () { set("right"); } } }));
    bar.appendChild(el("button", { cls: "mark-unsure", text: "unsure", on: { click: function () { set("unsure"); } } }));
    return bar;
  }
  function reviewFile(T) {
    var all = marks(T);
    return { format: "zsbench-review-v1", task: T.task, fingerprint: T.fingerprint, classnames: T.classnames,
             marks: Object.keys(all).sort().map(function (k) { return all[k]; }) };
  }
  function download(T) {
    var blob = new Blob([JSON.stringify(reviewFile(T), null, 1)], { type: "application/json" });
    var a = el("a", { href: URL.createObjectURL(blob), download: "review.json" });
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
  }

  // -- A vs B --------------------------------------------------------------------------------------------
  function drawAB(j, a, b) {
    var T = task(j);
    clear();
    root.appendChild(el("h2", { text: B.tasks[j].name + ": A vs B" }));
    root.appendChild(nav(j, T));
    root.appendChild(el("div", { cls: "bar-controls" }, [
      "A: ", modelSelect(T, a, "model A", function (v) { drawAB(j, v, b); }),
      "B: ", modelSelect(T, b, "model B", function (v) { drawAB(j, a, v); })]));
    var n = T.n, ra = 0, rb = 0, onlyA = 0, onlyB = 0;
    for (var i = 0; i < n; i++) {
      var x = bit(T.correct[a], i), y = bit(T.correct[b], i);
      ra += x; rb += y; if (x && !y) onlyA++; if (y && !x) onlyB++;
    }
    var p = mcnemar(onlyA, onlyB);
    root.appendChild(el("p", { id: "zs-ab-test", text: (T.items ? "right (both sides) A " : "top-1 A ") + (100 * ra / n).toFixed(2) + "%, B " + (100 * rb / n).toFixed(2) +
      "% on " + n + " samples; A right and B wrong: " + onlyA + ", B right and A wrong: " + onlyB +
      "; McNemar's exact test p = " + p.toPrecision(3) }));
    var bothWrong = 0;
    for (var q = 0; q < n; q++) if (!bit(T.correct[a], q) && !bit(T.correct[b], q)) bothWrong++;
    function spec(m) { var M = B.models[T.models[m]]; return M.arch + ":" + M.pretrained; }
    var models = " --models " + spec(a) + " --models " + spec(b);
    [["a", "A right, B wrong", onlyA, "--disagree"], ["b", "B right, A wrong", onlyB, "--disagree"],
     ["none", "both wrong", bothWrong, "--hard"]].forEach(function (side) {
      var grid = el("div", { cls: "grid" }), shown = 0;
      T.shown.pos.forEach(function (pos, s) {
        var x = bit(T.correct[a], pos), y = bit(T.correct[b], pos);
        if (side[0] === "a" ? (x && !y) : side[0] === "b" ? (y && !x) : (!x && !y)) {
          grid.appendChild(figure(j, T, s, [a, b])); shown++;
        }
      });
      root.appendChild(el("h3", { cls: "ab-side", text: side[1] + " (" + shown + " of " + side[2] + " shown)" }));
      if (shown < side[2]) root.appendChild(el("p", { cls: "muted more", text: "all of them: zsbench samples " +
        B.results + " --task " + B.tasks[j].name + models + " " + side[3] + " (the report keeps " +
        T.shown.pos.length + " images per task: zsbench report --samples-per-task N keeps more)" }));
      root.appendChild(grid);
    });
  }

  window.zsExplorer = { openTask: openTask, drawGrid: drawGrid, drawAB: drawAB, drawBoard: drawBoard };
  drawBoard();
  document.body.setAttribute("data-explorer", "ready");
  if (window.performance && performance.mark) performance.mark("zs-board");
})();
