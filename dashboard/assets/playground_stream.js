// The playground's "Generate" button: POST the prompt to the dashboard's own /api/generate (relayed to the
// gateway, see dashboard/app.py relay_playground) and append each arm's text to its box as it streams in.
// The gateway sends NDJSON events: start {arm, input}, delta {arm, text}, done {arm, completion, seconds,
// generatedTokens, finishReason} or error {arm, error}; every line carries remainingToday.
(function () {
  "use strict";

  // Bootstrap's classes and the site's code block (assets/site.css): the boxes follow the light or dark theme.
  const CODE_CLASS = "code-block p-2 mb-0";

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
    const line = element("p", {class: "playground-error text-danger-emphasis"}, message);
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
    const box = element("div", {id: `playground-${arm}`, class: "playground-arm col-12 col-md-6"});
    const heading = element("h2", {class: "h6"}, arm);
    const status = element("span", {class: "playground-status fw-normal text-body-secondary"}, " · generating…");
    heading.appendChild(status);
    const input = element("pre", {class: `playground-input ${CODE_CLASS} text-body-secondary`});
    const completion = element("pre", {id: `playground-${arm}-output`, class: `playground-completion ${CODE_CLASS}`});
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
    const columns = element("div", {class: "playground-arms row g-2"});
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
