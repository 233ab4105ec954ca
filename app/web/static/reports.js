// Draws report charts with ECharts from the JSON the report API returns: bar, stacked bar,
// line, pie, donut or a KPI number. Used by report pages and by dashboard cards.
window.lianku = window.lianku || {};
lianku.drawReport = function (holder, data, chart) {
  chart = chart || data.chart || {};
  const rows = data.rows.filter((row) => row.level === 0);
  const label = (name) => (data.columns.find((c) => c.name === name) || {}).label || name;
  const number = (value) => (value === null || value === undefined ? null : Number(value));
  const escape = (text) => String(text ?? "–").replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const y = chart.y || data.columns.filter((c) => c.kind === "measure").map((c) => c.name);
  if (chart.type === "kpi") {
    const first = y[0];
    const value = data.totals ? data.totals.values[first] : rows.length ? rows[0].values[first] : null;
    holder.innerHTML = `<div class="kpi"><div class="kpi-value">${escape(value)}</div>` +
      `<div class="kpi-label">${escape(label(first))}</div></div>`;
    return;
  }
  const x = chart.x || (data.columns.find((c) => c.kind === "dimension") || {}).name;
  let option;
  if (chart.type === "pie" || chart.type === "donut") {
    option = {
      tooltip: { trigger: "item" },
      legend: { bottom: 0, type: "scroll" },
      series: [{
        type: "pie",
        radius: chart.type === "donut" ? ["45%", "70%"] : "70%",
        data: rows.map((row) => ({ name: row.values[x], value: number(row.values[y[0]]) })),
      }],
    };
  } else {
    const categories = [...new Set(rows.map((row) => row.values[x]))];
    const stacked = chart.type === "stacked_bar";
    const type = chart.type === "line" ? "line" : "bar";
    const pivot = data.columns.filter((c) => c.name.includes("·") && !c.name.startsWith("total·"));
    const series = (pivot.length ? pivot : y.map((name) => ({ name, label: label(name) })))
      .map((column) => ({
        name: column.label, type, stack: stacked ? "all" : undefined,
        data: categories.map((value) => {
          const row = rows.find((r) => r.values[x] === value);
          return row ? number(row.values[column.name]) : null;
        }),
      }));
    option = {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 48, right: 16, top: 16, bottom: 56 },
      xAxis: { type: "category", data: categories },
      yAxis: { type: "value" },
      series,
    };
  }
  const instance = echarts.getInstanceByDom(holder) || echarts.init(holder);
  instance.setOption(option, true);
  window.addEventListener("resize", () => instance.resize());
};

// A report page: the data is embedded in the page.
(function () {
  const holder = document.getElementById("chart");
  const source = document.getElementById("report-data");
  if (holder && source && window.echarts) lianku.drawReport(holder, JSON.parse(source.textContent));
})();

// Dashboard cards: each fetches its report and redraws every data-refresh seconds.
(function () {
  document.querySelectorAll("[data-report-url]").forEach((card) => {
    const holder = card.querySelector(".card-chart");
    const chart = { type: card.dataset.chart };
    const load = () => fetch(card.dataset.reportUrl, { headers: { Accept: "application/json" } })
      .then((response) => response.json())
      .then((data) => {
        if (!data.rows) throw new Error(JSON.stringify(data));
        lianku.drawReport(holder, data, { ...(data.chart || {}), ...chart });
        card.dataset.loaded = String(Number(card.dataset.loaded || 0) + 1);
      })
      .catch(() => { holder.textContent = card.dataset.errorText; });
    load();
    const seconds = Number(card.dataset.refresh || 0);
    if (seconds) setInterval(load, seconds * 1000);
  });
})();
