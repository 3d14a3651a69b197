// The playground's "Generate" button: POST the prompt to the dashboard's own /api/generate (relayed to the
// gateway, see dashboard/app.py relay_playground) and append each arm's text to its box as it streams in.
// The gateway sends NDJSON events: start {arm, input}, delta {arm, text}, done {arm, completion, seconds,
// generatedTokens, finishReason} or error {arm, error}; every line carries remainingToday.
(function () {
  "use strict";

  const CODE_STYLE = "white-space: pre-wrap; font-family: monospace; font-size: 12px; background: #f6f8fa; " +
    "padding: 8px; margin: 0; overflow-x: auto;";

  function endpoint() {
    const config = document.getElementById("_dash-config");
    const prefix = config ? JSON.parse(config.textContent).requests_pathname_prefix || "/" : "/";
    return prefix + "api/generate";
  }

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showError(output, message) {
    const line = element("p", {class: "playground-error", style: "color: #a00;"}, message);
    if (!document.getElementById("playground-error")) line.id = "playground-error";
    output.appendChild(line);
  }

  // FastAPI's refusals: {"detail": "sentence"}, or a list of validation problems.
  function refusal(status, body) {
    let detail = body;
    try {
      detail = JSON.parse(body).detail;
    } catch (ignored) {
      return body || `the playground failed (HTTP ${status})`;
    }
    if (Array.isArray(detail)) {
      detail = detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    }
    return detail;
  }

  function armBox(columns, arm) {
    const box = element("div", {id: `playground-${arm}`, class: "playground-arm", style: "flex: 1; min-width: 0;"});
    const heading = element("h4", {}, arm);
    const status = element("span", {class: "playground-status", style: "font-weight: normal; color: #666;"},
      " · generating…");
    heading.appendChild(status);
    const input = element("pre", {class: "playground-input", style: CODE_STYLE + " color: #666;"});
    const completion = element("pre", {id: `playground-${arm}-output`, class: "playground-completion",
      style: CODE_STYLE});
    box.append(heading, input, completion);
    columns.appendChild(box);
    return {status, input, completion};
  }

  function apply(event, boxes, columns, output) {
    const box = boxes[event.arm] || (event.arm && (boxes[event.arm] = armBox(columns, event.arm)));
    if (event.event === "start") {
      box.input.textContent = event.input;
    } else if (event.event === "delta") {
      box.completion.appendChild(document.createTextNode(event.text));
    } else if (event.event === "done") {
      box.completion.textContent = event.completion;  // the deltas joined, as the model server answered
      box.status.textContent = ` · ${event.seconds.toFixed(2)} s, ${event.generatedTokens} tokens` +
        (event.finishReason ? `, ${event.finishReason}` : "");
    } else if (event.event === "error" || event.error) {
      if (box) box.status.textContent = " · failed";
      showError(output, event.error);
    }
  }

  async function generate(button) {
    const output = document.getElementById("playground-output");
    const value = (id) => document.getElementById(id).value;
    output.replaceChildren();
    button.disabled = true;
    const columns = element("div", {class: "playground-arms", style: "display: flex; gap: 12px;"});
    output.appendChild(columns);
    const boxes = {};
    let remaining = null;
    try {
      const reply = await fetch(endpoint(), {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({prompt: value("prompt"), metadata: value("metadata") || null,
          maxNewTokens: parseInt(value("max-tokens"), 10) || 32}),
      });
      if (!reply.ok) {
        showError(output, refusal(reply.status, await reply.text()));
        return;
      }
      const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = "";
      for (;;) {
        const {value: text, done} = await reader.read();
        if (done) break;
        pending += text;
        let end;
        while ((end = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, end).trim();
          pending = pending.slice(end + 1);
          if (!line) continue;
          const event = JSON.parse(line);
          if (event.remainingToday !== undefined) remaining = event.remainingToday;
          apply(event, boxes, columns, output);
        }
      }
    } catch (error) {
      showError(output, `the playground stream broke off (${error.message}); try again`);
    } finally {
      button.disabled = false;
      if (remaining !== null) {
        output.appendChild(element("p", {id: "playground-remaining"}, `${remaining} generations left today.`));
      }
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("#generate");
    if (button && !button.disabled) generate(button);
  });
})();
