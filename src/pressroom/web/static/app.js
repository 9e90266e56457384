// Pressroom dashboard: small progressive enhancements. Every page works without this file.
"use strict";

function copyFrom(button) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = "value" in source && source.tagName === "INPUT" ? source.value : source.textContent;
  const done = () => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => {});
  } else if (source.select) {
    source.select();
    document.execCommand("copy");
    done();
  }
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-copy]");
  if (target) copyFrom(target);
  const confirmable = event.target.closest("[data-confirm]");
  if (confirmable && !window.confirm(confirmable.dataset.confirm)) event.preventDefault();
});

// A job page follows its job through the event stream, then shows the results in place.
function followJob(job) {
  const url = job.dataset.events;
  if (!url || !window.EventSource) return;
  const status = document.getElementById("job-status");
  const attempts = document.getElementById("job-attempts");
  const source = new EventSource(url);
  source.addEventListener("status", (event) => {
    const data = JSON.parse(event.data);
    status.textContent = data.status + (data.cancel_requested && data.status === "running" ? " (cancel requested)" : "");
    status.className = "status status-" + data.status;
    if (attempts) attempts.textContent = attempts.textContent.replace(/^\d+/, String(data.attempts));
  });
  source.addEventListener("outcome", () => {
    source.close();
    fetch(job.dataset.results, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        // Server-rendered and escaped by the same templates as the page itself.
        document.getElementById("results").innerHTML = html;
        const note = document.getElementById("live-note");
        if (note) note.remove();
        job.dataset.done = "true";
      })
      .catch(() => window.location.reload());
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const job = document.getElementById("job");
  if (job) followJob(job);
});
