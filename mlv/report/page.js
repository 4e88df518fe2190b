(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("mlv-data").textContent);
  var byCommit = {};
  data.log.forEach(function (e) { byCommit[e.commit] = e; });

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }

  // -- the experiments table: sort by a header, filter by text ---------------------------------
  var table = document.getElementById("experiments");
  var body = table.tBodies[0];
  var headers = table.tHead.rows[0].cells;
  function cellValue(row, col) {
    var cell = row.cells[col];
    var v = cell.getAttribute("data-v");
    return v !== null ? parseFloat(v) : cell.textContent;
  }
  function sortBy(col) {
    var th = headers[col];
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, col), y = cellValue(b, col);
      if (x === "" || y === "") { return (x === "") - (y === ""); }  // empty cells last either way
      var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (r) { fragment.appendChild(r); });
    body.appendChild(fragment);
  }
  // The whole header cell sorts (a click on its button bubbles up to it); the button gives the keyboard a way in.
  Array.prototype.forEach.call(headers, function (th, col) {
    var button = el("button", th.textContent);
    button.type = "button";
    th.addEventListener("click", function () { sortBy(col); });
    th.textContent = "";
    th.appendChild(button);
  });
  var filter = document.getElementById("filter");
  var count = document.getElementById("filter-count");
  filter.addEventListener("input", function () {
    var q = filter.value.toLowerCase(), shown = 0;
    Array.prototype.forEach.call(body.rows, function (r) {
      r.hidden = q !== "" && r.textContent.toLowerCase().indexOf(q) < 0;
      if (!r.hidden) { shown += 1; }
    });
    count.textContent = q ? shown + " of " + body.rows.length + " shown" : "";
  });
  document.getElementById("filter-box").hidden = false;
  document.getElementById("sort-hint").hidden = false;

  // -- compare two runs, in the shape of `mlv diff --json` ---------------------------------------
  function isDict(v) { return typeof v === "object" && v !== null && !Array.isArray(v); }
  function flatten(tree, prefix, singleRoot) {
    if (singleRoot && isDict(tree) && Object.keys(tree).length === 1) { tree = tree[Object.keys(tree)[0]]; }
    var flat = {};
    if (isDict(tree)) {
      Object.keys(tree).forEach(function (key) {
        var name = prefix ? prefix + "." + key : key, value = tree[key];
        if (isDict(value) && Object.keys(value).length) { Object.assign(flat, flatten(value, name, false)); }
        else { flat[name] = value; }
      });
    } else if (prefix) { flat[prefix] = tree; }
    return flat;
  }
  function sameKeys(a, b) {
    var x = Object.keys(a).sort(), y = Object.keys(b).sort();
    return x.length === y.length && x.every(function (k, i) { return k === y[i]; });
  }
  function isNumber(v) { return typeof v === "number" && isFinite(v); }
  function compareValues(oldE, newE, kind) {
    var single = Object.keys(oldE[kind]).length === 1 && sameKeys(oldE[kind], newE[kind]);
    var before = flatten(oldE[kind], "", single), after = flatten(newE[kind], "", single);
    var keys = Object.keys(Object.assign({}, before, after)).sort();
    var entries = [];
    keys.forEach(function (key) {
      var inB = Object.prototype.hasOwnProperty.call(before, key), inA = Object.prototype.hasOwnProperty.call(after, key);
      var c = {key: key, status: null, old: inB ? before[key] : null, new: inA ? after[key] : null,
               abs_change: null, rel_change: null, direction: null};
      if (!inA) { c.status = "removed"; c.old = before[key]; c.new = null; }
      else if (!inB) { c.status = "added"; }
      else if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) {
        c.status = "modified";
        if (kind === "metrics" && isNumber(before[key]) && isNumber(after[key])) {
          var delta = after[key] - before[key];
          c.abs_change = delta;
          c.rel_change = before[key] ? delta / Math.abs(before[key]) : null;
          c.direction = delta > 0 ? "up" : "down";
        }
      } else { return; }
      entries.push(c);
    });
    return {available: true, reason: null, changed: entries.length > 0, entries: entries};
  }
  // Plain dotted versions are ordered here; any other pair is "changed" (mlv diff orders PEP 440 fully).
  function versionOrder(a, b) {
    var plain = /^\d+(\.\d+)*$/;
    if (!plain.test(a) || !plain.test(b)) { return null; }
    var x = a.split(".").map(Number), y = b.split(".").map(Number);
    for (var i = 0; i < Math.max(x.length, y.length); i++) {
      var d = (x[i] || 0) - (y[i] || 0);
      if (d) { return d; }
    }
    return 0;
  }
  function compareEnvironment(oldE, newE) {
    var a = oldE.environment, b = newE.environment;
    var s = {available: true, reason: null, python: null, platform: null, packages_known: true,
             added: [], removed: [], upgraded: [], downgraded: [], changed_other: []};
    if (a.python !== b.python) { s.python = {name: "python", old: a.python, new: b.python}; }
    if (a.platform !== b.platform) { s.platform = {name: "platform", old: a.platform, new: b.platform}; }
    var pa = data.packages[a.lockfile], pb = data.packages[b.lockfile];
    if (!pa || !pb) { s.packages_known = false; }
    else {
      Object.keys(Object.assign({}, pa, pb)).sort().forEach(function (name) {
        var c = {name: name, old: pa[name] === undefined ? null : pa[name], new: pb[name] === undefined ? null : pb[name]};
        if (c.old === null) { s.added.push(c); }
        else if (c.new === null) { s.removed.push(c); }
        else if (c.old !== c.new) {
          var order = versionOrder(c.old, c.new);
          (order === null || order === 0 ? s.changed_other : order < 0 ? s.upgraded : s.downgraded).push(c);
        }
      });
    }
    s.changed = !s.packages_known || !!(s.python || s.platform || s.added.length || s.removed.length ||
      s.upgraded.length || s.downgraded.length || s.changed_other.length);
    return s;
  }
  function compareData(oldE, newE) {
    var a = {}, b = {};
    (data.tree_data[oldE.commit] || []).forEach(function (p) { a[p.path] = p; });
    (data.tree_data[newE.commit] || []).forEach(function (p) { b[p.path] = p; });
    var entries = Object.keys(Object.assign({}, a, b)).sort().map(function (path) {
      var x = a[path], y = b[path];
      var status = !x ? "added" : !y ? "removed" : x.md5 === y.md5 ? "unchanged" : "modified";
      var pick = function (p) { return p ? {md5: p.md5, size: p.size, nfiles: p.nfiles} : null; };
      return {path: path, kind: (y || x).kind, status: status, old: pick(x), new: pick(y),
              size_change: x && y ? y.size - x.size : null, folder: null,
              note: status === "modified" && /\.dir$/.test(y.md5) ? "files inside: see mlv diff" : null};
    });
    return {changed: entries.some(function (e) { return e.status !== "unchanged"; }), entries: entries};
  }
  function compareCode(oldE, newE) {
    var states = data.code.states;
    var a = states[data.code.by_commit[oldE.commit]] || {}, b = states[data.code.by_commit[newE.commit]] || {};
    var files = Object.keys(Object.assign({}, a, b)).sort().filter(function (p) { return a[p] !== b[p]; })
      .map(function (p) {
        return {path: p, status: !(p in a) ? "added" : !(p in b) ? "removed" : "modified", old_path: null,
                added_lines: null, removed_lines: null, binary: false};
      });
    return {changed: files.length > 0, totals: {files: files.length, added_lines: 0, removed_lines: 0}, files: files};
  }
  // A full commit, or a prefix of one (the page shows 10 characters) that names exactly one experiment.
  function resolve(ref) {
    var key = String(ref).toLowerCase();
    if (byCommit[key]) { return byCommit[key]; }
    var found = key.length >= 4 && /^[0-9a-f]+$/.test(key) ?
      data.log.filter(function (e) { return e.commit.indexOf(key) === 0; }) : [];
    if (found.length === 1) { return found[0]; }
    throw new Error(found.length ? "'" + ref + "' names " + found.length + " experiments: give more characters" :
                    "'" + ref + "' is not an experiment on this page: give a commit from its table");
  }
  function diff(oldCommit, newCommit) {
    var a = resolve(oldCommit), b = resolve(newCommit);
    var side = function (e) {
      return {label: e.commit.slice(0, 10), commit: e.commit, message: (e.message || "").split("\n")[0],
              workspace: false, has_record: true, status: e.status, notes: []};
    };
    var doc = {schema_version: 1, old: side(a), new: side(b),
               code: compareCode(a, b), data: compareData(a, b), environment: compareEnvironment(a, b),
               params: compareValues(a, b, "params"), metrics: compareValues(a, b, "metrics"),
               command: {available: true, reason: null, changed: a.command !== b.command, old: a.command, new: b.command}};
    doc.identical = !["code", "data", "environment", "params", "metrics", "command"].some(function (k) { return doc[k].changed; });
    return doc;
  }

  // Control characters and text-reordering marks shown as escapes, as mlv shows them on a terminal.
  var hidden = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
  function visible(text) {
    return String(text).replace(hidden, function (c) {
      var code = c.charCodeAt(0);
      return code < 0x100 ? "\\x" + ("0" + code.toString(16)).slice(-2) : "\\u" + ("000" + code.toString(16)).slice(-4);
    });
  }
  // Numbers as the terminal shows them (Python's "%.6g"): 6 significant digits, no float noise.
  function fmt(v) {
    if (!isFinite(v)) { return String(v); }
    if (v === 0) { return "0"; }
    var exp = parseInt(v.toExponential(5).split("e")[1], 10);
    if (exp < -4 || exp >= 6) {
      var parts = v.toExponential(5).split("e");
      var mantissa = parts[0].indexOf(".") >= 0 ? parts[0].replace(/0+$/, "").replace(/\.$/, "") : parts[0];
      return mantissa + "e" + (exp < 0 ? "-" : "+") + ("0" + Math.abs(exp)).slice(-2);
    }
    var fixed = v.toFixed(Math.max(0, 5 - exp));
    return fixed.indexOf(".") >= 0 ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
  }
  function signed(v) { return (v > 0 ? "+" : "") + fmt(v); }
  // Sizes as the terminal shows them: "97.0 KiB", "-5.9 KiB".
  function size(bytes) {
    if (bytes === null || bytes === undefined) { return null; }
    var value = Math.abs(bytes), units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
    return (bytes < 0 ? "-" : "") + (i === 0 ? value.toFixed(0) : value.toFixed(1)) + " " + units[i];
  }
  function signedSize(bytes) {
    return bytes === null || bytes === undefined ? null : bytes === 0 ? "0 B" : (bytes > 0 ? "+" : "") + size(bytes);
  }
  function show(value) {
    if (typeof value === "number") { return fmt(value); }
    return visible(value === null || value === undefined ? "-" : typeof value === "string" ? value : JSON.stringify(value));
  }
  function makeTable(title, head, rows) {
    var box = el("div"), t = el("table"), tr = el("tr");
    box.appendChild(el("h3", title));
    head.forEach(function (h) { tr.appendChild(el("th", h)); });
    t.appendChild(el("thead")).appendChild(tr);
    var tb = t.appendChild(el("tbody"));
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (c) { row.appendChild(typeof c === "object" && c !== null ? c : el("td", show(c))); });
      tb.appendChild(row);
    });
    var scroll = el("div", null, "scroll");
    scroll.appendChild(t);
    box.appendChild(scroll);
    return box;
  }
  function render(d) {
    var out = document.getElementById("compare-out");
    out.textContent = "";
    out.appendChild(el("p", visible(d.old.label + " " + d.old.message + "  \u2192  " + d.new.label + " " + d.new.message)));
    if (d.identical) { out.appendChild(el("p", "no differences")); return; }
    if (d.code.changed) {
      out.appendChild(makeTable("Code (" + d.code.files.length + " files; lines: mlv diff " + d.old.label + " " + d.new.label + ")",
        ["file", "status"], d.code.files.map(function (f) { return [f.path, f.status]; })));
    }
    if (d.data.changed) {
      out.appendChild(makeTable("Data", ["path", "kind", "status", "old md5", "new md5", "size", "size change"],
        d.data.entries.filter(function (e) { return e.status !== "unchanged"; }).map(function (e) {
          return [e.path, e.kind, e.status, e.old && e.old.md5, e.new && e.new.md5,
                  size((e.new || e.old).size), signedSize(e.size_change)];
        })));
    }
    var env = d.environment;
    if (env.changed) {
      var rows = [];
      if (env.python) { rows.push(["python", "changed", env.python.old, env.python.new]); }
      if (env.platform) { rows.push(["platform", "changed", env.platform.old, env.platform.new]); }
      ["added", "removed", "upgraded", "downgraded", "changed_other"].forEach(function (kind) {
        env[kind].forEach(function (c) { rows.push([c.name, kind.replace("_other", ""), c.old, c.new]); });
      });
      if (!env.packages_known) { rows.push(["packages", "a lockfile could not be read", null, null]); }
      out.appendChild(makeTable("Environment", ["name", "change", "old", "new"], rows));
    }
    ["params", "metrics"].forEach(function (kind) {
      if (!d[kind].changed) { return; }
      out.appendChild(makeTable(kind === "params" ? "Params" : "Metrics", ["name", "status", "old", "new", "change"],
        d[kind].entries.map(function (c) {
          var change = c.abs_change === null ? null : signed(c.abs_change) +
            (c.rel_change === null ? "" : " (" + (c.rel_change > 0 ? "+" : "") + (c.rel_change * 100).toFixed(1) + "%)");
          return [c.key, c.status, c.old, c.new, change];
        })));
    });
    if (d.command.changed) { out.appendChild(makeTable("Command", ["old", "new"], [[d.command.old, d.command.new]])); }
  }
  var pickA = document.getElementById("cmp-a"), pickB = document.getElementById("cmp-b");
  function update() {
    if (pickA.value && pickB.value) { render(diff(pickA.value, pickB.value)); }
  }
  if (pickA.options.length > 1) { pickA.selectedIndex = 1; }  // the one before the newest, against the newest
  pickA.addEventListener("change", update);
  pickB.addEventListener("change", update);
  update();
  window.mlvReport = {data: data, diff: diff, fmt: fmt, size: size};
})();
