// The simulator page: posts what one types, polls for the helpline's answers.
(function () {
  "use strict";
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const select = document.getElementById("language");
  const mode = document.getElementById("mode");
  const languages = JSON.parse(document.getElementById("languages").textContent);
  let last = 0;

  for (const [code, name] of Object.entries(languages)) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name;
    select.appendChild(option);
  }

  async function send(text) {
    const response = await fetch("/simulator/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: text, language: select.value }),
      credentials: "same-origin",
    });
    if (!response.ok) {
      alert("The message was not accepted (" + response.status + ").");
    }
    poll();
  }

  function render(message) {
    const item = document.createElement("li");
    item.className = message.direction + " " + message.author;
    const who = document.createElement("small");
    who.textContent = message.direction === "in" ? "you" : message.author;
    item.appendChild(who);
    item.appendChild(document.createTextNode(message.text || ""));
    item.dir = "auto";
    if (message.choices && message.choices.length) {
      const choices = document.createElement("div");
      choices.className = "choices";
      for (const choice of message.choices) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = choice.title;
        button.addEventListener("click", () => send(choice.payload));
        choices.appendChild(button);
      }
      item.appendChild(choices);
    }
    list.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  async function poll() {
    const response = await fetch("/simulator/messages?after=" + last, { credentials: "same-origin" });
    if (!response.ok) return;
    const body = await response.json();
    for (const message of body.messages) {
      render(message);
      last = Math.max(last, message.id);
    }
    mode.textContent = body.mode === "human" ? "A caseworker is handling this chat" : "";
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });

  poll();
  setInterval(poll, 1000);
})();
