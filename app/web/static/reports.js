// Draws a report's chart with ECharts from the JSON the page embeds (the same JSON the API
// returns): bar, stacked bar, line, pie, donut or a KPI number.
(function () {
  const holder = document.getElementById("chart");
  const source = document.getElementById("report-data");
  if (!holder || !source || !window.echarts) return;
  const data = JSON.parse(source.textContent);
  const chart = data.chart || {};
  const rows = data.rows.filter((row) => row.level === 0);
  const label = (name) => (data.columns.find((c) => c.name === name) || {}).label || name;
  const number = (value) => (value === null || value === undefined ? null : Number(value));
  const instance = echarts.init(holder);
  let option;
  if (chart.type === "kpi") {
    const first = (chart.y || [])[0];
    const value = data.totals ? data.totals.values[first] : rows.length ? rows[0].values[first] : "–";
    holder.innerHTML = `<div class="kpi"><div class="kpi-value">${value ?? "–"}</div><div class="kpi-label">${label(first)}</div></div>`;
    return;
  }
  if (chart.type === "pie" || chart.type === "donut") {
    const y = (chart.y || [])[0];
    option = {
      tooltip: { trigger: "item" },
      legend: { bottom: 0, type: "scroll" },
      series: [{
        type: "pie",
        radius: chart.type === "donut" ? ["45%", "70%"] : "70%",
        data: rows.map((row) => ({ name: row.values[chart.x], value: number(row.values[y]) })),
      }],
    };
  } else {
    const categories = [...new Set(rows.map((row) => row.values[chart.x]))];
    const stacked = chart.type === "stacked_bar";
    const type = chart.type === "line" ? "line" : "bar";
    let series;
    const pivotColumns = data.columns.filter((c) => c.name.includes("·") && !c.name.startsWith("total·"));
    if (pivotColumns.length) {
      series = pivotColumns.map((column) => ({
        name: column.label, type, stack: stacked ? "all" : undefined,
        data: categories.map((x) => number((rows.find((r) => r.values[chart.x] === x) || { values: {} }).values[column.name])),
      }));
    } else {
      series = (chart.y || []).map((y) => ({
        name: label(y), type, stack: stacked ? "all" : undefined,
        data: categories.map((x) => number((rows.find((r) => r.values[chart.x] === x) || { values: {} }).values[y])),
      }));
    }
    option = {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 48, right: 16, top: 16, bottom: 56 },
      xAxis: { type: "category", data: categories },
      yAxis: { type: "value" },
      series,
    };
  }
  instance.setOption(option);
  window.addEventListener("resize", () => instance.resize());
})();
