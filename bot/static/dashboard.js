// The dashboard's little JavaScript: live updates through server-sent events and canned replies.
// Pages work without it; it only saves reloading. Every HTML it inserts was rendered (and
// escaped) by the server.
(function () {
  "use strict";
  const page = document.body.dataset.page;
  const status = document.getElementById("live-status");

  function announce(text) {
    if (status) status.textContent = text;
  }

  async function fetchFragment(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.redirected || response.status === 401) {
      window.location.reload(); // the session ended: the server shows the log-in page
      return null;
    }
    return response.ok ? response.text() : null;
  }

  function debounce(fn, wait) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, wait);
    };
  }

  // onEvent hears every change; onConnect runs on each (re)connection, to catch up on
  // what happened while the page loaded or the connection was down.
  function listen(onEvent, onConnect) {
    if (!window.EventSource) return;
    const source = new EventSource("/dashboard/events");
    source.addEventListener("open", () => {
      onConnect();
      // Tells tests, and anyone curious, that live updates are flowing.
      document.body.dataset.live = "open";
    });
    source.addEventListener("error", () => (document.body.dataset.live = "reconnecting"));
    source.addEventListener("case", (message) => {
      let event = {};
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      onEvent(event);
    });
    window.addEventListener("beforeunload", () => source.close());
  }

  if (page === "queue") {
    const rows = document.getElementById("queue-rows");
    const refresh = debounce(async () => {
      const known = new Set(Array.from(rows.querySelectorAll("tr[data-case-id]"), (r) => r.dataset.caseId));
      const html = await fetchFragment("/dashboard/queue/rows");
      if (html === null) return;
      rows.innerHTML = html;
      const counts = rows.querySelector("tr[data-counts]");
      if (counts) document.getElementById("queue-counts").textContent = counts.dataset.counts;
      let arrived = 0;
      for (const row of rows.querySelectorAll("tr[data-case-id]")) {
        if (!known.has(row.dataset.caseId)) {
          row.classList.add("flash");
          arrived += 1;
        }
      }
      if (arrived) announce(arrived + " new case(s) in the queue");
    }, 250);
    listen(refresh, refresh);
    // Waiting times and deadlines move on even when nothing happens.
    setInterval(refresh, 30000);
  }

  if (page === "case") {
    const caseId = document.body.dataset.caseId;
    const transcript = document.getElementById("transcript");
    const changed = document.getElementById("case-changed");
    const refresh = debounce(async () => {
      const html = await fetchFragment("/dashboard/cases/" + caseId + "/transcript");
      if (html === null) return;
      const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
      transcript.innerHTML = html;
      if (atBottom) transcript.scrollTop = transcript.scrollHeight;
    }, 150);
    // These change what the conversation shows; anything else (claimed, released,
    // transferred, closed, a note) was someone else's doing: offer a reload.
    const inTranscript = ["message", "flagged", "delivery_failed"];
    listen((event) => {
      if (event.kind === "resync") return refresh(); // some events were lost: catch up
      if (String(event.case_id) !== caseId) return;
      if (inTranscript.includes(event.kind)) {
        refresh();
        if (event.kind === "message") announce("New message in the conversation");
      } else if (changed) {
        changed.hidden = false;
      }
    }, refresh);
    transcript.scrollTop = transcript.scrollHeight;

    const box = document.getElementById("reply-text");
    for (const button of document.querySelectorAll(".canned-reply")) {
      button.addEventListener("click", () => {
        if (!box) return;
        box.value = box.value ? box.value + "\n" + button.dataset.text : button.dataset.text;
        box.focus();
      });
    }
  }
})();
