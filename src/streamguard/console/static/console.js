// StreamGuard console: live alert rows (polling) and push queries (server-sent events).
"use strict";

function liveAlerts() {
  const body = document.getElementById("alert-rows");
  const live = document.getElementById("live");
  if (!body || !live) return;
  async function refresh() {
    if (!live.checked) return;
    try {
      const response = await fetch(body.dataset.src, { headers: { Accept: "text/html" } });
      if (response.ok) body.innerHTML = await response.text();
    } catch (err) {
      // The console restarted or the network dropped: the next tick tries again.
    }
  }
  setInterval(refresh, 2000);
  const chart = document.getElementById("alert-chart");
  if (chart) {
    setInterval(async () => {
      if (!live.checked) return;
      try {
        const response = await fetch(chart.dataset.src);
        if (response.ok) chart.innerHTML = await response.text();
      } catch (err) {
        // As for the rows: the next tick tries again.
      }
    }, 15000);
  }
}

function pushQuery() {
  const status = document.getElementById("push-status");
  if (!status) return;
  const table = document.getElementById("result-0");
  const head = table.querySelector("thead tr");
  const body = table.querySelector("tbody");
  const stop = document.getElementById("sql-stop");
  let queryId = null;
  let rows = 0;
  const source = new EventSource(
    "/sql/push?sql=" + encodeURIComponent(status.dataset.sql) +
    "&reset=" + encodeURIComponent(status.dataset.reset || "earliest"));
  // A query over a busy topic never ends: the page keeps its newest rows only.
  const kept = 1000;
  function counted() {
    return rows + " row(s)" + (rows > kept ? " (the newest " + kept + " shown)" : "");
  }
  function finish(text, isError) {
    source.close();
    stop.hidden = true;
    status.textContent = text;
    if (isError) status.className = "error";
  }
  source.addEventListener("header", (e) => {
    const header = JSON.parse(e.data);
    queryId = header.queryId;
    for (const name of header.columnNames) {
      const th = document.createElement("th");
      th.textContent = name;
      head.appendChild(th);
    }
    status.textContent = "push query " + (queryId || "") + " running: 0 rows";
  });
  source.addEventListener("row", (e) => {
    const tr = document.createElement("tr");
    for (const value of JSON.parse(e.data)) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.appendChild(td);
    }
    body.appendChild(tr);
    if (body.rows.length > kept) body.deleteRow(0);
    rows += 1;
    status.textContent = "push query " + (queryId || "") + " running: " + counted();
  });
  source.addEventListener("end", () => finish("push query ended: " + counted(), false));
  source.addEventListener("error", (e) => {
    if (e.data) finish(JSON.parse(e.data).message, true);
    else if (source.readyState === EventSource.CLOSED) finish("the console closed the stream", true);
  });
  stop.addEventListener("click", () => {
    finish("stopped: " + counted(), false);
    if (queryId) {
      const form = new FormData();
      form.append("queryId", queryId);
      navigator.sendBeacon("/sql/close", form);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  liveAlerts();
  pushQuery();
});
