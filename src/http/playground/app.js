// The playground: the REST API from a browser, nothing else. Every text
// from the service goes into the page as text, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { session: null, sessionKey: null };

function headers(json) {
  const h = {};
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

function say(message) {
  $("status").textContent = message || "";
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401) {
    throw new Error("Paste a tenant API key above (this service asks for one).");
  }
  if (!response.ok) {
    throw new Error(data && data.detail ? data.detail : response.status + " " + response.statusText);
  }
  return data;
}

function character() {
  return $("characters").value;
}

function person() {
  return $("user-id").value.trim() || "player";
}

async function loadCharacters(select) {
  const page = await call("GET", "/v1/characters?limit=100");
  const list = $("characters");
  list.replaceChildren();
  for (const c of page.items) {
    const option = document.createElement("option");
    option.value = c.id;
    option.textContent = c.name;
    list.appendChild(option);
  }
  if (select) list.value = select;
  state.session = null;
  $("chat-log").replaceChildren();
}

// A session per character and person, opened on the first message.
async function session() {
  const key = character() + "/" + person();
  if (state.session && state.sessionKey === key) return state.session;
  const opened = await call("POST", "/v1/characters/" + character() + "/sessions", { user_id: person() });
  state.session = opened.id;
  state.sessionKey = key;
  return state.session;
}

function bubble(kind, text) {
  const div = document.createElement("div");
  div.className = kind;
  div.textContent = text;
  $("chat-log").appendChild(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

function showMemories(after, memories) {
  if (!memories.length) return;
  const list = document.createElement("ul");
  list.className = "memories-used";
  for (const m of memories) {
    const item = document.createElement("li");
    item.textContent = m.memory.content + " (" + m.score.toFixed(2) + ")";
    list.appendChild(item);
  }
  after.after(list);
}

// Server-sent events over a POST: read the body, split on blank lines.
async function stream(path, body, onEvent) {
  const response = await fetch(path, { method: "POST", headers: headers(true), body: JSON.stringify(body) });
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    throw new Error(problem && problem.detail ? problem.detail : String(response.status));
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

async function send(event) {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text || !character()) return;
  $("send").disabled = true;
  say("");
  try {
    const id = await session();
    bubble("said", text);
    $("message").value = "";
    const reply = bubble("reply", "");
    reply.dataset.state = "streaming";
    let memories = [];
    await stream("/v1/sessions/" + id + "/messages/stream", { content: text }, (name, data) => {
      if (name === "memories") memories = data.memories;
      else if (name === "delta") {
        reply.textContent += data.text;
        reply.dataset.deltas = String(Number(reply.dataset.deltas || 0) + 1);
      }
      else if (name === "done") {
        reply.textContent = data.reply.content;
        reply.dataset.state = "done";
        showMemories(reply, data.memories_used || memories);
      } else if (name === "error") {
        reply.dataset.state = "failed";
        say(data.detail);
      }
    });
    if (reply.dataset.state === "streaming") reply.dataset.state = "done";
  } catch (error) {
    say(error.message);
  } finally {
    $("send").disabled = false;
  }
}

async function create(event) {
  event.preventDefault();
  try {
    const made = await call("POST", "/v1/characters", {
      name: $("new-name").value.trim(),
      persona: $("new-persona").value.trim(),
    });
    $("new-name").value = "";
    $("new-persona").value = "";
    await loadCharacters(made.id);
    say("");
  } catch (error) {
    say(error.message);
  }
}

async function search(event) {
  event.preventDefault();
  if (!character()) return;
  try {
    const found = await call("POST", "/v1/characters/" + character() + "/memories/search", {
      query: $("search-query").value.trim(),
      k: 10,
      user_id: person(),
    });
    $("search-mode").textContent = found.mode + (found.degraded ? " (degraded)" : "");
    const list = $("search-results");
    list.replaceChildren();
    for (const hit of found.results) {
      const item = document.createElement("li");
      item.textContent = hit.memory.content + " ";
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = hit.score.toFixed(3) + " · " + hit.memory.kind;
      item.appendChild(score);
      list.appendChild(item);
    }
    say("");
  } catch (error) {
    say(error.message);
  }
}

async function pushEvent(event) {
  event.preventDefault();
  if (!character()) return;
  try {
    await call("POST", "/v1/characters/" + character() + "/events", {
      description: $("event-description").value.trim(),
      importance: Number($("event-importance").value),
    });
    $("event-status").textContent = "Remembered.";
    $("event-description").value = "";
    say("");
  } catch (error) {
    say(error.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("api-key").value = localStorage.getItem("virlife-key") || "";
  $("api-key").addEventListener("change", () => {
    localStorage.setItem("virlife-key", $("api-key").value.trim());
    loadCharacters().catch((e) => say(e.message));
  });
  $("characters").addEventListener("change", () => {
    state.session = null;
    $("chat-log").replaceChildren();
  });
  $("user-id").addEventListener("change", () => {
    state.session = null;
  });
  $("refresh-characters").addEventListener("click", () => loadCharacters().catch((e) => say(e.message)));
  $("create-form").addEventListener("submit", create);
  $("chat-form").addEventListener("submit", send);
  $("search-form").addEventListener("submit", search);
  $("event-form").addEventListener("submit", pushEvent);
  loadCharacters().catch((e) => say(e.message));
});
