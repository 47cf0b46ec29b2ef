/* The consoles' only script: forms that call the service's JSON API, and live regions fed by
   server-sent events. Pages work with the keyboard alone and announce results to screen
   readers through the form's status region. */
"use strict";

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  keys.slice(0, -1).forEach((key) => {
    node[key] = node[key] || {};
    node = node[key];
  });
  node[keys[keys.length - 1]] = value;
}

function getPath(source, path) {
  return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), source);
}

function convert(field, raw) {
  switch (field.dataset.type) {
    case "number": return raw === "" ? undefined : Number(raw);
    case "json": return raw === "" ? undefined : JSON.parse(raw);
    case "lines": return raw.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    case "datetime": return raw === "" ? undefined : new Date(raw).toISOString();  // local → UTC
    default: return raw === "" && !("keepEmpty" in field.dataset) ? undefined : raw;
  }
}

/* Field names become JSON: "a.b" nests, "x[]" collects every ticked box or selected option
   into a list, a checkbox without [] is a boolean. */
function formJson(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled || field.type === "submit") continue;
    if (field.name.endsWith("[]")) {
      const name = field.name.slice(0, -2);
      if (getPath(body, name) === undefined) setPath(body, name, []);
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked) getPath(body, name).push(convert(field, field.value));
      } else if (field.multiple) {
        for (const option of field.selectedOptions) getPath(body, name).push(option.value);
      } else if (field.value !== "") {
        getPath(body, name).push(convert(field, field.value));
      }
    } else if (field.type === "checkbox") {
      setPath(body, field.name, field.checked);
    } else if (field.type === "radio") {
      if (field.checked) setPath(body, field.name, convert(field, field.value));
    } else {
      const value = convert(field, field.value);
      if (value !== undefined) setPath(body, field.name, value);
    }
  }
  return body;
}

function describeProblem(problem) {
  let text = typeof problem.detail === "string" ? problem.detail : JSON.stringify(problem.detail);
  if (Array.isArray(problem.reasons) && problem.reasons.length) {
    text += ": " + problem.reasons.join("; ");  // e.g. each finding the privacy guard asks about
  }
  if (Array.isArray(problem.errors)) {
    text += ": " + problem.errors.map((e) => `${(e.loc || []).slice(1).join(".")} ${e.msg}`).join("; ");
  }
  return text || problem.title || String(problem.status);
}

async function callApi(method, url, body, contentType) {
  const headers = { "X-BIN-Console": "1", Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
    init.body = contentType ? body : JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  return { ok: response.ok, status: response.status, data };
}

function fillPlaceholders(template, data) {
  return template.replace(/\{([\w.]+)\}/g, (_, key) => encodeURIComponent(getPath(data || {}, key) ?? ""));
}

/* <form data-show="#region">: the JSON answer fills that region's [data-field] elements
   (a list joined by "; ", a boolean as the element's data-yes / data-no) and, for each
   [data-rows="list"] element, one copy of its <template> per item; then the region shows.
   A refusal that carries its own body rather than a problem (an import's row report) is
   shown the same way, with the form's data-failed as its status. */
function showValue(element, data) {
  const value = getPath(data, element.dataset.field);
  if (value === undefined) return;
  if (typeof value === "boolean" && "yes" in element.dataset) {
    element.textContent = value ? element.dataset.yes : element.dataset.no;
  } else {
    element.textContent = Array.isArray(value) ? value.join("; ") : String(value);
  }
}

function showAnswer(form, data) {
  const region = form.dataset.show && document.querySelector(form.dataset.show);
  if (!region || !data || typeof data !== "object" || "title" in data) return false;
  region.querySelectorAll("[data-rows]").forEach((rows) => {
    const template = rows.querySelector("template");
    const items = getPath(data, rows.dataset.rows);
    if (!template || !Array.isArray(items)) return;
    rows.querySelectorAll(":scope > :not(template)").forEach((old) => old.remove());
    items.forEach((item) => {
      const copy = template.content.cloneNode(true);
      copy.querySelectorAll("[data-field]").forEach((element) => showValue(element, item));
      rows.appendChild(copy);
    });
  });
  region.querySelectorAll("[data-field]").forEach((element) => {
    if (!element.closest("[data-rows]")) showValue(element, data);
  });
  region.hidden = false;
  return true;
}

async function submitToApi(event) {
  const form = event.target.closest("form[data-api]");
  if (!form) return;
  event.preventDefault();
  const status = form.querySelector("[data-status]");
  const button = event.submitter || form.querySelector("[type=submit]");
  const say = (text, isProblem) => {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("problem", Boolean(isProblem));
  };
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  let body;
  let contentType;
  if (form.dataset.upload) {
    const file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    body = await file.text();
    contentType = form.dataset.upload;
  } else if (form.dataset.method !== "DELETE" && form.dataset.method !== "GET") {
    try { body = formJson(form); } catch (error) { say(String(error), true); return; }
  }
  if (button) button.disabled = true;
  say(form.dataset.sending || "…");
  try {
    // A button may send the same fields elsewhere (data-api) and show the HTML answer in
    // an element (data-fragment), e.g. a preview next to the form.
    const api = (button && button.dataset.api) || form.dataset.api;
    const fragment = (button && button.dataset.fragment) || form.dataset.fragment;
    const url = fillPlaceholders(api, formJson(form));
    const result = await callApi(form.dataset.method || "POST", url, body, contentType);
    const shown = showAnswer(form, result.data);
    if (!result.ok && shown) {
      say(form.dataset.failed || String(result.status), true);
      status && status.focus();
      return;
    }
    if (!result.ok) {
      say(`${result.status}: ${result.data && typeof result.data === "object" ? describeProblem(result.data) : result.data}`, true);
      status && status.focus();
      return;
    }
    form.dispatchEvent(new CustomEvent("api:done", { detail: result.data, bubbles: true }));
    if (fragment) {
      document.querySelector(fragment).innerHTML = result.data;
      say("");
    } else if (form.dataset.next) {
      window.location.assign(fillPlaceholders(form.dataset.next, result.data));
    } else if (!("stay" in form.dataset)) {
      window.location.reload();
    } else {
      say(form.dataset.done || "✓");
    }
  } catch (error) {
    say(String(error), true);
  } finally {
    if (button) button.disabled = false;
  }
}

/* <section data-live="/url/of/event-stream">: each event's JSON fills the [data-field]
   elements inside (text; HTML where data-html; or a <progress>'s value, data-max naming the
   field for its max). A stream the server closes without "done" is reopened by the browser. */
function followLive(region) {
  const source = new EventSource(region.dataset.live);
  const apply = (message) => {
    const data = JSON.parse(message.data);
    region.dataset.state = "live";
    region.querySelectorAll("[data-field]").forEach((element) => {
      const value = getPath(data, element.dataset.field);
      if (value === undefined) return;
      if (element.tagName === "PROGRESS") {
        element.value = Number(value);
        if (element.dataset.max) element.max = Number(getPath(data, element.dataset.max)) || 1;
      } else if ("html" in element.dataset) {
        element.innerHTML = String(value);  // rendered (and escaped) by the server
      } else {
        element.textContent = String(value);
      }
    });
    region.dispatchEvent(new CustomEvent("live:update", { detail: data }));
  };
  source.addEventListener("message", apply);
  source.addEventListener("done", (message) => {
    apply(message);
    region.dataset.state = "done";
    source.close();
  });
  source.addEventListener("error", () => { region.dataset.state = "reconnecting"; });
}

document.addEventListener("submit", submitToApi);
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach(followLive);
});
