/* The participant's trial loop. Vanilla JS, no dependencies.
 *
 * The server owns the state: this page always asks it for the next trial, so a refresh,
 * the back button or a new tab resumes where the participant was. An answer is sent with
 * the trial id and the response time measured here (from the moment every picture of the
 * trial has loaded to the click); the buttons disable on the first click, and a failed
 * request is retried with the same trial id, which the server stores once.
 */
(function () {
  "use strict";
  var root = document.getElementById("study");
  if (!root) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var trialUrl = root.getAttribute("data-api");
  var answersUrl = root.getAttribute("data-answers");
  var debriefUrl = root.getAttribute("data-debrief");
  var el = function (id) { return document.getElementById(id); };
  var current = null;
  var shownAt = null;

  function setStatus(text) { el("status").textContent = text || ""; }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  /* fetch with retries on dropped connections and 5xx; 4xx are returned to the caller. */
  function call(method, url, body) {
    var attempt = 0;
    function once() {
      var opts = { method: method, credentials: "same-origin",
                   headers: { "Accept": "application/json", "X-CSRFToken": csrf } };
      if (body !== undefined) {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(body);
      }
      return fetch(url, opts).then(function (resp) {
        if (resp.status >= 500) { throw new Error("server " + resp.status); }
        return resp.json().then(function (data) { setStatus(""); return { status: resp.status, data: data }; });
      }).catch(function (err) {
        attempt += 1;
        setStatus("Connection problem, retrying... (" + attempt + ")");
        return sleep(Math.min(500 * attempt, 5000)).then(once);
      });
    }
    return once();
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function renderProgress(trial) {
    el("progress-text").textContent = "Question " + (trial.index + 1) + " of " + trial.total;
    el("progress-fill").style.width = Math.round(100 * trial.index / Math.max(trial.total, 1)) + "%";
  }

  function render(trial) {
    current = trial;
    shownAt = null;
    el("instructions").hidden = true;
    el("trial").hidden = false;
    el("feedback").hidden = true;
    el("phase").textContent = (trial.extra && trial.extra.phase_label) || (trial.phase === "practice" ? "Practice." : "");
    renderProgress(trial);
    el("question").textContent = trial.question;
    var stimuli = el("stimuli");
    clear(stimuli);
    /* two pictures stay side by side at every width (the texts say "left" and "right") */
    stimuli.className = "stimuli" + (trial.stimuli.length === 2 ? " pair" : "");
    var pending = trial.stimuli.length;
    var ready = function () { pending -= 1; if (pending <= 0 && shownAt === null) { shownAt = performance.now(); enable(true); } };
    trial.stimuli.forEach(function (s) {
      var fig = document.createElement("figure");
      fig.className = "stimulus " + s.position;
      var img = document.createElement("img");
      img.alt = s.caption || "visualization";
      img.addEventListener("load", ready);
      img.addEventListener("error", ready);
      img.src = s.url;
      fig.appendChild(img);
      if (s.caption) { var cap = document.createElement("figcaption"); cap.textContent = s.caption; fig.appendChild(cap); }
      stimuli.appendChild(fig);
    });
    var options = el("options");
    clear(options);
    options.className = "options " + trial.response_kind;
    var ends = el("scale-ends");
    clear(ends);
    var endLabels = (trial.extra && trial.extra.scale_ends) || null;
    ends.hidden = !endLabels;
    if (endLabels) {
      endLabels.forEach(function (text) { var span = document.createElement("span"); span.textContent = text; ends.appendChild(span); });
    }
    if (trial.response_kind === "rating") {
      options.style.gridTemplateColumns = "repeat(" + trial.options.length + ", minmax(0, 1fr))";
    }
    trial.options.forEach(function (o) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "option";
      b.textContent = o.label;
      b.setAttribute("data-value", JSON.stringify(o.value));
      b.disabled = true;
      b.addEventListener("click", function () { answer(o.value, b); });
      options.appendChild(b);
    });
    if (pending <= 0) { shownAt = performance.now(); enable(true); }
  }

  function enable(on) {
    Array.prototype.forEach.call(document.querySelectorAll("#options button"), function (b) { b.disabled = !on; });
  }

  function loadNext() {
    return call("GET", trialUrl).then(function (r) {
      if (r.status !== 200) { setStatus(r.data.message || "Could not load the next question."); return; }
      if (r.data.done) { window.location.assign(debriefUrl); return; }
      render(r.data);
    });
  }

  function answer(value, button) {
    if (!current || shownAt === null) { return; }
    enable(false);
    button.classList.add("chosen");
    var rt = Math.max(0, Math.round(performance.now() - shownAt));
    var trial = current;
    current = null;
    call("POST", answersUrl, { trial_id: trial.trial_id, answer: value, rt_ms: rt }).then(function (r) {
      if (r.status >= 400 && r.status !== 409) {
        setStatus(r.data.message || "The answer was not accepted.");
        return loadNext();
      }
      if (r.data.feedback) {
        el("feedback-text").textContent = r.data.feedback.text;
        el("feedback").className = "feedback " + (r.data.feedback.correct === false ? "wrong" : "right");
        el("feedback").hidden = false;
        el("continue").focus();
        return;
      }
      return loadNext();
    });
  }

  el("continue").addEventListener("click", function () { el("feedback").hidden = true; loadNext(); });
  el("begin").addEventListener("click", function () { loadNext(); });
  if (el("instructions").hidden) { loadNext(); }
})();
