// The live view of the Audit and Signals pages: ask for records newer than the newest shown, every 2 seconds, and
// put the rows the server rendered (and escaped) at the top of the table. No reload, no framework, no inline script.
(function () {
  "use strict";
  var table = document.getElementById("audit-log") || document.getElementById("signals-log");
  if (!table || !table.dataset.poll) { return; }
  var body = table.tBodies[0];
  var status = document.getElementById("live-status");
  var after = table.dataset.after;
  function poll() {
    var url = table.dataset.poll + (table.dataset.poll.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(after);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (data) {
        if (data) {
          if (data.count > 0) { body.insertAdjacentHTML("afterbegin", data.rows); }
          after = String(data.after);
          if (status) { status.textContent = "Live: up to record " + after + "."; }
        } else if (status) { status.textContent = "Live view paused: sign in again to resume."; }
      })
      .catch(function () { if (status) { status.textContent = "Live view: the server did not answer; retrying."; } })
      .finally(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
})();
