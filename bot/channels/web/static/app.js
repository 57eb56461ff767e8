// 法治助手 web chat: streams answers (server-sent events over fetch), feedback, uploads, drafts.
// No build step, no libraries. Text from the user or the model is only ever set with textContent;
// answer blocks arrive as HTML rendered (and escaped) by the server's Jinja templates.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const text = (id) => {
    const template = document.getElementById(id);
    return template ? template.content.textContent.trim() : "";
  };

  function el(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || text("stream-failed-text"));
    return data;
  }

  // ---- server-sent events over a POST response -------------------------------------------------
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of raw.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { name, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  // ---- chat -----------------------------------------------------------------------------------------
  const chat = document.querySelector(".chat");
  if (chat) {
    const log = document.getElementById("log");
    const form = document.getElementById("ask");
    const input = document.getElementById("question");
    const error = document.getElementById("ask-error");
    const send = document.getElementById("send");
    const askUrl = chat.dataset.askUrl;

    function showError(message) {
      error.textContent = message;
      error.hidden = !message;
    }

    async function stream(url, body, question) {
      const item = el("li", "exchange");
      if (question) item.appendChild(el("p", "question", question));
      const answer = el("div", "answer");
      const thinking = el("p", "thinking", text("thinking-text"));
      const preview = el("p", "preview");
      answer.append(thinking, preview);
      item.appendChild(answer);
      log.appendChild(item);
      item.scrollIntoView({ block: "start", behavior: "smooth" });
      send.disabled = true;
      try {
        const response = await fetch(url, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "text/event-stream" },
          body: JSON.stringify(body),
        });
        if (!response.ok) {
          const data = await response.json().catch(() => ({}));
          throw new Error(data.detail || text("stream-failed-text"));
        }
        let finished = false;
        for await (const event of events(response)) {
          if (event.name === "token") {
            preview.textContent += event.data;
          } else if (event.name === "block") {
            thinking.remove();
            preview.remove();
            answer.insertAdjacentHTML("beforeend", event.data);
          } else if (event.name === "failed") {
            throw new Error(event.data);
          } else if (event.name === "done") {
            finished = true;
            answer.classList.add("complete");
            answer.appendChild(actions(event.data));
          }
        }
        if (!finished) throw new Error(text("stream-failed-text"));
      } catch (exc) {
        thinking.remove();
        preview.remove();
        answer.appendChild(el("p", "form-error", exc.message));
        answer.classList.add("failed");
      } finally {
        send.disabled = false;
      }
    }

    function actions(done) {
      const bar = el("div", "answer-actions");
      for (const choice of done.choices || []) {
        const button = el("button", "choice secondary", choice.label);
        button.type = "button";
        button.addEventListener("click", () => stream("/api/situation", { situation_id: choice.id }, choice.label));
        bar.appendChild(button);
      }
      const rating = el("span", "feedback");
      for (const [value, label] of [["up", text("feedback-up")], ["down", text("feedback-down")]]) {
        const button = el("button", "feedback-" + value, label);
        button.type = "button";
        button.addEventListener("click", async () => {
          try {
            const data = await postJSON("/api/feedback", { token: done.feedback, value });
            rating.replaceChildren(el("span", "thanks", data.message));
          } catch (exc) {
            rating.replaceChildren(el("span", "form-error", exc.message));
          }
        });
        rating.appendChild(button);
      }
      bar.appendChild(rating);
      return bar;
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const question = input.value;
      if (!question.trim()) {
        input.focus();
      }
      showError("");
      stream(askUrl, { question }, question.trim());
      input.value = "";
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    for (const button of document.querySelectorAll(".example")) {
      button.addEventListener("click", () => {
        input.value = button.textContent;
        form.requestSubmit();
      });
    }
    document.getElementById("new-topic").addEventListener("click", async () => {
      try {
        const data = await postJSON("/api/new", {});
        log.appendChild(el("li", "notice", data.message));
      } catch (exc) {
        showError(exc.message);
      }
    });
  }

  // ---- staff: upload with progress -------------------------------------------------------------
  const upload = document.getElementById("upload");
  if (upload) {
    const progress = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    upload.addEventListener("submit", (event) => {
      event.preventDefault();
      const request = new XMLHttpRequest();
      request.open("POST", upload.action);
      request.setRequestHeader("X-CSRF-Token", csrf);
      request.setRequestHeader("Accept", "application/json");
      request.responseType = "json";
      progress.hidden = false;
      progress.value = 0;
      status.className = "status";
      status.textContent = text("upload-uploading");
      request.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
      });
      request.upload.addEventListener("load", () => {
        progress.value = 100;
        status.textContent = text("upload-indexing");
      });
      request.addEventListener("loadend", () => {
        const data = request.response || {};
        const ok = request.status >= 200 && request.status < 300;
        status.textContent = ok ? data.message : data.detail || text("stream-failed-text");
        status.className = ok ? "status ok" : "status form-error";
        progress.hidden = true;
        if (ok) upload.reset();
      });
      request.send(new FormData(upload));
    });
  }

  // ---- staff: drafts ------------------------------------------------------------------------------
  const status = document.getElementById("draft-status");
  for (const button of document.querySelectorAll(".draft-part")) {
    button.addEventListener("click", async () => {
      const result = document.getElementById("draft-result");
      const body = new FormData();
      body.append("part", button.dataset.part);
      body.append("year", button.dataset.year);
      status.className = "status";
      status.textContent = text("draft-working").replace("{part}", button.textContent.trim());
      result.replaceChildren();
      for (const other of document.querySelectorAll(".draft-part")) other.disabled = true;
      try {
        const response = await fetch("/staff/draft", {
          method: "POST", credentials: "same-origin", body,
          headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
        });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(data.detail || text("stream-failed-text"));
        status.textContent = "";
        for (const link of data.downloads) {
          const a = el("a", "download", link.label);
          a.href = link.url;
          a.setAttribute("download", "");
          result.appendChild(a);
        }
        const preview = el("div", "draft-text");
        for (const paragraph of data.text) preview.appendChild(el("p", "", paragraph));
        result.appendChild(preview);
      } catch (exc) {
        status.className = "status form-error";
        status.textContent = exc.message;
      } finally {
        for (const other of document.querySelectorAll(".draft-part")) other.disabled = false;
      }
    });
  }

  // ---- admin: confirm removals ---------------------------------------------------------------------
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
})();
