/// The live view at `/`: one self-contained page (inline CSS and script, nothing fetched but
/// `/api/status`) that an on-call engineer keeps open. It redraws every second from the engine's
/// last snapshot. Every value from the stream (account ids, rule ids) is set as text, never as
/// markup: account ids are input and could hold anything.
enum LivePage {
    static let html = """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>MuleStream live</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
    body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#1b1f24;background:#f6f7f9}
    h1{font-size:1.3em;margin:0 0 .4em} h2{font-size:1.05em;margin:1.2em 0 .4em}
    .badge{display:inline-block;padding:.1em .6em;border-radius:1em;color:#fff;background:#888;font-weight:600}
    .badge.ready{background:#1a7f37} .badge.not-ready{background:#cf222e}
    .kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(11em,1fr));gap:.6em}
    .kpi{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.5em .7em}
    .kpi .v{font-size:1.5em;font-weight:600;font-variant-numeric:tabular-nums}
    .kpi .k{color:#57606a;font-size:.85em}
    table{border-collapse:collapse;background:#fff;width:100%;font-variant-numeric:tabular-nums}
    th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
    th{background:#eaeef2} td.num{text-align:right} .muted{color:#57606a} .shadow{color:#8250df} .snoozed{color:#9a6700}
    #error{color:#cf222e}
    </style></head>
    <body>
    <h1>MuleStream live view <span id="phase" class="badge">loading</span></h1>
    <div class="muted"><span id="reason"></span> · rule set <span id="rule-set"></span> · updated <span id="updated"></span> <span id="error"></span></div>
    <h2>Throughput and state</h2>
    <div class="kpis">
    <div class="kpi"><div class="v" id="events-consumed">–</div><div class="k">events consumed</div></div>
    <div class="kpi"><div class="v" id="events-per-second">–</div><div class="k">events/s</div></div>
    <div class="kpi"><div class="v" id="total-lag">–</div><div class="k">consumer lag (messages)</div></div>
    <div class="kpi"><div class="v" id="alerts-published">–</div><div class="k">alerts published</div></div>
    <div class="kpi"><div class="v" id="dead-lettered">–</div><div class="k">dead-lettered</div></div>
    <div class="kpi"><div class="v" id="late-duplicates">–</div><div class="k">late / duplicate</div></div>
    <div class="kpi"><div class="v" id="accounts-tracked">–</div><div class="k">accounts in state</div></div>
    <div class="kpi"><div class="v" id="state-bytes">–</div><div class="k">state size</div></div>
    <div class="kpi"><div class="v" id="checkpoint-age">–</div><div class="k">checkpoint age</div></div>
    </div>
    <h2>Lag per partition</h2>
    <table><thead><tr><th>partition</th><th>lag</th></tr></thead><tbody id="lag"></tbody></table>
    <h2>Recent alerts</h2>
    <table><thead><tr><th>emitted (UTC)</th><th>account</th><th>rule</th><th>score</th><th>severity</th><th>gang</th><th>alert id</th></tr></thead>
    <tbody id="alerts"></tbody></table>
    <h2>Gangs (<span id="gang-count">0</span> alive)</h2>
    <table><thead><tr><th>gang</th><th>size</th><th>volume</th><th>members</th></tr></thead><tbody id="gangs"></tbody></table>
    <script>
    "use strict";
    const $ = id => document.getElementById(id);
    const fmt = n => n == null ? "–" : Number(n).toLocaleString("en-US");
    function bytes(n) {
      const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0;
      while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
      return (i ? n.toFixed(1) : n) + " " + u[i];
    }
    function row(cells, cls) {
      const tr = document.createElement("tr");
      if (cls) tr.className = cls;
      for (const c of cells) {
        const td = document.createElement("td");
        td.textContent = c.text;
        if (c.num) td.className = "num";
        tr.appendChild(td);
      }
      return tr;
    }
    function fill(id, rows, empty, cols) {
      const body = $(id);
      body.replaceChildren(...rows);
      if (!rows.length) body.appendChild(row([{ text: empty }].concat(Array(cols - 1).fill({ text: "" })), "muted"));
    }
    function draw(s) {
      $("phase").textContent = s.phase;
      $("phase").className = "badge " + (s.ready ? "ready" : "not-ready");
      $("reason").textContent = s.reason;
      $("rule-set").textContent = s.rule_set + " (" + s.rules.join(", ") + ")";
      $("updated").textContent = s.updated_at ? new Date(s.updated_at).toISOString() : "–";
      $("events-consumed").textContent = fmt(s.events_consumed);
      $("events-per-second").textContent = fmt(Math.round(s.events_per_second));
      $("total-lag").textContent = fmt(s.total_lag);
      $("alerts-published").textContent = fmt(s.alerts_published) + (s.shadow_alerts_published ? " +" + fmt(s.shadow_alerts_published) + " shadow" : "");
      $("dead-lettered").textContent = fmt(s.dead_lettered);
      $("late-duplicates").textContent = fmt(s.late) + " / " + fmt(s.duplicates);
      $("accounts-tracked").textContent = fmt(s.accounts_tracked);
      $("state-bytes").textContent = bytes(s.state_bytes);
      $("checkpoint-age").textContent = s.checkpoint_age_seconds == null ? "none yet" : s.checkpoint_age_seconds.toFixed(1) + " s";
      fill("lag", s.lag.map(l => row([{ text: String(l.partition) }, { text: fmt(l.lag), num: true }])), "no partitions assigned", 2);
      fill("alerts", s.recent_alerts.map(a => {
        const r = row([{ text: new Date(a.emitted_at).toISOString().slice(11, 19) }, { text: a.account },
          { text: a.rule + "@" + a.rule_version + (a.mode === "shadow" ? " (shadow)" : "") + (a.snoozed ? " (snoozed)" : "") },
          { text: a.score.toFixed(3), num: true }, { text: a.severity }, { text: a.gang || "" }, { text: a.alert_id }],
          a.snoozed ? "snoozed" : (a.mode === "shadow" ? "shadow" : ""));
        r.dataset.alertId = a.alert_id;
        return r;
      }), "no alerts yet", 7);
      $("gang-count").textContent = fmt(s.gang_count);
      fill("gangs", s.gangs.map(g => row([{ text: g.id }, { text: String(g.size), num: true }, { text: g.volume, num: true },
        { text: g.members.join(", ") + (g.size > g.members.length ? ", …" : "") }])), "no gangs alive", 4);
    }
    async function refresh() {
      try {
        const r = await fetch("/api/status", { cache: "no-store" });
        if (!r.ok) throw new Error("HTTP " + r.status);
        draw(await r.json());
        $("error").textContent = "";
      } catch (e) {
        $("error").textContent = "(engine unreachable: " + e.message + ")";
      }
      setTimeout(refresh, 1000);
    }
    refresh();
    </script>
    </body></html>
    """
}
