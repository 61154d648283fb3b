// The rule playground: two editors, the engine (portal check compiled to WebAssembly, see
// wasi.js) run on every change, and its results shown as `portal check` reports them.
(function () {
  "use strict";

  const catalog = window.PORTAL_CATALOG;
  const element = (id) => document.getElementById(id);
  // The file names the engine gives the two texts in problems and reports.
  const FILES = { "rules.yaml": "rules", "manifests.yaml": "manifests" };

  // Compiled once; instantiated afresh for every check, as a command runs afresh.
  const engine = (async () => {
    const binary = Uint8Array.from(atob(window.PORTAL_ENGINE_WASM), (c) => c.charCodeAt(0));
    return WebAssembly.compile(binary);
  })();

  // `portal check -o <output>` on the two texts: resolves to { code, stdout, stderr }.
  async function check(rules, manifests, output, namespace) {
    const request = { rules, manifests, output: output || "json", namespace: namespace || "default" };
    return window.PortalWasi.run(await engine, new TextEncoder().encode(JSON.stringify(request)));
  }

  // Where a problem is in its text: { editor, line, column } (1-based), or null.
  function positionOf(problem) {
    const located = /^(rules\.yaml|manifests\.yaml):(\d+)$/.exec(problem.location);
    if (!located) return null;
    const editor = FILES[located[1]];
    const line = Number(located[2]);
    const yaml = /^not valid YAML or JSON: column (\d+)/.exec(problem.message);
    if (yaml) return { editor, line, column: Number(yaml[1]) };
    const expression =
      /`([^`]+)` does not compile: line (\d+), column (\d+)/.exec(problem.message) ||
      /`([^`]+)` [^`]*`[^`]*` at line (\d+), column (\d+)/.exec(problem.message);
    if (expression) {
      const text = element(editor).value;
      const inFile = expressionPosition(text, line, expression[1], Number(expression[2]), Number(expression[3]));
      if (inFile) return { editor, ...inFile };
    }
    return { editor, line, column: 1 };
  }

  // Maps a position inside the expression of `field` (`rule`, `messageExpression`) of the
  // document starting at `documentLine` to a position in the file's text, following YAML's
  // scalar styles: a literal block (`|`) keeps every line; a folded block (`>`) and a plain or
  // quoted scalar join lines with a space, but keep a blank line's break (a folded block also
  // keeps the breaks around more-indented lines).
  function expressionPosition(text, documentLine, field, line, column) {
    const lines = text.split("\n");
    const key = field.split(".").pop();
    const pattern = new RegExp("^(\\s*)(?:-\\s+)?" + key.replace(/[^\w]/g, "\\$&") + ":(\\s*)(.*)$");
    for (let index = documentLine - 1; index < lines.length; index++) {
      if (index >= documentLine && /^---/.test(lines[index])) break;
      const found = pattern.exec(lines[index]);
      if (!found) continue;
      const keyIndent = found[1].length;
      const rest = found[3];
      // The lines of the scalar after the key's: blank, or indented deeper than the key.
      const following = [];
      for (let next = index + 1; next < lines.length; next++) {
        const candidate = lines[next];
        const indent = candidate.length - candidate.trimStart().length;
        if (candidate.trim() !== "" && indent <= keyIndent) break;
        following.push({ number: next + 1, text: candidate, indent });
      }
      while (following.length && following[following.length - 1].text.trim() === "") following.pop();
      // Each expression line as segments of the file: [file line, first column, length].
      const expressionLines = [];
      const block = /^([|>])[-+0-9]*\s*(#.*)?$/.exec(rest);
      if (block) {
        const first = following.find((l) => l.text.trim() !== "");
        const indent = first ? first.indent : 0;
        let previousDeeper = false;
        let breakBefore = true;
        for (const l of following) {
          const blank = l.text.trim() === "";
          const deeper = !blank && l.indent > indent;
          const segment = [l.number, indent + 1, Math.max(0, l.text.length - indent)];
          const joins = block[1] === ">" && !breakBefore && !blank && !deeper && !previousDeeper;
          if (joins) expressionLines[expressionLines.length - 1].push(segment);
          else expressionLines.push([segment]);
          breakBefore = blank;
          previousDeeper = deeper;
        }
      } else {
        const quoted = /^["']/.test(rest) ? 1 : 0;
        expressionLines.push([[index + 1, lines[index].length - rest.length + quoted + 1, rest.length - quoted]]);
        let breakBefore = false;
        for (const l of following) {
          if (l.text.trim() === "") {
            breakBefore = true;
            continue;
          }
          const segment = [l.number, l.indent + 1, l.text.trim().length];
          if (breakBefore) expressionLines.push([segment]);
          else expressionLines[expressionLines.length - 1].push(segment);
          breakBefore = false;
        }
      }
      const segments = expressionLines[line - 1];
      if (!segments) return null;
      let remaining = column;
      for (let i = 0; i < segments.length; i++) {
        const [fileLine, start, length] = segments[i];
        if (remaining <= length || i === segments.length - 1) return { line: fileLine, column: start + remaining - 1 };
        remaining -= length + 1;
      }
      return null;
    }
    return null;
  }

  // The `portal check` command line that reproduces the check: the shipped files when the
  // texts are a shipped example unchanged, otherwise the files the page's texts are saved to.
  function commandLine() {
    const rules = catalog.rules[element("rules-example").value];
    const manifests = catalog.manifests[element("manifests-example").value];
    const rulesArgs = rules && rules.text === element("rules").value ? rules.args : ["--rules", "rules.yaml"];
    const manifestsArg =
      manifests && manifests.text === element("manifests").value ? manifests.path : "manifests.yaml";
    const namespace = element("namespace").value.trim() || "default";
    const args = ["portal", "check", ...rulesArgs];
    if (namespace !== "default") args.push("--namespace", namespace);
    args.push(manifestsArg);
    // As a POSIX shell reads it: anything but plain words in single quotes.
    const quote = (arg) => (/^[\w@%+=:,.\/-]+$/.test(arg) ? arg : "'" + arg.replace(/'/g, "'\\''") + "'");
    const saved = [];
    if (rulesArgs[1] === "rules.yaml") saved.push("the rules as rules.yaml");
    if (manifestsArg === "manifests.yaml") saved.push("the manifests as manifests.yaml");
    const preface = saved.length ? "# save " + saved.join(" and ") + ", then:\n" : "";
    return preface + args.map(quote).join(" ");
  }

  function renderGutter(editor, marks) {
    const textarea = element(editor);
    const gutter = textarea.parentElement.querySelector(".gutter");
    const count = textarea.value.split("\n").length;
    gutter.replaceChildren();
    for (let line = 1; line <= count; line++) {
      const number = document.createElement("div");
      number.textContent = String(line);
      const mark = marks.find((m) => m.editor === editor && m.line === line);
      if (mark) {
        number.className = "error";
        number.dataset.line = String(line);
        number.dataset.column = String(mark.column);
        number.title = "column " + mark.column + ": " + mark.message;
      }
      gutter.append(number);
    }
    gutter.scrollTop = textarea.scrollTop;
  }

  function select(position) {
    const textarea = element(position.editor);
    const lines = textarea.value.split("\n");
    let offset = 0;
    for (let i = 0; i < position.line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, position.column - 1);
    textarea.focus();
    textarea.setSelectionRange(offset, offset + 1);
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.append(td);
  }

  function render(json, table) {
    const status = ["admitted", "denied", "bad-input"][json.code] || "bad-input";
    let report = null;
    try {
      report = JSON.parse(json.stdout);
    } catch (error) {
      report = null;
    }
    const verdict = element("verdict");
    verdict.dataset.status = status;
    const summary = report && report.summary;
    const counts = summary
      ? `${summary.objects} objects, ${summary.rules} rules: ${summary.deny} deny, ${summary.warn} warn, ` +
        `${summary.audit} audit-only, ${summary.errors} evaluation errors`
      : "";
    verdict.textContent = { admitted: "Admitted", denied: "Denied", "bad-input": "Bad input" }[status] +
      (counts ? " — " + counts : "");

    const problems = element("problems");
    problems.replaceChildren();
    const marks = [];
    const listed = [
      ...((report && report.errors) || []).map((p) => ["error", p]),
      ...((report && report.skipped) || []).map((p) => ["warning", p]),
    ];
    if (!report && json.stderr) listed.push(["error", { location: "", message: json.stderr.trim() }]);
    for (const [kind, problem] of listed) {
      const item = document.createElement("li");
      item.className = kind;
      const position = positionOf(problem);
      const where = position ? `${position.editor}, line ${position.line}, column ${position.column}: ` : "";
      item.textContent = kind + ": " + where + problem.message;
      if (position) {
        if (kind === "error") marks.push({ ...position, message: problem.message });
        item.addEventListener("click", () => select(position));
      }
      problems.append(item);
    }
    renderGutter("rules", marks);
    renderGutter("manifests", marks);

    const rows = element("findings").querySelector("tbody");
    rows.replaceChildren();
    for (const object of (report && report.objects) || []) {
      for (const result of object.results) {
        for (const violation of result.violations || []) {
          const row = document.createElement("tr");
          row.dataset.rule = result.rule;
          cell(row, object.resource);
          cell(row, result.rule);
          cell(row, violation.enforcementAction, "action-" + violation.enforcementAction);
          cell(row, violation.severity);
          cell(row, violation.container || "");
          cell(row, violation.message);
          rows.append(row);
        }
        for (const error of result.errors || []) {
          const row = document.createElement("tr");
          row.dataset.rule = result.rule;
          [object.resource, result.rule, "error", result.severity, "", error.message].forEach((t) => cell(row, t));
          rows.append(row);
        }
      }
    }
    element("findings").hidden = rows.children.length === 0;
    for (const kind of ["rules", "manifests"]) {
      const shipped = catalog[kind][element(kind + "-example").value];
      element(kind + "-edited").hidden = Boolean(shipped) && shipped.text === element(kind).value;
    }
    element("command").textContent = commandLine();
    element("output").textContent = table.stdout + table.stderr;
  }

  let pending = null;
  // Checks may overlap while someone types: only the latest one's result is shown.
  let latest = 0;
  async function run() {
    const generation = ++latest;
    const rules = element("rules").value;
    const manifests = element("manifests").value;
    const namespace = element("namespace").value.trim() || "default";
    const json = await check(rules, manifests, "json", namespace);
    const table = await check(rules, manifests, "table", namespace);
    if (generation === latest) render(json, table);
    return json;
  }

  // The engine could not be loaded or run: said in the page, not only in the console.
  function failed(error) {
    const verdict = element("verdict");
    verdict.dataset.status = "bad-input";
    verdict.textContent = "The engine failed: " + (error && error.message ? error.message : String(error));
    throw error;
  }

  function schedule() {
    clearTimeout(pending);
    pending = setTimeout(() => run().catch(failed), 250);
  }

  function fill(kind) {
    const chooser = element(kind + "-example");
    catalog[kind].forEach((entry, index) => chooser.add(new Option(entry.label, String(index))));
    const load = () => {
      element(kind).value = catalog[kind][chooser.value].text;
      renderGutter(kind, []);
      schedule();
    };
    chooser.addEventListener("change", load);
    element(kind).value = catalog[kind][0].text;
  }

  fill("rules");
  fill("manifests");
  for (const id of ["rules", "manifests", "namespace"]) {
    element(id).addEventListener("input", () => {
      if (id !== "namespace") renderGutter(id, []);
      schedule();
    });
  }
  for (const id of ["rules", "manifests"]) {
    element(id).addEventListener("scroll", () => {
      element(id).parentElement.querySelector(".gutter").scrollTop = element(id).scrollTop;
    });
  }
  element("check").addEventListener("click", () => run().catch(failed));
  renderGutter("rules", []);
  renderGutter("manifests", []);

  // For scripts and tests: the engine itself, and the page's own run.
  window.PortalPlayground = {
    ready: engine
      .then(() => {
        element("check").disabled = false;
        return run();
      })
      .catch(failed),
    check,
    run,
    positionOf,
  };
})();
