// hetuflow console script: small, hand-written, no dependencies. Every page
// works without it; it adds the browser's time zone, confirmation dialogs,
// live counts and tables, the cron preview and the live log.
(function () {
  "use strict";
  var body = document.body;
  var msg = function (name) { return body.getAttribute("data-msg-" + name) || ""; };

  // The browser's time zone, once, so times read in the person's zone.
  if (body.getAttribute("data-has-tz") === "false" && window.Intl) {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz) {
      document.cookie = "hetuflow_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
      if (body.getAttribute("data-signed-in") === "true") { location.reload(); return; }
    }
  }

  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });

  // Dangerous actions ask first; the server asks on a page when this
  // script does not run.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var q = f.getAttribute("data-confirm");
    if (!q) return;
    var only = f.getAttribute("data-confirm-action");
    if (only && (!e.submitter || e.submitter.value !== only)) return;
    if (!window.confirm(q || msg("confirm"))) { e.preventDefault(); return; }
    var h = document.createElement("input");
    h.type = "hidden"; h.name = "confirmed"; h.value = "1";
    f.appendChild(h);
  });

  // A secret shown once is selected whole on focus, ready to copy.
  document.querySelectorAll("input[data-select-all]").forEach(function (i) {
    i.addEventListener("focus", function () { i.select(); });
  });

  // Live counts.
  var live = document.querySelectorAll("[data-live-key]");
  if (live.length) {
    setInterval(function () {
      fetch("/ui/live", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
        if (!d) return;
        live.forEach(function (el) { var v = d[el.getAttribute("data-live-key")]; if (v !== undefined) el.textContent = v; });
      }).catch(function () {});
    }, 5000);
  }

  // Live regions: the same page is fetched again and the region swapped,
  // unless the person is working in it.
  document.querySelectorAll("[data-refresh][id]").forEach(function (el) {
    var secs = parseInt(el.getAttribute("data-refresh"), 10) || 10;
    setInterval(function () {
      if (document.hidden || el.contains(document.activeElement) || el.querySelector("input:checked")) return;
      fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(el.id);
        if (fresh && fresh.innerHTML !== el.innerHTML) el.innerHTML = fresh.innerHTML;
      }).catch(function () {});
    }, secs * 1000);
  });

  // Cron preview beside the field.
  document.querySelectorAll("input[data-cron-preview]").forEach(function (input) {
    var out = document.getElementById(input.getAttribute("data-cron-preview"));
    var tzInput = input.form && input.form.querySelector("[name=time_zone]");
    var timer = null;
    var update = function () {
      var expr = input.value.trim();
      if (!expr) { out.textContent = ""; input.removeAttribute("aria-invalid"); return; }
      var url = "/ui/preview?cron=" + encodeURIComponent(expr) + "&tz=" + encodeURIComponent(tzInput ? tzInput.value.trim() : "");
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
        out.textContent = "";
        if (d.error) {
          input.setAttribute("aria-invalid", "true");
          var p = document.createElement("p"); p.className = "field-error"; p.textContent = d.error; out.appendChild(p);
          return;
        }
        input.removeAttribute("aria-invalid");
        var desc = document.createElement("strong"); desc.className = "cron-description"; desc.textContent = d.description; out.appendChild(desc);
        var label = document.createElement("div"); label.textContent = msg("preview"); out.appendChild(label);
        var ol = document.createElement("ol"); ol.className = "cron-fires";
        d.fires.forEach(function (f) { var li = document.createElement("li"); li.textContent = f; ol.appendChild(li); });
        out.appendChild(ol);
      }).catch(function () {});
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(update, 250); };
    input.addEventListener("input", later);
    if (tzInput) tzInput.addEventListener("input", later);
    update();
  });

  // The log viewer: the whole stream, then new output live.
  var logBox = document.querySelector("[data-log]");
  if (logBox && window.EventSource) {
    var pre = document.getElementById("log-text");
    var state = document.getElementById("log-state");
    var search = document.getElementById("log-search");
    var download = logBox.querySelector("[data-download]");
    var wasLive = logBox.getAttribute("data-live-log") === "true";
    var text = "", es = null, decoder = null;
    var render = function () {
      var term = search ? search.value : "";
      if (!term) { pre.textContent = text; return; }
      pre.textContent = "";
      var n = 0;
      text.split("\n").forEach(function (line) {
        if (line.indexOf(term) < 0) return;
        n++;
        var parts = line.split(term);
        parts.forEach(function (p, i) {
          pre.appendChild(document.createTextNode(p));
          if (i < parts.length - 1) { var m = document.createElement("mark"); m.textContent = term; pre.appendChild(m); }
        });
        pre.appendChild(document.createTextNode("\n"));
      });
      state.textContent = msg("matches").replace("%d", n);
    };
    var open = function (stream) {
      if (es) es.close();
      text = ""; decoder = new TextDecoder("utf-8");
      es = new EventSource(logBox.getAttribute("data-log") + "?stream=" + stream);
      var onData = function (ev) {
        var d = JSON.parse(ev.data);
        var raw = atob(d.data), bytes = new Uint8Array(raw.length);
        for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
        var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        text += decoder.decode(bytes, { stream: true });
        render();
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      };
      es.addEventListener("stdout", onData);
      es.addEventListener("stderr", onData);
      es.addEventListener("end", function (ev) {
        es.close();
        var d = {}; try { d = JSON.parse(ev.data); } catch (e) {}
        var name = document.querySelector('#status-names li[data-k="' + (d.status || "") + '"]');
        state.textContent = msg("ended").replace("%s", name ? name.textContent : (d.status || ""));
        if (wasLive) { wasLive = false; setTimeout(function () { location.reload(); }, 800); }
      });
      es.onerror = function () { if (es.readyState !== 2) state.textContent = msg("lost"); };
    };
    logBox.querySelectorAll("[data-stream]").forEach(function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault();
        var s = a.getAttribute("data-stream");
        logBox.querySelectorAll("[data-stream]").forEach(function (b) {
          var on = b === a;
          b.setAttribute("aria-pressed", on ? "true" : "false");
          b.classList.toggle("secondary", !on);
        });
        if (download) download.href = download.href.replace(/stream=\w+/, "stream=" + s);
        open(s);
      });
    });
    if (search) search.addEventListener("input", render);
    var first = new URLSearchParams(location.search).get("stream") === "stderr" ? "stderr" : "stdout";
    open(first);
  }
})();
